//! Secrets (passwords) registered once, scrubbed from every message we print.
//!
//! URLs have one display path (`DbUrl`'s `Display`), but driver errors can echo
//! connection strings; this is the net under that.

use std::sync::{Mutex, PoisonError};

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

pub const MASK: &str = "***";

/// Remembers a secret so `scrub` removes it from any text.
pub fn register(secret: &str) {
    if secret.is_empty() {
        return;
    }
    let mut secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_owned());
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every registered secret (raw or percent-encoded) replaced by `***`.
pub fn scrub(text: &str) -> String {
    let secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    let mut out = text.to_owned();
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        if encoded != *secret && out.contains(&encoded) {
            out = out.replace(&encoded, MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_raw_and_encoded() {
        register("s3cr3t/pa ss");
        let text = "failed for postgres://u:s3cr3t%2Fpa+ss@h/db and s3cr3t/pa ss";
        let out = scrub(text);
        assert!(!out.contains("s3cr3t"), "{out}");
    }
}
