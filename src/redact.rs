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

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

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
    const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    forms.push(utf8_percent_encode(secret, UNRESERVED).to_string());
    // What the url crate writes in a userinfo.
    if let Ok(mut u) = url::Url::parse("x://u@h")
        && u.set_password(Some(secret)).is_ok()
        && let Some(p) = u.password()
    {
        forms.push(p.to_owned());
    }
    // As it is printed when it holds control characters, and inside a JSON string.
    forms.push(crate::untrusted::for_terminal(secret).into_owned());
    if let Ok(json) = serde_json::to_string(secret) {
        forms.push(json[1..json.len() - 1].to_owned());
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

/// Characters that end a URL inside free text. Not other control characters: a
/// password holding ESC or NUL stays inside its URL and is masked with it (what is
/// printed escapes them afterwards).
fn ends_token(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\'' | '"' | '`' | '<' | '>')
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
        return if unparsed { MASK.to_owned() } else { raw.to_owned() };
    };
    let scheme = &raw[..colon];
    if !is_scheme(scheme) {
        // Not a URL at all (`S3cr3t@host:5432/db`): nothing of it says what is what.
        return if unparsed { MASK.to_owned() } else { raw.to_owned() };
    }
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
    if !known && unparsed && sep.is_empty() {
        // `user:password@host`, or a password holding ':': nothing says what stands
        // before the ':'. Only what follows the last '@' (a host) shows.
        return match raw.rfind('@') {
            Some(at) => format!("{MASK}{}", hide(&raw[at..], query_secrets(&raw[at..]))),
            None => MASK.to_owned(),
        };
    }
    // A URL that may not parse is read both ways and what either way calls secret is
    // hidden: a password with an unencoded '@', '?', '#' or '/' pushes the userinfo to
    // the last '@', and an '@' inside a query value must not expose that value.
    let mut hidden = query_secrets(body);
    if let Some(span) = userinfo_secret(body, known || unparsed, unparsed && !known, sep.is_empty()) {
        hidden.push(span);
    }
    format!("{scheme}:{sep}{}", hide(body, hidden))
}

/// `text` with the byte ranges `hidden` (overlapping or not) each replaced by [`MASK`].
fn hide(text: &str, mut hidden: Vec<(usize, usize)>) -> String {
    hidden.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end) in hidden {
        if end <= copied {
            continue;
        }
        if start >= copied {
            out.push_str(&text[copied..start]);
            out.push_str(MASK);
        }
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The part of `body` (what follows `scheme:` or `scheme://`) before the userinfo's
/// `@` that may be a password, as a byte range. `last_at`: the userinfo ends at the
/// last '@' (database schemes, values that did not parse), else at the first one
/// before the path (`https://medium.com/@user`). A plain user name (`app` of
/// `app:…@`) stays; without `//`, or when what precedes ':' is no plain name,
/// everything before the '@' goes, and with `hide_user` a lone user name too.
fn userinfo_secret(body: &str, last_at: bool, hide_user: bool, no_slashes: bool) -> Option<(usize, usize)> {
    let at = if last_at {
        body.rfind('@')?
    } else {
        let authority_end = body.find(['/', '?', '#']).unwrap_or(body.len());
        body[..authority_end].rfind('@')?
    };
    let userinfo = &body[..at];
    let plain = |u: &str| !u.contains(['/', '?', '#', '&', '=', '@']);
    match userinfo.split_once(':') {
        _ if no_slashes => Some((0, at)),
        Some((user, _)) if plain(user) => Some((user.len() + 1, at)),
        Some(_) => Some((0, at)),
        // `postgres://app@host`: a user name (but text that did not parse under an
        // unknown scheme may hold anything before '@').
        None if plain(userinfo) && !hide_user => None,
        None => Some((0, at)),
    }
}

/// Byte ranges of the values of `password=`-like parameters anywhere in `body`,
/// after any '?' or '&' (a password may hold an unencoded '?' before the query). A
/// value runs to the next `&NAME=`, so an unencoded '&' in it does not cut it short.
fn query_secrets(body: &str) -> Vec<(usize, usize)> {
    let bytes = body.as_bytes();
    // Where each `[?&]NAME=` starts, with the name's end (its '=').
    let params: Vec<(usize, usize)> = (0..bytes.len())
        .filter(|&i| matches!(bytes[i], b'?' | b'&'))
        .filter_map(|i| {
            let len = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
                .count();
            (len > 0 && bytes.get(i + 1 + len) == Some(&b'=')).then_some((i, i + 1 + len))
        })
        .collect();
    let mut out = Vec::new();
    for (n, &(start, eq)) in params.iter().enumerate() {
        if is_secret_name(&body[start + 1..eq]) {
            let end = params[n + 1..].iter().find(|(s, _)| bytes[*s] == b'&').map_or(body.len(), |(s, _)| *s);
            out.push((eq + 1, end));
        }
    }
    out
}

/// `[A-Za-z][A-Za-z0-9+.-]*`: what may stand before the `:` of a URL.
fn is_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Names (of query parameters, environment variables) whose values are secrets.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["password", "passwd", "pwd", "secret", "token", "credential"].iter().any(|w| n.contains(w))
}

