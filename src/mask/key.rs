//! The masking key: where it comes from, and the keyed functions derived from it.
//!
//! The master key is the bytes of `SEED_MASK_KEY`, or of the file `--mask-key-file` /
//! `SEED_MASK_KEY_FILE` names (one trailing newline dropped). It is never stored, never
//! printed (it is registered with `redact`, so even a stray message cannot show it),
//! and there is no default: a default key would let anyone holding seed undo a mask by
//! trying the values they guess.
//!
//! Per rule, a subkey: HMAC-SHA256(master, `seed-mask-v1` NUL rule fingerprint), where
//! the fingerprint names the rule and its parameters but no table or column, so one
//! value masked by one rule gives one output in every table (joins still join). Per
//! value, a fast keyed PRF: SipHash-2-4 with 128-bit output under the first 16 bytes of
//! the subkey (about 0.1 µs for a short value here, against 0.35 µs for HMAC-SHA256).
//! Its 128 bits seed the generator's RNG, so every generator seed has becomes a
//! function of the value.

use std::hash::Hasher as _;
use std::path::{Path, PathBuf};

use fake::rand::SeedableRng;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use siphasher::sip128::{Hasher128, SipHasher24};

use crate::env;
use crate::error::Error;
use crate::factory::values::Rng;

/// Shorter keys are refused: a key has to be out of reach of guessing.
pub const MIN_KEY_BYTES: usize = 16;
/// A key file is a few dozen bytes; a wrong path (a log, /dev/zero) stops here.
const MAX_KEY_FILE_BYTES: u64 = 4096;
/// Label of every subkey: changing it changes every masked value.
const DOMAIN: &[u8] = b"seed-mask-v1";

/// The master key (never printed: `Debug` shows nothing of it).
pub struct MasterKey(Vec<u8>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// Where the key is looked for, in order: the flag's file, `SEED_MASK_KEY`,
/// `SEED_MASK_KEY_FILE`.
#[derive(Debug, Clone, Default)]
pub struct KeySource {
    pub file: Option<PathBuf>,
}

impl KeySource {
    /// The key, or `None` when no source is set.
    pub fn load(&self) -> Result<Option<MasterKey>, Error> {
        if let Some(path) = &self.file {
            return read_file(path, "--mask-key-file").map(Some);
        }
        if let Some(value) = std::env::var_os(env::MASK_KEY).filter(|v| !v.is_empty()) {
            let bytes = value.into_encoded_bytes();
            return MasterKey::new(bytes, env::MASK_KEY).map(Some);
        }
        if let Some(path) = std::env::var_os(env::MASK_KEY_FILE).filter(|v| !v.is_empty()) {
            return read_file(Path::new(&path), env::MASK_KEY_FILE).map(Some);
        }
        Ok(None)
    }

    /// The key; refused with a hint when none is set.
    pub fn require(&self) -> Result<MasterKey, Error> {
        self.load()?.ok_or_else(missing)
    }
}

/// The error for a masked snapshot without a key.
pub fn missing() -> Error {
    Error::usage_hint(
        format!("masking needs a key: set {} (or {}, or --mask-key-file FILE)", env::MASK_KEY, env::MASK_KEY_FILE),
        format!(
            "make one with `openssl rand -hex 32` and keep it like a password (a CI secret): the same key gives the same \
             masked values, another key other values; seed never stores it and has no default key (anyone could undo a \
             mask made with one). At least {MIN_KEY_BYTES} bytes."
        ),
    )
}

fn read_file(path: &Path, origin: &str) -> Result<MasterKey, Error> {
    use std::io::Read as _;
    let err = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => Error::usage(format!("{origin}: no such file: {}", path.display())),
        _ => Error::io("reading the masking key file", path, e),
    };
    if std::fs::metadata(path).map_err(err)?.is_dir() {
        return Err(Error::usage(format!("{origin}: {} is a directory, not a key file", path.display())));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path).map_err(err)?.take(MAX_KEY_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(err)?;
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(Error::usage(format!(
            "{origin}: {} is larger than {MAX_KEY_FILE_BYTES} bytes; a key file holds one key",
            path.display()
        )));
    }
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    MasterKey::new(bytes, &format!("{origin} ({})", path.display()))
}

