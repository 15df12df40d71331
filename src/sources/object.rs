//! Object storage through `object_store`: S3 and S3-compatible endpoints (with
//! region, endpoint, path-style and credentials from files or the
//! environment), and any URL object_store parses (GCS, Azure, ...).
//!
//! "Folders" are key prefixes. A PUT is atomic, so writes need no temporary
//! name; a rename is a copy then a delete.

use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use secrecy::ExposeSecret;

use super::{Entry, HashingWriter, Result, S3Credentials, SourceConfig, SourceError, read_secret};

pub struct ObjectSource {
    pub(crate) name: String,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    description: String,
}

impl std::fmt::Debug for ObjectSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectSource")
            .field("name", &self.name)
            .field("at", &self.description)
            .finish()
    }
}

impl ObjectSource {
    pub fn new(name: &str, config: &SourceConfig) -> Result<ObjectSource> {
        match config {
            SourceConfig::S3 {
                bucket,
                prefix,
                region,
                endpoint,
                path_style,
                allow_http,
                access_key_id_file,
                secret_access_key_file,
                session_token_file,
                credentials,
            } => {
                // Environment first (AWS_* variables), then explicit settings on top.
                let mut b = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_region(region);
                if !endpoint.is_empty() {
                    b = b.with_endpoint(endpoint);
                }
                b = b
                    .with_virtual_hosted_style_request(!path_style)
                    .with_allow_http(*allow_http);
                if let Some(p) = access_key_id_file {
                    b = b.with_access_key_id(
                        read_secret(name, "the access key id", p)?.expose_secret(),
                    );
                }
                if let Some(p) = secret_access_key_file {
                    b = b.with_secret_access_key(
                        read_secret(name, "the secret access key", p)?.expose_secret(),
                    );
                }
                if let Some(p) = session_token_file {
                    b = b.with_token(read_secret(name, "the session token", p)?.expose_secret());
                }
                let store = credentials_chosen(name, b, *credentials)?
                    .build()
                    .map_err(|e| SourceError::permanent(name, "", e))?;
                let at = if endpoint.is_empty() {
                    "AWS".to_owned()
                } else {
                    endpoint.clone()
                };
                Ok(ObjectSource {
                    name: name.into(),
                    store: Arc::new(store),
                    prefix: prefix.trim_matches('/').to_owned(),
                    description: format!("s3://{bucket}/{} at {at}", prefix.trim_matches('/')),
                })
            }
            SourceConfig::Url {
                url,
                options,
                credentials,
            } => {
                let parsed =
                    url::Url::parse(url).map_err(|e| SourceError::permanent(name, url, e))?;
                let (store, path) = if matches!(parsed.scheme(), "s3" | "s3a") {
                    // Built here, not by parse_url_opts (which ignores AWS_*
                    // variables and then asks the metadata endpoint).
                    let mut b = AmazonS3Builder::from_env().with_url(url.as_str());
                    for (k, v) in options {
                        let key = k
                            .to_ascii_lowercase()
                            .parse()
                            .map_err(|e| SourceError::permanent(name, url, e))?;
                        b = b.with_config(key, v);
                    }
                    let store = credentials_chosen(name, b, *credentials)?
                        .build()
                        .map_err(|e| SourceError::permanent(name, url, e))?;
                    let path = ObjectPath::from_url_path(parsed.path())
                        .map_err(|e| SourceError::permanent(name, url, e))?;
                    (Box::new(store) as Box<dyn ObjectStore>, path)
                } else {
                    object_store::parse_url_opts(&parsed, options.iter())
                        .map_err(|e| SourceError::permanent(name, url, e))?
                };
                Ok(ObjectSource {
                    name: name.into(),
                    store: Arc::from(store),
                    prefix: path.to_string(),
                    description: format!(
                        "{}://{}/{}",
                        parsed.scheme(),
                        parsed.host_str().unwrap_or(""),
                        path
                    ),
                })
            }
            _ => unreachable!("ObjectSource::new takes object store configs only"),
        }
    }

    pub fn describe(&self) -> String {
        self.description.clone()
    }

    fn key(&self, path: &str) -> ObjectPath {
        ObjectPath::from(crate::paths::join(&[&self.prefix, path]))
    }

    fn err(&self, path: &str, e: object_store::Error) -> SourceError {
        use object_store::Error as E;
        match e {
            E::NotFound { .. } => SourceError::NotFound {
                source_name: self.name.clone(),
                path: path.into(),
            },
            E::PermissionDenied { .. }
            | E::Unauthenticated { .. }
            | E::InvalidPath { .. }
            | E::NotSupported { .. } => SourceError::permanent(&self.name, path, e),
            other if refused(&other) => SourceError::permanent(&self.name, path, other),
            other => SourceError::transient(&self.name, path, other),
        }
    }

