//! `s3://BUCKET[/PREFIX]` and where its endpoint, region and credentials come from: the
//! standard AWS variables, then the profile files (`~/.aws/credentials`,
//! `~/.aws/config`, `AWS_PROFILE`), the way the AWS CLI reads them. The secret key and
//! session token are registered with `redact` the moment they are read and are never
//! formatted anywhere (`Debug` masks them).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::untrusted::shown;

/// A bucket and a key prefix (empty, or ending in `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    pub prefix: String,
}

impl Bucket {
    /// `BUCKET[/PREFIX]` (what follows `s3://`).
    pub fn parse(rest: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::usage_hint(
                format!("--snapshot-dir {}: {why}", crate::redact::mask_value(&format!("s3://{rest}"))),
                "use s3://BUCKET or s3://BUCKET/PREFIX (bucket: 3-63 lowercase letters, digits, '.' or '-'; \
                 prefix: letters, digits, '.', '_', '-' and '/')",
            )
        };
        let (name, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let name_ok = (3..=63).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !name_ok {
            return Err(bad("not a valid bucket name"));
        }
        let prefix = prefix.trim_end_matches('/');
        let mut clean = String::new();
        if !prefix.is_empty() {
            for segment in prefix.split('/') {
                let ok = !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
                if !ok {
                    return Err(bad("not a valid key prefix"));
                }
                clean.push_str(segment);
                clean.push('/');
            }
        }
        Ok(Self { name: name.to_owned(), prefix: clean })
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}", self.name)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix.trim_end_matches('/'))?;
        }
        Ok(())
    }
}

/// Everything needed to talk to the bucket.
#[derive(Clone)]
pub struct Resolved {
    pub region: String,
    /// `None`: AWS itself.
    pub endpoint: Option<String>,
    pub allow_http: bool,
    pub credentials: CredentialSource,
    /// PEM certificates to trust besides the system's (`AWS_CA_BUNDLE`).
    pub ca_bundle: Option<PathBuf>,
}

impl Resolved {
    /// Where the credentials come from (for doctor and messages), never their value.
    pub fn credential_source(&self) -> String {
        self.credentials.describe()
    }
}

