//! File storage behind one interface (`object_store`): a local directory (MEDIA_ROOT) by default,
//! an S3-compatible bucket when AWS_BUCKET_NAME is set. Objects are private: they are served only
//! through authenticated download endpoints, never from a public URL.

pub mod upload;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::config::Config;
use crate::error::ApiError;

pub use upload::{FormData, Upload};

#[derive(Clone, Debug)]
pub struct Storage {
    /// `Err` holds why the configured store could not be opened: uploads and downloads then
    /// answer 503 instead of the server refusing to start for an unrelated endpoint.
    store: Result<Arc<dyn ObjectStore>, String>,
    /// Largest accepted file.
    pub max_bytes: usize,
}

impl Storage {
    pub fn from_config(cfg: &Config) -> Self {
        let store = open(cfg).map_err(|e| {
            tracing::error!(error = %e, "file storage unavailable");
            e
        });
        Storage {
            store,
            max_bytes: cfg.upload_max_bytes,
        }
    }

    /// A store over any `object_store` backend (tests, other deployments).
    pub fn with_store(store: Arc<dyn ObjectStore>, max_bytes: usize) -> Self {
        Storage {
            store: Ok(store),
            max_bytes,
        }
    }

    fn store(&self) -> Result<&Arc<dyn ObjectStore>, ApiError> {
        self.store
            .as_ref()
            .map_err(|e| ApiError::unavailable(format!("File storage is not available: {e}")))
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), ApiError> {
        self.store()?
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .map_err(ApiError::internal)?;
        Ok(())
    }

    /// Removes an object; a missing object is not an error (deletes run after the commit, so a
    /// failure is logged rather than undoing the database change).
    pub async fn delete(&self, key: &str) {
        let Ok(store) = self.store() else { return };
        match store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => tracing::warn!(key, error = %e, "could not delete stored file"),
        }
    }

    /// Streams an object as a download named `file_name`.
    pub async fn download(&self, key: &str, file_name: &str) -> Result<Response, ApiError> {
        let got = match self.store()?.get(&Path::from(key)).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(ApiError::detail(
                    StatusCode::NOT_FOUND,
                    "The file is missing from storage.",
                ));
            }
            Err(e) => return Err(ApiError::internal(e)),
        };
        let size = got.meta.size;
        let content_type = upload::content_type_for_name(file_name);
        let mut res = Body::from_stream(got.into_stream()).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        if let Ok(v) = HeaderValue::from_str(&content_disposition(file_name)) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        Ok(res)
    }
}

/// `attachment` (never `inline`: a browser must not render uploaded content in our origin),
/// with an ASCII fallback name and the exact name in RFC 5987 form.
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

fn open(cfg: &Config) -> Result<Arc<dyn ObjectStore>, String> {
    if let Some(s3) = &cfg.s3 {
        return open_s3(s3);
    }
    std::fs::create_dir_all(&cfg.media_root)
        .map_err(|e| format!("MEDIA_ROOT {}: {e}", cfg.media_root.display()))?;
    let fs = object_store::local::LocalFileSystem::new_with_prefix(&cfg.media_root)
        .map_err(|e| format!("MEDIA_ROOT {}: {e}", cfg.media_root.display()))?
        .with_automatic_cleanup(true);
    Ok(Arc::new(fs))
}

#[cfg(feature = "s3")]
fn open_s3(s3: &crate::config::S3Config) -> Result<Arc<dyn ObjectStore>, String> {
    let mut b = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&s3.bucket)
        .with_region(&s3.region);
    if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
        b = b.with_access_key_id(id).with_secret_access_key(secret);
    }
    if let Some(endpoint) = &s3.endpoint {
        b = b
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    let store = b
        .build()
        .map_err(|e| format!("S3 bucket {}: {e}", s3.bucket))?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "s3"))]
fn open_s3(_: &crate::config::S3Config) -> Result<Arc<dyn ObjectStore>, String> {
    Err("AWS_BUCKET_NAME is set but this build has no S3 support (cargo feature `s3`)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_are_safe_headers() {
        assert_eq!(
            content_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        let v = content_disposition("résumé \"x\".pdf");
        assert!(HeaderValue::from_str(&v).is_ok());
        assert!(v.contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20%22x%22.pdf"));
    }
}