    pub async fn list(&self, dir: &str) -> Result<Vec<Entry>> {
        let prefix = self.key(dir);
        let listing = self
            .store
            .list_with_delimiter(Some(&prefix))
            .await
            .map_err(|e| self.err(dir, e))?;
        let mut out: Vec<Entry> = listing
            .objects
            .into_iter()
            .map(|m| {
                let name = m.location.filename().unwrap_or_default().to_owned();
                Entry {
                    path: crate::paths::join(&[dir, &name]),
                    name,
                    size: m.size,
                    modified: Some(m.last_modified),
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub async fn download(&self, path: &str, dest: &Path) -> Result<(u64, String)> {
        let got = self
            .store
            .get(&self.key(path))
            .await
            .map_err(|e| self.err(path, e))?;
        let mut stream = got.into_stream();
        let mut out = HashingWriter::create(dest)
            .map_err(|e| SourceError::io(&self.name, &dest.display().to_string(), &e))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.err(path, e))?;
            out.write(&chunk)
                .map_err(|e| SourceError::io(&self.name, &dest.display().to_string(), &e))?;
        }
        out.finish()
            .map_err(|e| SourceError::io(&self.name, &dest.display().to_string(), &e))
    }

    pub async fn upload(&self, local: &Path, path: &str) -> Result<()> {
        let bytes = tokio::fs::read(local)
            .await
            .map_err(|e| SourceError::io(&self.name, &local.display().to_string(), &e))?;
        self.put(path, &bytes).await
    }

    pub async fn put(&self, path: &str, bytes: &[u8]) -> Result<()> {
        self.store
            .put(&self.key(path), PutPayload::from(bytes.to_vec()))
            .await
            .map(|_| ())
            .map_err(|e| self.err(path, e))
    }

    pub async fn get(&self, path: &str) -> Result<Vec<u8>> {
        let got = self
            .store
            .get(&self.key(path))
            .await
            .map_err(|e| self.err(path, e))?;
        Ok(got.bytes().await.map_err(|e| self.err(path, e))?.to_vec())
    }

    pub async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.store
            .copy(&self.key(from), &self.key(to))
            .await
            .map_err(|e| self.err(from, e))?;
        self.store
            .delete(&self.key(from))
            .await
            .map_err(|e| self.err(from, e))
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        // S3 deletes of a missing key succeed; report NotFound like the others.
        if !self.exists(path).await? {
            return Err(SourceError::NotFound {
                source_name: self.name.clone(),
                path: path.into(),
            });
        }
        self.store
            .delete(&self.key(path))
            .await
            .map_err(|e| self.err(path, e))
    }

    pub async fn exists(&self, path: &str) -> Result<bool> {
        match self.store.head(&self.key(path)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err(path, e)),
        }
    }
}

/// Applies the configured credential choice; `Static` without a key is
/// refused here, so `check` reports it and object_store never falls back to
/// the metadata endpoint.
fn credentials_chosen(
    name: &str,
    b: AmazonS3Builder,
    credentials: S3Credentials,
) -> Result<AmazonS3Builder> {
    use object_store::aws::AmazonS3ConfigKey as K;
    match credentials {
        S3Credentials::Anonymous => Ok(b.with_skip_signature(true)),
        S3Credentials::Instance => Ok(b),
        S3Credentials::Static => {
            let has_key = b
                .get_config_value(&K::AccessKeyId)
                .is_some_and(|k| !k.is_empty());
            // Web identity and container credentials are set up by AWS itself
            // through these variables: configured, not a fallback.
            let delegated = [
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            ]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
            if has_key || delegated {
                Ok(b)
            } else {
                Err(SourceError::permanent(
                    name,
                    "credentials",
                    "no credentials: set access_key_id_file and secret_access_key_file (or AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY), or credentials = \"instance\" to use the cloud metadata endpoint, or \
                     credentials = \"anonymous\" for a public bucket",
                ))
            }
        }
    }
}

/// Whether a generic object_store error is the server refusing our
/// credentials. object_store turns 401/403 into `PermissionDenied` or
/// `Unauthenticated` for some requests only; listings, and errors fetching
/// credentials, arrive as `Generic` with the status in the text.
fn refused(e: &object_store::Error) -> bool {
    const MARKS: [&str; 9] = [
        "403 Forbidden",
        "401 Unauthorized",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "ExpiredToken",
        "InvalidToken",
        "AuthorizationHeaderMalformed",
        "InvalidClientTokenId",
    ];
    let mut current: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        if MARKS.iter().any(|m| text.contains(m)) {
            return true;
        }
        current = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(credentials: S3Credentials) -> SourceConfig {
        SourceConfig::S3 {
            bucket: "b".into(),
            prefix: String::new(),
            region: "us-east-1".into(),
            endpoint: "http://127.0.0.1:9".into(),
            path_style: true,
            allow_http: true,
            access_key_id_file: None,
            secret_access_key_file: None,
            session_token_file: None,
            credentials,
        }
    }

    #[test]
    fn no_key_is_refused_unless_instance_or_anonymous_is_chosen() {
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
            return; // the environment supplies a key: nothing to refuse
        }
        let e = ObjectSource::new("drop", &s3(S3Credentials::Static)).unwrap_err();
        assert!(
            !e.is_retriable() && e.to_string().contains("no credentials"),
            "{e}"
        );
        assert!(ObjectSource::new("drop", &s3(S3Credentials::Anonymous)).is_ok());
        assert!(ObjectSource::new("drop", &s3(S3Credentials::Instance)).is_ok());
        let url = SourceConfig::Url {
            url: "s3://b/p".into(),
            options: Default::default(),
            credentials: S3Credentials::Static,
        };
        assert!(ObjectSource::new("u", &url).is_err(), "s3:// URLs too");
    }

    #[test]
    fn refusals_in_generic_errors_are_recognised() {
        let e = object_store::Error::Generic {
            store: "S3",
            source: "Error performing GET http://x in 1ms - Server returned non-2xx status code: 403 Forbidden: <Code>InvalidAccessKeyId</Code>".into(),
        };
        assert!(refused(&e));
        let e = object_store::Error::Generic {
            store: "S3",
            source: "error sending request: connection refused".into(),
        };
        assert!(!refused(&e));
    }
}