#[derive(Clone)]
pub struct Credentials {
    pub key_id: String,
    pub secret: String,
    pub token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// Where the credentials come from, in the order the AWS SDKs and CLI look: keys in
/// the environment, then the profile, then a web identity, the container's, the
/// instance's. Everything but the keys of a profile is fetched (and refreshed) by the
/// S3 client's own providers (`object_store`); seed reads only the profile files,
/// which it lacks.
#[derive(Clone, Debug)]
pub enum CredentialSource {
    /// Keys: `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`),
    /// or a profile's `aws_access_key_id`...; `from` says which.
    Keys { creds: Credentials, from: String },
    /// STS `AssumeRoleWithWebIdentity` with the token in `token_file` (GitHub Actions
    /// OIDC, EKS service accounts): `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN`
    /// (or a profile's `web_identity_token_file` and `role_arn`).
    WebIdentity { token_file: String, role_arn: String, session_name: Option<String>, sts_endpoint: Option<String> },
    /// An ECS task's role: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
    Task { relative_uri: String },
    /// EKS Pod Identity, ECS Anywhere: `AWS_CONTAINER_CREDENTIALS_FULL_URI` with
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`.
    Container { full_uri: String, token_file: String },
    /// The EC2 instance's role (IMDSv2), at `AWS_EC2_METADATA_SERVICE_ENDPOINT` or the
    /// standard address.
    Instance { endpoint: Option<String> },
    /// Nothing found, and instance metadata switched off (`AWS_EC2_METADATA_DISABLED`).
    None,
}

impl CredentialSource {
    pub fn describe(&self) -> String {
        match self {
            CredentialSource::Keys { from, .. } => from.clone(),
            CredentialSource::WebIdentity { role_arn, .. } => {
                format!("web identity (AssumeRoleWithWebIdentity, role {})", shown(role_arn, 200))
            }
            CredentialSource::Task { .. } => "the ECS task role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)".into(),
            CredentialSource::Container { full_uri, .. } => format!(
                "container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI {})",
                crate::redact::mask_value(full_uri)
            ),
            CredentialSource::Instance { .. } => "the instance role (EC2 instance metadata)".into(),
            CredentialSource::None => "none".into(),
        }
    }
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolved")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("allow_http", &self.allow_http)
            .field("credentials", &self.credentials)
            .finish()
    }
}

/// The environment as a lookup, so tests can give their own.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }
}

/// Resolves region, endpoint and credentials from `env` and the profile files.
pub fn resolve(env: &dyn Env) -> Result<Resolved, Error> {
    let profile = env.var("AWS_PROFILE").or_else(|| env.var("AWS_DEFAULT_PROFILE"));
    let profile_name = profile.clone().unwrap_or_else(|| "default".to_owned());
    let home = env.var("HOME").map(PathBuf::from);
    let file = |var: &str, rel: &str| env.var(var).map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(rel)));
    let credentials_file = file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    let config_file = file("AWS_CONFIG_FILE", ".aws/config");
    let creds_section = credentials_file.as_deref().map(|p| read_section(p, &profile_name, false)).transpose()?;
    let config_section = config_file.as_deref().map(|p| read_section(p, &profile_name, true)).transpose()?;
    let creds_section = creds_section.flatten().unwrap_or_default();
    let config_section = config_section.flatten().unwrap_or_default();
    if profile.is_some() && creds_section.is_empty() && config_section.is_empty() {
        return Err(Error::usage_hint(
            format!("AWS_PROFILE={}: no such profile in the AWS credentials or config file", shown(&profile_name, 80)),
            "define it in ~/.aws/credentials (or AWS_SHARED_CREDENTIALS_FILE), or unset AWS_PROFILE",
        ));
    }
    let from_profile = |key: &str| creds_section.get(key).or_else(|| config_section.get(key)).cloned();

    let credentials = match (env.var("AWS_ACCESS_KEY_ID"), env.var("AWS_SECRET_ACCESS_KEY")) {
        (Some(key_id), Some(secret)) => CredentialSource::Keys {
            creds: Credentials { key_id, secret, token: env.var("AWS_SESSION_TOKEN") },
            from: "environment".to_owned(),
        },
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::Permission {
                what: "reading AWS credentials".into(),
                reason: "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set".into(),
                hint: Some(
                    "set both (and AWS_SESSION_TOKEN for temporary credentials), or neither to use a profile".into(),
                ),
            });
        }
        (None, None) => match (from_profile("aws_access_key_id"), from_profile("aws_secret_access_key")) {
            (Some(key_id), Some(secret)) => CredentialSource::Keys {
                creds: Credentials { key_id, secret, token: from_profile("aws_session_token") },
                from: format!("profile {profile_name}"),
            },
            _ => provided(env, &from_profile),
        },
    };
    if let CredentialSource::Keys { creds, .. } = &credentials {
        crate::redact::register(&creds.secret);
        if let Some(t) = &creds.token {
            crate::redact::register(t);
        }
    }
    let region = env
        .var("AWS_REGION")
        .or_else(|| env.var("AWS_DEFAULT_REGION"))
        .or_else(|| from_profile("region"))
        .unwrap_or_else(|| "us-east-1".to_owned());
    let endpoint = env
        .var("AWS_ENDPOINT_URL_S3")
        .or_else(|| env.var("AWS_ENDPOINT_URL"))
        .or_else(|| from_profile("endpoint_url"))
        .map(|e| e.trim_end_matches('/').to_owned());
    let allow_http = match &endpoint {
        Some(e) => check_endpoint(e, env.var("AWS_ALLOW_HTTP").as_deref())?,
        None => false,
    };
    let ca_bundle = env.var("AWS_CA_BUNDLE").or_else(|| from_profile("ca_bundle")).map(PathBuf::from);
    Ok(Resolved { region, endpoint, allow_http, credentials, ca_bundle })
}

/// The credentials the S3 client fetches itself, when no keys were given: a web
/// identity (the environment's, else the profile's), an ECS task role, container
/// credentials, else the instance's role unless `AWS_EC2_METADATA_DISABLED` is true.
fn provided(env: &dyn Env, from_profile: &dyn Fn(&str) -> Option<String>) -> CredentialSource {
    let web = (env.var("AWS_WEB_IDENTITY_TOKEN_FILE"), env.var("AWS_ROLE_ARN"));
    let web = match web {
        (Some(t), Some(r)) => Some((t, r, env.var("AWS_ROLE_SESSION_NAME"))),
        _ => match (from_profile("web_identity_token_file"), from_profile("role_arn")) {
            (Some(t), Some(r)) => Some((t, r, from_profile("role_session_name"))),
            _ => None,
        },
    };
    if let Some((token_file, role_arn, session_name)) = web {
        let sts_endpoint = env.var("AWS_ENDPOINT_URL_STS").or_else(|| from_profile("endpoint_url_sts"));
        return CredentialSource::WebIdentity { token_file, role_arn, session_name, sts_endpoint };
    }
    if let Some(relative_uri) = env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        return CredentialSource::Task { relative_uri };
    }
    if let (Some(full_uri), Some(token_file)) =
        (env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI"), env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))
    {
        return CredentialSource::Container { full_uri, token_file };
    }
    let disabled = env.var("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if disabled {
        return CredentialSource::None;
    }
    CredentialSource::Instance { endpoint: env.var("AWS_EC2_METADATA_SERVICE_ENDPOINT") }
}

/// An endpoint must be http(s) with a host; plain http only when asked for
/// (`AWS_ALLOW_HTTP=true`) or on this machine. Returns whether http is allowed.
fn check_endpoint(endpoint: &str, allow: Option<&str>) -> Result<bool, Error> {
    crate::redact::register_url_secrets(endpoint);
    let shown_endpoint = crate::redact::mask_value(endpoint);
    let url = url::Url::parse(endpoint).map_err(|e| {
        Error::usage_hint(
            format!("AWS_ENDPOINT_URL {shown_endpoint}: not a URL ({e})"),
            "e.g. AWS_ENDPOINT_URL=https://minio.example.com:9000",
        )
    })?;
    let host_ok = url.host().is_some() && url.username().is_empty() && url.password().is_none();
    if !host_ok || !matches!(url.scheme(), "http" | "https") {
        return Err(Error::usage_hint(
            format!("AWS_ENDPOINT_URL {shown_endpoint}: expected http(s)://HOST[:PORT] without credentials"),
            "credentials go in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or a profile, not in the URL",
        ));
    }
    if url.scheme() == "https" {
        return Ok(false);
    }
    let allowed = matches!(allow.map(str::to_ascii_lowercase).as_deref(), Some("1" | "true" | "yes" | "on"));
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if allowed || loopback {
        return Ok(true);
    }
    Err(Error::usage_hint(
        format!("AWS_ENDPOINT_URL {shown_endpoint}: plain http to a host that is not this machine"),
        "use https, or set AWS_ALLOW_HTTP=true if the network path is trusted (credentials are signed, but data \
         travels in clear)",
    ))
}

/// Largest AWS profile file read.
const MAX_PROFILE_FILE: u64 = 1 << 20;

/// The bytes of an AWS profile file; `None` when there is none. A directory, or
/// anything larger than [`MAX_PROFILE_FILE`], is a usage error naming it (never read
/// past the limit).
fn read_profile_file(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("reading", path, e)),
    };
    let not_a_file = |why: &str| {
        Error::usage_hint(
            format!("{}: {why}, not an AWS profile file", shown(&path.display().to_string(), 200)),
            "point AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE at a file (or unset them to read ~/.aws)",
        )
    };
    let meta = file.metadata().map_err(|e| Error::io("reading", path, e))?;
    if meta.is_dir() {
        return Err(not_a_file("a directory"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_PROFILE_FILE + 1).read_to_end(&mut bytes).map_err(|e| Error::io("reading", path, e))?;
    if bytes.len() as u64 > MAX_PROFILE_FILE {
        return Err(not_a_file("larger than 1 MiB"));
    }
    Ok(Some(bytes))
}

/// `key = value` pairs of section `profile` in an INI-style AWS file (`[profile NAME]`
/// in the config file except for `default`; `[NAME]` in the credentials file).
/// `None`: the file or the section is not there.
fn read_section(path: &Path, profile: &str, config: bool) -> Result<Option<HashMap<String, String>>, Error> {
    let Some(bytes) = read_profile_file(path)? else { return Ok(None) };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let wanted: Vec<String> = if config && profile != "default" {
        vec![format!("profile {profile}")]
    } else if config {
        vec!["default".to_owned(), "profile default".to_owned()]
    } else {
        vec![profile.to_owned()]
    };
    let mut found: Option<HashMap<String, String>> = None;
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.split_whitespace().collect::<Vec<_>>().join(" ");
            inside = wanted.contains(&section);
            if inside {
                found.get_or_insert_with(HashMap::new);
            }
            continue;
        }
        if inside
            && let Some((k, v)) = line.split_once('=')
            && let Some(map) = found.as_mut()
        {
            // Indented lines belong to a nested block (`s3 =` settings): not read.
            map.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vars(Vec<(&'static str, String)>);

    impl Env for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
        }
    }

    fn keys(r: &Resolved) -> &Credentials {
        match &r.credentials {
            CredentialSource::Keys { creds, .. } => creds,
            other => panic!("expected keys, got {other:?}"),
        }
    }

    /// Which provider each environment gets, in the AWS SDKs' order: keys in the
    /// environment, a profile's keys, a web identity (environment, then profile), an
    /// ECS task role, container credentials, the instance's role, or none at all.
    #[test]
    fn the_credential_source_follows_the_sdk_order() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".aws")).unwrap();
        std::fs::write(
            home.path().join(".aws/config"),
            "[profile keys]\naws_access_key_id = AKPROF\naws_secret_access_key = prof-secret-9\n\
             [profile oidc]\nrole_arn = arn:aws:iam::1:role/from-profile\nweb_identity_token_file = /p/token\n",
        )
        .unwrap();
        let h = ("HOME", home.path().display().to_string());
        let web = [
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token".to_owned()),
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/ci".to_owned()),
        ];
        let task = ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x".to_owned());
        let full = [
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials".to_owned()),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/var/run/pod-token".to_owned()),
        ];
        let env_keys =
            [("AWS_ACCESS_KEY_ID", "AKENV".to_owned()), ("AWS_SECRET_ACCESS_KEY", "env-secret-1".to_owned())];
        let source = |vars: Vec<(&'static str, String)>| resolve(&Vars(vars)).unwrap().credentials;
        let all = |mut v: Vec<(&'static str, String)>| {
            v.extend(web.clone());
            v.push(task.clone());
            v.extend(full.clone());
            v.push(h.clone());
            v
        };
        assert!(
            matches!(source(all(env_keys.to_vec())), CredentialSource::Keys { ref from, .. } if from == "environment")
        );
        let mut profile = all(vec![("AWS_PROFILE", "keys".to_owned())]);
        assert!(matches!(source(profile.clone()), CredentialSource::Keys { ref from, .. } if from == "profile keys"));
        profile.retain(|(k, _)| *k != "AWS_PROFILE");
        assert!(matches!(
            source(profile.clone()),
            CredentialSource::WebIdentity { ref role_arn, ref token_file, .. } if role_arn == "arn:aws:iam::1:role/ci" && token_file == "/var/run/token"
        ));
        let mut v = vec![
            h.clone(),
            ("AWS_PROFILE", "oidc".to_owned()),
            ("AWS_ENDPOINT_URL_STS", "https://sts.example".to_owned()),
        ];
        assert!(matches!(
            source(v.clone()),
            CredentialSource::WebIdentity { ref role_arn, ref sts_endpoint, .. } if role_arn.ends_with("from-profile") && sts_endpoint.as_deref() == Some("https://sts.example")
        ));
        v.truncate(1);
        // Half a web identity is none.
        v.push(web[0].clone());
        v.push(task.clone());
        v.extend(full.clone());
        assert!(matches!(source(v.clone()), CredentialSource::Task { .. }));
        v.retain(|(k, _)| *k != task.0);
        assert!(
            matches!(source(v.clone()), CredentialSource::Container { ref token_file, .. } if token_file == "/var/run/pod-token")
        );
        v.retain(|(k, _)| *k != full[1].0);
        assert!(matches!(source(v.clone()), CredentialSource::Instance { endpoint: None }));
        v.push(("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1".to_owned()));
        assert!(matches!(source(v.clone()), CredentialSource::Instance { endpoint: Some(_) }));
        v.push(("AWS_EC2_METADATA_DISABLED", "TRUE".to_owned()));
        assert!(matches!(source(v), CredentialSource::None));
        // What doctor says of each never holds a secret.
        let r = resolve(&Vars(all(env_keys.to_vec()))).unwrap();
        assert!(!format!("{r:?} {}", r.credential_source()).contains("env-secret-1"));
    }

    #[test]
    fn buckets_and_prefixes() {
        let b = Bucket::parse("my-bucket/a/b/").unwrap();
        assert_eq!((b.name.as_str(), b.prefix.as_str()), ("my-bucket", "a/b/"));
        assert_eq!(b.to_string(), "s3://my-bucket/a/b");
        assert_eq!(Bucket::parse("b.1").unwrap().prefix, "");
        for bad in ["", "ab", "-ab", "Ab", "a_b", "ab/../x", "ab/./x", "ab//x", "ab/x y", "ab/é"] {
            assert!(Bucket::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn environment_beats_profiles_and_profiles_are_read() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".aws")).unwrap();
        std::fs::write(
            home.path().join(".aws/credentials"),
            "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = default-secret-1\n\n\
             [ci]\naws_access_key_id=AKCI\naws_secret_access_key=ci-secret-2\naws_session_token=tok-3\n",
        )
        .unwrap();
        std::fs::write(
            home.path().join(".aws/config"),
            "[default]\nregion = eu-west-1\n[profile ci]\nregion = eu-central-1\nendpoint_url = http://127.0.0.1:9000\n",
        )
        .unwrap();
        let h = home.path().display().to_string();
        let r = resolve(&Vars(vec![("HOME", h.clone())])).unwrap();
        assert_eq!(keys(&r).key_id, "AKDEFAULT");
        assert_eq!((r.region.as_str(), r.endpoint.as_deref(), r.allow_http), ("eu-west-1", None, false));
        let r = resolve(&Vars(vec![("HOME", h.clone()), ("AWS_PROFILE", "ci".into())])).unwrap();
        let c = keys(&r);
        assert_eq!((c.key_id.as_str(), c.token.as_deref()), ("AKCI", Some("tok-3")));
        assert_eq!(
            (r.region.as_str(), r.endpoint.as_deref(), r.allow_http),
            ("eu-central-1", Some("http://127.0.0.1:9000"), true)
        );
        assert_eq!(r.credential_source(), "profile ci");
        // The secret shows in no Debug output.
        assert!(!format!("{r:?}").contains("ci-secret-2") && !format!("{r:?}").contains("tok-3"));
        let r = resolve(&Vars(vec![
            ("HOME", h.clone()),
            ("AWS_ACCESS_KEY_ID", "AKENV".into()),
            ("AWS_SECRET_ACCESS_KEY", "env-secret".into()),
            ("AWS_REGION", "ap-south-1".into()),
            ("AWS_ENDPOINT_URL", "https://s3.example.com/".into()),
        ]))
        .unwrap();
        assert_eq!(keys(&r).key_id, "AKENV");
        assert_eq!((r.region.as_str(), r.endpoint.as_deref()), ("ap-south-1", Some("https://s3.example.com")));
        assert!(resolve(&Vars(vec![("HOME", h.clone()), ("AWS_PROFILE", "nope".into())])).is_err());
        assert!(resolve(&Vars(vec![("AWS_ACCESS_KEY_ID", "x".into())])).is_err());
        assert!(matches!(resolve(&Vars(vec![])).unwrap().credentials, CredentialSource::Instance { endpoint: None }));
    }

    /// r21.8: a profile path that is a directory, or a huge file, is a usage error
    /// naming it (exit 2), not an internal one.
    #[test]
    fn profile_paths_that_are_not_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        for var in ["AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"] {
            let err = resolve(&Vars(vec![(var, d.clone())])).unwrap_err();
            assert_eq!(err.exit_code(), crate::error::code::USAGE, "{var}: {err}");
            assert!(err.to_string().contains("a directory, not an AWS profile file"), "{err}");
        }
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'#'; usize::try_from(MAX_PROFILE_FILE).unwrap() + 1]).unwrap();
        let err = resolve(&Vars(vec![("AWS_CONFIG_FILE", big.display().to_string())])).unwrap_err();
        assert!(err.to_string().contains("larger than 1 MiB"), "{err}");
    }

    #[test]
    fn plain_http_only_when_asked_or_local() {
        assert!(check_endpoint("http://127.0.0.1:9000", None).unwrap());
        assert!(check_endpoint("http://localhost:9000", None).unwrap());
        assert!(check_endpoint("http://[::1]:9000", None).unwrap());
        assert!(check_endpoint("http://minio.lan:9000", None).is_err());
        assert!(check_endpoint("http://minio.lan:9000", Some("true")).unwrap());
        assert!(!check_endpoint("https://minio.lan", None).unwrap());
        assert!(check_endpoint("https://user:pw@minio.lan", None).is_err());
        assert!(check_endpoint("ftp://minio.lan", None).is_err());
        assert!(check_endpoint("not a url", None).is_err());
    }
}
