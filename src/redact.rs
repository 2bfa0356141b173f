//! Keeping secrets out of everything we print.
//!
//! Two nets, in this order:
//! 1. By structure: anything in a text that looks like a URL (`scheme://…`, or a
//!    database scheme without `//`) has its userinfo password and `password=` query
//!    values replaced by `***`, whatever their length. This needs no registry.
//! 2. By value: secrets registered once (URL passwords, `PGPASSWORD`, service-file
//!    passwords) are searched for in free text such as a driver's message, but only
//!    when they are long enough not to match ordinary text, and only as whole words
//!    (never inside a longer word), raw or percent-encoded.

use std::sync::{Mutex, PoisonError};

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

pub const MASK: &str = "***";

/// Shorter secrets are masked only by structure: searching free text for `p` or `pw`
/// would mask ordinary words (`attem***t(s)`).
pub const MIN_SECRET_CHARS: usize = 6;

/// Schemes whose URLs may be written without `//` (`postgres:user:pw@host/db`).
const DB_SCHEMES: &[&str] = &["postgres", "postgresql", "mysql", "mariadb", "sqlite"];

/// Remembers a secret so `scrub` removes it from free text (ignored when too short).
pub fn register(secret: &str) {
    if secret.chars().count() < MIN_SECRET_CHARS {
        return;
    }
    let mut secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    for form in encoded_forms(secret) {
        if !secrets.contains(&form) {
            secrets.push(form);
        }
    }
    // Longest first, so a secret containing another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with URL credentials masked by structure and every registered secret that
/// stands as a whole word replaced by `***`.
pub fn scrub(text: &str) -> String {
    let mut out = mask_urls(text);
    let secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = replace_whole(&out, secret);
        }
    }
    out
}

/// The raw secret and the ways a URL or a driver may have percent-encoded it.
fn encoded_forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    forms.push(form);
    // Everything but unreserved characters encoded (what sqlx writes back).
    let mut strict = String::new();
    for b in secret.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            strict.push(char::from(b));
        } else {
            strict.push_str(&format!("%{b:02X}"));
        }
    }
    forms.push(strict);
    // What the url crate writes in a userinfo.
    if let Ok(mut u) = url::Url::parse("x://u@h")
        && u.set_password(Some(secret)).is_ok()
        && let Some(p) = u.password()
    {
        forms.push(p.to_owned());
    }
    forms.sort();
    forms.dedup();
    forms.retain(|f| f.chars().count() >= MIN_SECRET_CHARS);
    forms
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Replaces occurrences of `secret` that do not continue a word on either side.
fn replace_whole(text: &str, secret: &str) -> String {
    let starts_word = secret.chars().next().is_some_and(is_word);
    let ends_word = secret.chars().next_back().is_some_and(is_word);
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut from) = (0, 0);
    while let Some(i) = text[from..].find(secret) {
        let start = from + i;
        let end = start + secret.len();
        let before_ok = !starts_word || text[..start].chars().next_back().is_none_or(|c| !is_word(c));
        let after_ok = !ends_word || text[end..].chars().next().is_none_or(|c| !is_word(c));
        if before_ok && after_ok {
            out.push_str(&text[copied..start]);
            out.push_str(MASK);
            copied = end;
            from = end;
        } else {
            // Step one character and look again (a later occurrence may stand alone).
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Characters that end a URL inside free text.
fn ends_token(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '\'' | '"' | '`' | '<' | '>')
}

/// Every URL-looking token in `text` masked with [`mask_url`]; other text unchanged.
pub fn mask_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let token_end = rest.find(ends_token).unwrap_or(rest.len());
        if token_end == 0 {
            let c = rest.chars().next().map_or(1, char::len_utf8);
            out.push_str(&rest[..c]);
            rest = &rest[c..];
            continue;
        }
        let token = &rest[..token_end];
        match url_start(token) {
            Some(start) => {
                out.push_str(&token[..start]);
                out.push_str(&mask_url(&token[start..]));
            }
            None => out.push_str(token),
        }
        rest = &rest[token_end..];
    }
    out
}

