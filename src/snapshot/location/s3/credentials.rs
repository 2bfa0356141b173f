//! Credentials as the S3 client gets them: `object_store`'s own providers (static keys,
//! web identity through STS, ECS task and container credentials, EC2 instance
//! metadata), chosen by `bucket::CredentialSource`, refreshed by the client as they
//! expire; seed only reads the profile files, which the client lacks. Every request
//! — the client's and seed's own signed ones (`raw`) — takes its credentials from the
//! same provider, which names its source when it fails (exit 11, not "unreachable").

use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsCredential, AwsCredentialProvider};
use object_store::client::Certificate;
use object_store::{ClientOptions, CredentialProvider};

use super::bucket::CredentialSource;
use crate::error::Error;

/// `builder` set up to get credentials from `source` (`None` is refused before: the
/// caller says so without sending anything).
pub fn configure(builder: AmazonS3Builder, source: &CredentialSource) -> AmazonS3Builder {
    match source {
        CredentialSource::Keys { creds, .. } => {
            let b = builder.with_access_key_id(&creds.key_id).with_secret_access_key(&creds.secret);
            match &creds.token {
                Some(t) => b.with_token(t),
                None => b,
            }
        }
        CredentialSource::WebIdentity { token_file, role_arn, session_name, sts_endpoint } => {
            let mut b = builder
                .with_config(AmazonS3ConfigKey::WebIdentityTokenFile, token_file)
                .with_config(AmazonS3ConfigKey::RoleArn, role_arn);
            if let Some(name) = session_name {
                b = b.with_config(AmazonS3ConfigKey::RoleSessionName, name);
            }
            if let Some(endpoint) = sts_endpoint {
                b = b.with_config(AmazonS3ConfigKey::StsEndpoint, endpoint);
            }
            b
        }
        CredentialSource::Task { relative_uri } => {
            builder.with_config(AmazonS3ConfigKey::ContainerCredentialsRelativeUri, relative_uri)
        }
        CredentialSource::Container { full_uri, token_file } => builder
            .with_config(AmazonS3ConfigKey::ContainerCredentialsFullUri, full_uri)
            .with_config(AmazonS3ConfigKey::ContainerAuthorizationTokenFile, token_file),
        CredentialSource::Instance { endpoint } => match endpoint {
            Some(e) => builder.with_config(AmazonS3ConfigKey::MetadataEndpoint, e),
            None => builder,
        },
        CredentialSource::None => builder,
    }
}

/// Credentials that could not be had (a token file missing, STS refusing the token, no
/// instance metadata here...), naming where they were looked for.
#[derive(Debug, thiserror::Error)]
#[error("could not get AWS credentials from {from}: {reason}")]
pub struct NoCredentials {
    pub from: String,
    pub reason: String,
}

/// A provider whose failures say where the credentials were looked for.
#[derive(Debug)]
pub struct Named {
    pub inner: AwsCredentialProvider,
    pub from: String,
}

impl Named {
    pub fn provider(inner: AwsCredentialProvider, from: String) -> AwsCredentialProvider {
        Arc::new(Self { inner, from })
    }
}

#[async_trait::async_trait]
impl CredentialProvider for Named {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        self.inner.get_credential().await.map_err(|e| {
            let reason = crate::redact::scrub(&e.to_string());
            object_store::Error::Generic {
                store: "S3",
                source: Box::new(NoCredentials { from: self.from.clone(), reason }),
            }
        })
    }
}

/// The `NoCredentials` anywhere in `e`'s chain.
pub fn missing<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a NoCredentials> {
    let mut at: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = at {
        if let Some(n) = err.downcast_ref::<NoCredentials>() {
            return Some(n);
        }
        at = err.source();
    }
    None
}

/// `options` trusting the certificates of the PEM file `bundle` too (`AWS_CA_BUNDLE`:
/// a store or STS endpoint behind a private certificate authority).
pub fn with_ca_bundle(options: ClientOptions, bundle: Option<&std::path::Path>) -> Result<ClientOptions, Error> {
    let Some(path) = bundle else { return Ok(options) };
    let bad = |why: String| {
        Error::usage_hint(
            format!("AWS_CA_BUNDLE {}: {why}", crate::untrusted::shown(&path.display().to_string(), 200)),
            "point AWS_CA_BUNDLE at a file of PEM certificates (or unset it to trust the system's)",
        )
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    Ok(certs.into_iter().fold(options, ClientOptions::with_root_certificate))
}