/// A configured value that is meant to be a URL (a database URL, an endpoint), the
/// one way messages show it: masked by structure alone, before any message is built.
/// Everything between the scheme and the last `@` is hidden unless it is a plain
/// `scheme://user:` (then the user shows), `password=`-like query values are hidden,
/// and a value with no scheme at all is not shown (it may be a password typed into
/// the wrong place). Control characters come out escaped.
pub fn mask_value(raw: &str) -> String {
    if raw.trim().contains(['\n', '\r']) {
        // No URL spans lines: an unclosed quote in a .env file swallows the lines
        // after it (other variables, other secrets) into this value.
        return MASK.to_owned();
    }
    let masked = mask(raw.trim(), true);
    crate::untrusted::for_terminal(&masked).into_owned()
}

/// Registers what could be a password in a URL-like `raw` value (the userinfo after
/// the user name, all of it when the URL has no `//`, `password=`-like query values),
/// so free text quoting it is masked too (see [`register`]).
pub fn register_url_secrets(raw: &str) {
    let Some(colon) = raw.find(':') else { return };
    if !is_scheme(&raw[..colon]) {
        return;
    }
    let after = &raw[colon + 1..];
    let (slashes, body) = match after.strip_prefix("//") {
        Some(b) => (true, b),
        None => (false, after),
    };
    if let Some(at) = body.rfind('@') {
        let userinfo = &body[..at];
        match userinfo.split_once(':') {
            Some((_, password)) if slashes => register(password),
            _ if !slashes => register(userinfo),
            _ => {}
        }
    }
    if let Some((_, query)) = body.split_once('?') {
        for pair in query.split('&') {
            if let Some((k, v)) = pair.split_once('=')
                && is_secret_name(k)
            {
                register(v);
            }
        }
    }
}

