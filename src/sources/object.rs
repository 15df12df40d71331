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

use super::{Entry, HashingWriter, Result, SourceConfig, SourceError, read_secret};

pub struct ObjectSource {
    pub(crate) name: String,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    description: String,
}

impl std::fmt::Debug for ObjectSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectSource").field("name", &self.name).field("at", &self.description).finish()
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
            } => {
                // Environment first (AWS_* variables), then explicit settings on top.
                let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket).with_region(region);
                if !endpoint.is_empty() {
                    b = b.with_endpoint(endpoint);
                }
                b = b.with_virtual_hosted_style_request(!path_style).with_allow_http(*allow_http);
                if let Some(p) = access_key_id_file {
                    b = b.with_access_key_id(read_secret(name, "the access key id", p)?.expose_secret());
                }
                if let Some(p) = secret_access_key_file {
                    b = b.with_secret_access_key(read_secret(name, "the secret access key", p)?.expose_secret());
                }
                if let Some(p) = session_token_file {
                    b = b.with_token(read_secret(name, "the session token", p)?.expose_secret());
                }
                let store = b.build().map_err(|e| SourceError::permanent(name, "", e))?;
                let at = if endpoint.is_empty() { "AWS".to_owned() } else { endpoint.clone() };
                Ok(ObjectSource {
                    name: name.into(),
                    store: Arc::new(store),
                    prefix: prefix.trim_matches('/').to_owned(),
                    description: format!("s3://{bucket}/{} at {at}", prefix.trim_matches('/')),
                })
            }
            SourceConfig::Url { url, options } => {
                let parsed = url::Url::parse(url).map_err(|e| SourceError::permanent(name, url, e))?;
                let (store, path) = object_store::parse_url_opts(&parsed, options.iter())
                    .map_err(|e| SourceError::permanent(name, url, e))?;
                Ok(ObjectSource {
                    name: name.into(),
                    store: Arc::from(store),
                    prefix: path.to_string(),
                    description: format!("{}://{}/{}", parsed.scheme(), parsed.host_str().unwrap_or(""), path),
                })
            }
            _ => unreachable!("ObjectSource::new takes object store configs only"),
        }
    }

    pub fn describe(&self) -> String {
        self.description.clone()
    }

    fn key(&self, path: &str) -> ObjectPath {
        ObjectPath::from(super::join(&[&self.prefix, path]))
    }

    fn err(&self, path: &str, e: object_store::Error) -> SourceError {
        use object_store::Error as E;
        match e {
            E::NotFound { .. } => SourceError::NotFound { source_name: self.name.clone(), path: path.into() },
            E::PermissionDenied { .. } | E::Unauthenticated { .. } | E::InvalidPath { .. } | E::NotSupported { .. } => {
                SourceError::permanent(&self.name, path, e)
            }
            other => SourceError::transient(&self.name, path, other),
        }
    }

    pub async fn list(&self, dir: &str) -> Result<Vec<Entry>> {
        let prefix = self.key(dir);
        let listing = self.store.list_with_delimiter(Some(&prefix)).await.map_err(|e| self.err(dir, e))?;
        let mut out: Vec<Entry> = listing
            .objects
            .into_iter()
            .map(|m| {
                let name = m.location.filename().unwrap_or_default().to_owned();
                Entry { path: super::join(&[dir, &name]), name, size: m.size, modified: Some(m.last_modified) }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub async fn download(&self, path: &str, dest: &Path) -> Result<(u64, String)> {
        let got = self.store.get(&self.key(path)).await.map_err(|e| self.err(path, e))?;
        let mut stream = got.into_stream();
        let mut out = HashingWriter::create(dest).map_err(|e| SourceError::io(&self.name, &dest.display().to_string(), &e))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.err(path, e))?;
            out.write(&chunk).map_err(|e| SourceError::io(&self.name, &dest.display().to_string(), &e))?;
        }
        out.finish().map_err(|e| SourceError::io(&self.name, &dest.display().to_string(), &e))
    }

    pub async fn upload(&self, local: &Path, path: &str) -> Result<()> {
        let bytes = tokio::fs::read(local).await.map_err(|e| SourceError::io(&self.name, &local.display().to_string(), &e))?;
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
        let got = self.store.get(&self.key(path)).await.map_err(|e| self.err(path, e))?;
        Ok(got.bytes().await.map_err(|e| self.err(path, e))?.to_vec())
    }

    pub async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.store.copy(&self.key(from), &self.key(to)).await.map_err(|e| self.err(from, e))?;
        self.store.delete(&self.key(from)).await.map_err(|e| self.err(from, e))
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        // S3 deletes of a missing key succeed; report NotFound like the others.
        if !self.exists(path).await? {
            return Err(SourceError::NotFound { source_name: self.name.clone(), path: path.into() });
        }
        self.store.delete(&self.key(path)).await.map_err(|e| self.err(path, e))
    }

    pub async fn exists(&self, path: &str) -> Result<bool> {
        match self.store.head(&self.key(path)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err(path, e)),
        }
    }
}