/// Where a URL starts inside a token: a scheme followed by `://`, or a database
/// scheme followed by `:` (the form missing `//`).
fn url_start(token: &str) -> Option<usize> {
    if let Some(sep) = token.find("://") {
        let scheme_start = token[..sep]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(sep, |(i, _)| i);
        return Some(scheme_start);
    }
    let lower = token.to_ascii_lowercase();
    DB_SCHEMES
        .iter()
        .filter_map(|s| {
            let at = lower.find(&format!("{s}:"))?;
            // A scheme starts the token or follows punctuation (`--database-url=postgres:`).
            let starts = lower[..at].chars().next_back().is_none_or(|c| !c.is_ascii_alphanumeric());
            (starts && token.contains('@')).then_some(at)
        })
        .min()
}

/// One URL with its password (userinfo and `*password=` query values) masked, judged
/// by structure alone, so it also works on URLs that do not parse. Under a database
/// scheme the userinfo ends at the *last* `@`, so a password holding `@`, `#`, `/` or
/// `?` is masked whole; under other schemes (`https://medium.com/@user`) it ends at the
/// first `@` before the path, as the URL standard has it.
pub fn mask_url(raw: &str) -> String {
    mask(raw, false)
}

/// Like [`mask_url`], for text that failed to parse as a database URL: the last `@`
/// ends the userinfo whatever the scheme, and under an unknown scheme a userinfo
/// without `:` is hidden too (`user:secret@host` read as scheme `user`).
pub fn mask_unparsed(raw: &str) -> String {
    mask(raw, true)
}

fn mask(raw: &str, unparsed: bool) -> String {
    let Some(colon) = raw.find(':') else {
        return raw.to_owned();
    };
    let scheme = &raw[..colon];
    let known = DB_SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme));
    let after = &raw[colon + 1..];
    let (sep, body) = match after.strip_prefix("//") {
        Some(b) => ("//", b),
        None => ("", after),
    };
    if !known && !unparsed && sep.is_empty() {
        // `note:` or `error: x@y`: not a URL.
        return raw.to_owned();
    }
    let at = if known || unparsed {
        body.rfind('@')
    } else {
        let authority_end = body.find(['/', '?', '#']).unwrap_or(body.len());
        body[..authority_end].rfind('@')
    };
    let mut out = format!("{scheme}:{sep}");
    let rest = match at {
        Some(at) => {
            let userinfo = &body[..at];
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(MASK);
                }
                // `postgres://app@host`: a user name. Text that did not parse under an
                // unknown scheme may hold anything before `@`: hide it.
                None if unparsed && !known => out.push_str(MASK),
                None => out.push_str(userinfo),
            }
            &body[at..]
        }
        None => body,
    };
    match rest.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.to_ascii_lowercase().ends_with("password") => format!("{k}={MASK}"),
                    _ => pair.to_owned(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
        }
        None => out.push_str(rest),
    }
    out
}

/// Registers the password of every argument that holds a URL (userinfo up to the last
/// `@`), so that renderings this module does not see whole still mask it.
pub fn register_arg_secrets(args: &[String]) {
    for arg in args {
        let Some(start) = url_start(arg) else { continue };
        let url = &arg[start..];
        let Some(colon) = url.find(':') else { continue };
        let body = url[colon + 1..].trim_start_matches('/');
        if let Some(at) = body.rfind('@')
            && let Some((_, password)) = body[..at].split_once(':')
        {
            register(password);
        }
    }
}