impl MasterKey {
    fn new(bytes: Vec<u8>, origin: &str) -> Result<Self, Error> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(Error::usage_hint(
                format!("the masking key from {origin} is {} bytes; at least {MIN_KEY_BYTES} are needed", bytes.len()),
                "make one with `openssl rand -hex 32`",
            ));
        }
        if let Ok(text) = std::str::from_utf8(&bytes) {
            crate::redact::register(text);
        }
        Ok(Self(bytes))
    }

    /// A key for tests and benchmarks of this module.
    #[cfg(test)]
    pub fn for_tests(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    fn mac(&self, label: &[u8], data: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(DOMAIN);
        mac.update(label);
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The subkey of the rule whose fingerprint is `rule`.
    pub fn rule_key(&self, rule: &str) -> RuleKey {
        let k = self.mac(b"/rule", rule.as_bytes());
        let half = |i: usize| u64::from_le_bytes(k[i..i + 8].try_into().expect("8 bytes"));
        RuleKey { k0: half(0), k1: half(8) }
    }

    /// 16 hex digits that tell two keys apart (recorded in a masked snapshot's header,
    /// so a snapshot is never built on one masked under another key). They reveal
    /// nothing of the key beyond confirming a guess, which the masked values allow anyway.
    pub fn check_value(&self) -> String {
        let k = self.mac(b"/key-check", b"");
        k[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A rule's keyed PRF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleKey {
    k0: u64,
    k1: u64,
}

impl RuleKey {
    /// 128 pseudo-random bits of `value` under this key.
    pub fn prf(&self, value: &[u8]) -> u128 {
        let mut h = SipHasher24::new_with_keys(self.k0, self.k1);
        h.write(value);
        h.finish128().as_u128()
    }

    /// The generator's RNG seeded by `value` (and `round`, for the few rules that draw
    /// again when a draw does not fit).
    pub fn rng(&self, value: &[u8], round: u32) -> Rng {
        let bits = if round == 0 {
            self.prf(value)
        } else {
            let mut h = SipHasher24::new_with_keys(self.k0, self.k1);
            h.write(value);
            h.write_u32(round);
            h.finish128().as_u128()
        };
        rng_from(bits)
    }
}

/// Xoshiro256++ from 128 bits, spread by SplitMix64 so no two seeds share a state.
pub fn rng_from(bits: u128) -> Rng {
    let mut s = [0u8; 32];
    #[allow(clippy::cast_possible_truncation)]
    let (a, b) = (bits as u64, (bits >> 64) as u64);
    for (i, x) in [a, b, a ^ 0x9e37_79b9_7f4a_7c15, b.rotate_left(32) ^ 0xbf58_476d_1ce4_e5b9].into_iter().enumerate() {
        s[i * 8..i * 8 + 8].copy_from_slice(&splitmix(x).to_le_bytes());
    }
    Rng::from_seed(s)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use fake::rand::RngExt;

    use super::*;

    #[test]
    fn subkeys_depend_on_the_key_and_the_rule_only() {
        let a = MasterKey::for_tests(b"0123456789abcdef-one");
        let b = MasterKey::for_tests(b"0123456789abcdef-two");
        assert_eq!(a.rule_key("fake:email"), a.rule_key("fake:email"));
        assert_ne!(a.rule_key("fake:email"), b.rule_key("fake:email"));
        assert_ne!(a.rule_key("fake:email"), a.rule_key("fake:phone"));
        let k = a.rule_key("hash");
        assert_eq!(k.prf(b"x"), k.prf(b"x"));
        assert_ne!(k.prf(b"x"), k.prf(b"y"));
        assert_ne!(k.prf(b"x"), b.rule_key("hash").prf(b"x"));
        let mut r1 = k.rng(b"v", 0);
        let mut r2 = k.rng(b"v", 0);
        assert_eq!(r1.random::<u64>(), r2.random::<u64>());
        assert_ne!(k.rng(b"v", 1).random::<u64>(), k.rng(b"v", 0).random::<u64>());
        assert_eq!(a.check_value().len(), 16);
        assert_ne!(a.check_value(), b.check_value());
        assert_eq!(format!("{a:?}"), "MasterKey(***)");
    }

    #[test]
    fn short_keys_are_refused() {
        let e = MasterKey::new(b"short".to_vec(), "SEED_MASK_KEY").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("5 bytes"), "{e}");
        assert!(!e.to_string().contains("short"), "{e}");
    }

    #[test]
    fn key_files_drop_one_newline_and_refuse_nonsense() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("k");
        std::fs::write(&f, "0123456789abcdef0123\n").unwrap();
        let k = KeySource { file: Some(f.clone()) }.require().unwrap();
        assert_eq!(k.0, b"0123456789abcdef0123");
        let e = KeySource { file: Some(dir.path().to_owned()) }.require().unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let e = KeySource { file: Some(dir.path().join("none")) }.require().unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e = KeySource { file: Some("/dev/zero".into()) }.require().unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
    }
}
