//! `seed completions SHELL` and `seed man [--dir DIR]`, generated from the clap
//! definitions so they never drift from `--help`. Neither reads settings: they work
//! with a broken `.env`, `seed.toml` or `DATABASE_URL`.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::{Error, code};

pub fn completions(args: &CompletionsArgs) -> Result<u8, Error> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "seed", &mut out);
    let script = String::from_utf8(out).map_err(|_| Error::Internal("a completion script is not UTF-8".into()))?;
    write_stdout(with_snapshot_names(args.shell, script).as_bytes())
}

/// The snapshot commands whose arguments name snapshots (`prune` takes none).
const NAMING: &str = "create restore list show verify diff profile mask delete push pull";

/// `script` taught to offer the snapshot names where a command takes one: clap's
/// scripts know only the command line, so a small function asks `seed snapshot list
/// --names` (file names only, nothing read or printed on failure), with the
/// `--snapshot-dir` typed on the line if there is one.
fn with_snapshot_names(shell: clap_complete::Shell, script: String) -> String {
    use clap_complete::Shell;
    match shell {
        Shell::Bash => format!("{script}{}", BASH.replace("NAMING", &NAMING.replace(' ', "|"))),
        Shell::Zsh => {
            // Positional NAME arguments of snapshot commands (not prepare's new name).
            let lines: Vec<String> = script
                .lines()
                .map(|l| {
                    let naming =
                        ["':name -- ", "'::name -- ", "':name_a -- ", "':name_b -- "].iter().any(|p| l.starts_with(p))
                            && !l.contains("prepared state");
                    if naming { l.replace(":_default' \\", ":_seed_snapshot_names' \\") } else { l.to_owned() }
                })
                .collect();
            let text = lines.join("\n") + "\n";
            let tail = "if [ \"$funcstack[1]\" = \"_seed\" ]; then";
            match text.rfind(tail) {
                Some(at) => format!("{}{ZSH}\n{}", &text[..at], &text[at..]),
                None => text,
            }
        }
        Shell::Fish => format!("{script}{}", FISH.replace("NAMING", NAMING)),
        _ => script,
    }
}

const BASH: &str = r#"
_seed_snapshot_names() {
    local i dir=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            --snapshot-dir) dir=(--snapshot-dir "${COMP_WORDS[i+1]}") ;;
            --snapshot-dir=*) dir=("${COMP_WORDS[i]}") ;;
        esac
    done
    "${COMP_WORDS[0]}" "${dir[@]}" snapshot list --names 2>/dev/null
}

_seed_with_snapshot_names() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" i at=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        if [[ "${COMP_WORDS[i]}" == snapshot ]]; then at=$i; break; fi
    done
    if ((at > 0 && COMP_CWORD > at + 1)) && [[ "$cur" != -* && "$prev" != -* ]]; then
        case "${COMP_WORDS[at+1]}" in
            NAMING)
                COMPREPLY=($(compgen -W "$(_seed_snapshot_names)" -- "$cur"))
                return 0
                ;;
        esac
    fi
    _seed "$@"
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _seed_with_snapshot_names -o nosort -o bashdefault -o default seed
else
    complete -F _seed_with_snapshot_names -o bashdefault -o default seed
fi
"#;

const ZSH: &str = r#"(( $+functions[_seed_snapshot_names] )) ||
_seed_snapshot_names() {
    local -a names dir
    local i
    for (( i = 2; i < CURRENT; i++ )); do
        case $words[i] in
            --snapshot-dir) dir=(--snapshot-dir $words[i+1]) ;;
            --snapshot-dir=*) dir=($words[i]) ;;
        esac
    done
    names=(${(f)"$($words[1] $dir snapshot list --names 2>/dev/null)"})
    _describe -t snapshots 'snapshot' names
}
"#;

const FISH: &str = r#"
function __seed_snapshot_names
    set -l tokens (commandline -opc)
    set -l dir
    for i in (seq (count $tokens))
        if test "$tokens[$i]" = --snapshot-dir; and test $i -lt (count $tokens)
            set dir --snapshot-dir $tokens[(math $i + 1)]
        end
    end
    $tokens[1] $dir snapshot list --names 2>/dev/null
end
complete -c seed -n "__fish_seen_subcommand_from snapshot; and __fish_seen_subcommand_from NAMING" -f -a "(__seed_snapshot_names)"
"#;

pub fn man(args: &ManArgs) -> Result<u8, Error> {
    let Some(dir) = &args.dir else {
        let mut out = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut out)
            .map_err(|e| Error::Internal(format!("cannot render the man page: {e}")))?;
        return write_stdout(&out);
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    clap_mangen::generate_to(Cli::command(), dir).map_err(|e| Error::io("write man pages into", dir, e))?;
    let pages = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "1")).count())
        .unwrap_or(0);
    eprintln!("wrote {pages} man pages to {}", dir.display());
    Ok(code::OK)
}

/// Writes `bytes` to stdout; a closed pipe (`seed man | head`) is not an error.
fn write_stdout(bytes: &[u8]) -> Result<u8, Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(code::OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(code::OK),
        Err(e) => Err(Error::io("write", "stdout", e)),
    }
}