/// Arguments that carry credentials, masked wherever they are echoed in `text` (an
/// argument parser's error quotes the argument as typed, spaces and all).
pub fn mask_args(text: &str, args: &[String]) -> String {
    let mut out = text.to_owned();
    for arg in args {
        // The whole argument from where its URL starts: a password may hold spaces.
        let masked = match url_start(arg) {
            Some(start) => format!("{}{}", &arg[..start], mask_url(&arg[start..])),
            None => continue,
        };
        if masked != *arg && out.contains(arg.as_str()) {
            out = out.replace(arg.as_str(), &masked);
        }
    }
    scrub(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_raw_and_encoded() {
        register("s3cr3t/pa ss");
        let text = "failed for postgres://u:s3cr3t%2Fpa+ss@h/db and s3cr3t/pa ss and s3cr3t%2Fpa%20ss";
        let out = scrub(text);
        assert!(!out.contains("s3cr3t"), "{out}");
    }

    #[test]
    fn short_secrets_are_not_searched_for() {
        register("p");
        register("pw");
        let text = "1 attempt(s), snapshots, pw";
        assert_eq!(scrub(text), text);
    }

    #[test]
    fn never_masks_inside_words() {
        register("Tr0ub4dor");
        assert_eq!(scrub("xTr0ub4dor Tr0ub4dory Tr0ub4dor."), "xTr0ub4dor Tr0ub4dory ***.");
        assert_eq!(scrub("pw=Tr0ub4dor;"), "pw=***;");
        // A later whole-word occurrence after a rejected one.
        assert_eq!(scrub("aTr0ub4dor Tr0ub4dor"), "aTr0ub4dor ***");
        // Punctuation at a secret's edge needs no boundary.
        register("#hunter-22");
        assert_eq!(scrub("x#hunter-22 y"), "x*** y");
    }

    #[test]
    fn multibyte_text_is_safe() {
        register("Пароль-секрет");
        assert_eq!(scrub("é Пароль-секрет é"), "é *** é");
        assert_eq!(scrub("ééé postgres://ü:é@h/ü"), "ééé postgres://ü:***@h/ü");
    }

    #[test]
    fn urls_are_masked_by_structure() {
        for (raw, masked) in [
            ("postgres://app:hunter2@host/db", "postgres://app:***@host/db"),
            ("postgres://app:p@ss#w0rd@host/db", "postgres://app:***@host/db"),
            ("postgres:user:S3cr3t@host:5432/db", "postgres:user:***@host:5432/db"),
            ("postgres://u:pa/ss?x@h/db", "postgres://u:***@h/db"),
            ("postgres://app@host/db", "postgres://app@host/db"),
            (
                "postgres://host/db?sslmode=require&password=pw&x=1",
                "postgres://host/db?sslmode=require&password=***&x=1",
            ),
            ("sqlite://seed.db", "sqlite://seed.db"),
            ("no url here", "no url here"),
            ("https://medium.com/@user/post", "https://medium.com/@user/post"),
            ("https://u:tok3n@github.com/x@y", "https://u:***@github.com/x@y"),
        ] {
            assert_eq!(mask_url(raw), masked, "{raw}");
        }
        assert_eq!(mask_unparsed("user:secret@host/db"), "user:***@host/db");
        assert_eq!(mask_unparsed("http://u:pa/ss@h"), "http://u:***@h");
    }

    #[test]
    fn urls_in_free_text() {
        let text = "error: unexpected argument 'postgres://u:pw@h/db' found; try --database-url=postgres:u:pw@h/db";
        let out = mask_urls(text);
        assert_eq!(
            out,
            "error: unexpected argument 'postgres://u:***@h/db' found; try --database-url=postgres:u:***@h/db"
        );
        assert_eq!(mask_urls("postgresql is fine: see x@y"), "postgresql is fine: see x@y");
    }

    #[test]
    fn argument_passwords_are_registered() {
        register_arg_secrets(&["seed".into(), "--database-url=postgres://u:Arg Secret 1@h/db".into()]);
        assert_eq!(scrub("'postgres://u:Arg Secret 1@h/db'"), "'postgres://u:***@h/db'");
        assert_eq!(scrub("{\"message\":\"x Arg Secret 1\"}"), "{\"message\":\"x ***\"}");
    }

    #[test]
    fn echoed_arguments_with_spaces() {
        let args = vec!["seed".to_owned(), "postgres://u:pa ss word@h/db".to_owned()];
        let out = mask_args("unexpected argument 'postgres://u:pa ss word@h/db' found", &args);
        assert_eq!(out, "unexpected argument 'postgres://u:***@h/db' found");
    }
}