/// `message` (a parser's) with every `` `quoted` `` span that is not a plain name
/// masked as a value: TOML quotes the keys it does not know, and a key may be anything,
/// a URL with its password included.
pub fn mask_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('`');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        out.push('`');
        let inside = i % 2 == 0;
        let plain = part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if inside && !plain {
            out.push_str(&mask_value(part));
        } else {
            out.push_str(part);
        }
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
            ("postgres:user:S3cr3t@host:5432/db", "postgres:***@host:5432/db"),
            ("postgres:S3cr3t-Pw@127.0.0.1:5432/db", "postgres:***@127.0.0.1:5432/db"),
            ("postgres://u:p\u{1b}[2Jw\0d@h/db", "postgres://u:***@h/db"),
            ("postgres://h/db?sslpassword=k3y&token=t0k", "postgres://h/db?sslpassword=***&token=***"),
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
        assert_eq!(mask_unparsed("user:secret@host/db"), "***@host/db");
        assert_eq!(mask_unparsed("S3cr3t@host:5432/db"), MASK);
        assert_eq!(mask_value("S3cr3t"), MASK);
        assert_eq!(mask_value("postgres://app@h/db"), "postgres://app@h/db");
        assert_eq!(mask_value(" postgres://a\u{1b}b@h/db "), "postgres://a\\u{1b}b@h/db");
        assert_eq!(mask_unparsed("http://u:pa/ss@h"), "http://u:***@h");
    }

    #[test]
    fn urls_in_free_text() {
        let text = "error: unexpected argument 'postgres://u:pw@h/db' found; try --database-url=postgres:u:pw@h/db";
        let out = mask_urls(text);
        assert_eq!(
            out,
            "error: unexpected argument 'postgres://u:***@h/db' found; try --database-url=postgres:***@h/db"
        );
        // A password holding control characters stays in its URL's token.
        assert_eq!(mask_urls("x postgres://u:S3c\0r\u{1b}t@h/db y"), "x postgres://u:***@h/db y");
        assert_eq!(mask_urls("postgresql is fine: see x@y"), "postgresql is fine: see x@y");
    }

    /// r21.3: a generated corpus of malformed URL-like values: whatever the shape, no
    /// part of the password survives `mask_value`, and nothing panics.
    #[test]
    fn malformed_url_corpus_never_shows_a_password() {
        let mut checked = 0;
        for (pw, halves) in password_corpus() {
            for value in url_corpus(&pw) {
                let shown = mask_value(&value);
                for half in &halves {
                    assert!(!shown.contains(half.as_str()), "{value:?} shows {half:?}: {shown}");
                }
                assert!(!shown.chars().any(char::is_control), "{value:?}: {shown:?}");
                checked += 1;
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    /// Passwords made of two distinctive halves around a character that breaks naive
    /// parsing; the halves are what must never show.
    pub(crate) fn password_corpus() -> Vec<(String, Vec<String>)> {
        let seps = [
            "", "@", "#", "/", "?", ":", " ", "\0", "\u{1b}", "\u{7f}", "%", "%40", "&", "=", "\\", "'", "\"", "\n",
            "é", "\u{202e}",
        ];
        seps.iter().map(|s| (format!("Zq7{s}Pw9x"), vec!["Zq7".to_owned(), "Pw9x".to_owned()])).collect()
    }

    /// URL-like values holding `pw` where a password could stand, in many shapes.
    pub(crate) fn url_corpus(pw: &str) -> Vec<String> {
        let schemes =
            ["postgres", "postgresql", "POSTGRES", "mysql", "mariadb", "sqlite", "pg", "http", "s3", "x+y.z-1"];
        let mut out = Vec::new();
        for s in schemes {
            for shape in [
                format!("{s}://app:{pw}@127.0.0.1:1/d"),
                format!("{s}:app:{pw}@127.0.0.1:1/d"),
                format!("{s}:{pw}@127.0.0.1:1/d"),
                format!("{s}:/app:{pw}@h/d"),
                format!("{s}:///d?password={pw}"),
                format!("{s}://h/d?sslmode=require&password={pw}&x=1"),
                format!("{s}://h/d?PASSWORD={pw}"),
                format!("{s}://app:{pw}@h@h2/d"),
                format!("{s}://app:{pw}@h/d#frag"),
                format!("{s}://app:{pw}@[::1/d"),
                format!("{s}://app:{pw}@h:99999/d"),
                format!("{s}://app:{pw}@h/d@x"),
                format!("  {s}://app:{pw}@h/d  "),
            ] {
                out.push(shape);
            }
        }
        out.extend([
            format!("{pw}@127.0.0.1:5432/db"),
            format!("app:{pw}@h/d"),
            format!("//app:{pw}@h/d"),
            format!("postgres//app:{pw}@h/d"),
            format!("post gres://app:{pw}@h/d"),
            format!("1x://app:{pw}@h/d"),
            format!(":{pw}@h"),
            pw.to_owned(),
        ]);
        out
    }

    #[test]
    fn quoted_names_in_parser_messages() {
        assert_eq!(
            mask_quoted("unknown field `postgres://u:Zq7'Pw9x@h/d`, expected one of `database-url`, `bulk`"),
            "unknown field `postgres://u:***@h/d`, expected one of `database-url`, `bulk`"
        );
        assert_eq!(mask_quoted("unknown field `Zq7 Pw9x`"), "unknown field `***`");
        assert_eq!(mask_quoted("no quotes"), "no quotes");
        assert_eq!(mask_value("postgres://u:p@h/d\nAPP_TOKEN=Zq7Pw9x"), MASK);
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
