//! Request bodies that may carry files: multipart (what browsers send with a file), or JSON /
//! form bodies as `JsonBody` parses them. Files are checked while they stream in: over
//! UPLOAD_MAX_BYTES is a 413 before the rest is read, and the type is sniffed from the content
//! (magic bytes), not trusted from the name or the client's Content-Type.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use http_body_util::Limited;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::auth::{self, Credentials};
use crate::db::Tenant;
use crate::error::ApiError;
use crate::http::body;
use crate::state::AppState;

/// An uploaded file that passed the size and type checks.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The form field it came in.
    pub field: String,
    /// The client's file name, cleaned for display and storage (no path, no control characters).
    pub file_name: String,
    pub bytes: Bytes,
    /// Detected from the content.
    pub mime: &'static str,
}

impl Upload {
    /// A fresh storage key under `dir`: random, so names never collide or get guessed, and
    /// ending in the cleaned original name so a listing of the bucket stays readable.
    pub fn new_key(&self, dir: &str) -> String {
        format!("{dir}/{}/{}", Uuid::new_v4().simple(), self.file_name)
    }
}

/// A parsed body: fields and files. In a multipart body every value is a string and a repeated
/// key becomes an array of its values (so `shared_to=a&shared_to=b` is a list).
#[derive(Debug, Default)]
pub struct FormData {
    pub fields: Map<String, Value>,
    pub files: Vec<Upload>,
    pub multipart: bool,
    /// The request's headers and extensions, for `tenant()`.
    headers: HeaderMap,
    extensions: Extensions,
}

impl FormData {
    /// The caller's `Tenant`, opened after the body has been read: an upload handler that takes
    /// its `Tenant` from here holds no database connection while the client streams its file.
    /// (Requests without any credentials were already refused before the body was read.)
    pub async fn tenant(&self, state: &AppState) -> Result<Tenant, ApiError> {
        let (mut parts, ()) = Request::new(()).into_parts();
        parts.headers = self.headers.clone();
        parts.extensions = self.extensions.clone();
        Tenant::from_request_parts(&mut parts, state).await
    }

    /// The first file sent under any of `names`.
    pub fn take_file(&mut self, names: &[&str]) -> Option<Upload> {
        let i = self
            .files
            .iter()
            .position(|f| names.contains(&f.field.as_str()))?;
        Some(self.files.remove(i))
    }

    /// A scalar field; for a repeated multipart key, the last value (as Django's `QueryDict.get`).
    pub fn scalar(&self, key: &str) -> Option<&Value> {
        match self.fields.get(key)? {
            Value::Array(a) if self.multipart => a.last(),
            v => Some(v),
        }
    }

    /// A list of ids, however it was sent: a JSON list, repeated multipart fields, one field
    /// holding a JSON list (what the frontend puts in multipart bodies) or comma-separated ids.
    /// `None` when the key is absent; `Err` is the field's error message.
    pub fn ids(&self, key: &str) -> Option<Result<Vec<Uuid>, String>> {
        self.fields.get(key).map(id_list)
    }
}

/// See [`FormData::ids`].
pub fn id_list(value: &Value) -> Result<Vec<Uuid>, String> {
    let mut out: Vec<Uuid> = Vec::new();
    let mut push = |s: &str| -> Result<(), String> {
        let s = s.trim();
        let id =
            Uuid::parse_str(s).map_err(|_| format!("\u{201c}{s}\u{201d} is not a valid UUID."))?;
        if !out.contains(&id) {
            out.push(id);
        }
        Ok(())
    };
    fn strings(v: &Value, acc: &mut Vec<String>) -> Result<(), String> {
        match v {
            Value::Null => Ok(()),
            Value::Array(items) => items.iter().try_for_each(|i| strings(i, acc)),
            Value::String(s) if s.trim().starts_with('[') => {
                let inner: Value = serde_json::from_str(s.trim())
                    .map_err(|_| "Expected a list of items but got type \"str\".".to_string())?;
                strings(&inner, acc)
            }
            Value::String(s) => {
                acc.extend(
                    s.split(',')
                        .filter(|p| !p.trim().is_empty())
                        .map(str::to_string),
                );
                Ok(())
            }
            other => Err(format!(
                "Incorrect type. Expected pk value, received {other}."
            )),
        }
    }
    let mut raw = Vec::new();
    strings(value, &mut raw)?;
    for s in &raw {
        push(s)?;
    }
    Ok(out)
}

/// Bytes allowed for all non-file fields of one multipart body.
const FIELDS_LIMIT: usize = 256 * 1024;

fn too_large(field: &str, max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        serde_json::json!({ field: [format!("The file is too large: the limit is {}.", human_size(max))] }),
    )
}

pub fn human_size(n: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

fn body_too_large() -> ApiError {
    ApiError::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
}

impl FromRequest<AppState> for FormData {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if matches!(auth::credentials(req.headers()), Credentials::None) {
            return Err(ApiError::unauthenticated());
        }
        let headers = req.headers().clone();
        let extensions = req.extensions().clone();
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let max_file = state.storage.max_bytes;
        let multipart = content_type
            .to_ascii_lowercase()
            .starts_with("multipart/form-data");
        // Upload routes disable the global body limit; this is theirs. The files of one request
        // share UPLOAD_MAX_BYTES; the other fields get FIELDS_LIMIT.
        let limit = if multipart {
            max_file.saturating_add(FIELDS_LIMIT)
        } else {
            state.cfg.json_body_limit
        };
        let req = req.map(|b| Body::new(Limited::new(b, limit)));
        if !multipart {
            let bytes = Bytes::from_request(req, state).await.map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    body_too_large()
                } else {
                    ApiError::bad_request("Could not read the request body.")
                }
            })?;
            return Ok(FormData {
                fields: body::parse(&content_type, &bytes)?,
                headers,
                extensions,
                ..FormData::default()
            });
        }
        let mut mp = Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("Multipart form parse error - {e}")))?;
        let mut form = FormData {
            multipart: true,
            headers,
            extensions,
            ..FormData::default()
        };
        let mut files_size = 0usize;
        let mut fields_size = 0usize;
        loop {
            let mut field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return Err(multipart_error(e)),
            };
            let name = field.name().unwrap_or("").to_string();
            if let Some(file_name) = field.file_name().map(str::to_string) {
                let mut buf: Vec<u8> = Vec::new();
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            files_size += chunk.len();
                            if files_size > max_file {
                                return Err(too_large(&name, max_file));
                            }
                            buf.extend_from_slice(&chunk);
                        }
                        Ok(None) => break,
                        Err(e) => return Err(multipart_error(e)),
                    }
                }
                let file_name = clean_file_name(&file_name);
                let mime = sniff(&buf, &file_name).map_err(|m| ApiError::field(&name, m))?;
                form.files.push(Upload {
                    field: name,
                    file_name,
                    bytes: Bytes::from(buf),
                    mime,
                });
                continue;
            }
            let text = field.text().await.map_err(multipart_error)?;
            fields_size += text.len();
            if fields_size > FIELDS_LIMIT {
                return Err(body_too_large());
            }
            match form.fields.get_mut(&name) {
                Some(Value::Array(a)) => a.push(Value::String(text)),
                Some(prev) => *prev = Value::Array(vec![prev.take(), Value::String(text)]),
                None => {
                    form.fields.insert(name, Value::String(text));
                }
            }
        }
        body::reject_nul(&form.fields)?;
        Ok(form)
    }
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        body_too_large()
    } else {
        ApiError::bad_request(format!("Multipart form parse error - {}", e.body_text()))
    }
}

/// The last path component, without control characters or separators, at most 100 characters
/// (keeping the extension); never empty.
pub fn clean_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| {
            if matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|' | '%') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    let cleaned = if cleaned.is_empty() {
        "file".to_string()
    } else {
        cleaned
    };
    shorten(&cleaned, 100)
}

/// At most `max` characters, cutting the stem so the extension survives.
pub fn shorten(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_string();
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() && e.chars().count() < 10 => (s, format!(".{e}")),
        _ => (name, String::new()),
    };
    let keep = max.saturating_sub(ext.chars().count());
    format!("{}{ext}", stem.chars().take(keep).collect::<String>())
}

/// Types we accept, by the MIME type `infer` detects. Scripts, HTML, SVG and executables are out.
const ALLOWED: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/tiff",
    "image/heif",
    "image/avif",
    "image/vnd.microsoft.icon",
    "application/pdf",
    "application/rtf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/zip",
    "application/gzip",
    "application/x-tar",
    "application/x-7z-compressed",
    "application/vnd.rar",
    "audio/mpeg",
    "audio/x-wav",
    "video/mp4",
];

/// The detected MIME type if allowed, else the message for the field error. Content without
/// magic bytes is accepted as plain text (or CSV by its name) when it is UTF-8 without NULs.
pub fn sniff(bytes: &[u8], file_name: &str) -> Result<&'static str, String> {
    if bytes.is_empty() {
        return Err("The submitted file is empty.".into());
    }
    match infer::get(bytes) {
        Some(t) => ALLOWED
            .iter()
            .find(|a| **a == t.mime_type())
            .copied()
            .ok_or_else(|| format!("File type {} is not allowed.", t.mime_type())),
        None => match std::str::from_utf8(bytes) {
            // Markup (HTML, SVG, XML) is refused even when `infer` misses it: it can carry script.
            Ok(text)
                if text
                    .trim_start_matches('\u{feff}')
                    .trim_start()
                    .starts_with('<') =>
            {
                Err("File type text/html (markup) is not allowed.".into())
            }
            Ok(_) if !bytes.contains(&0) => Ok(if extension(file_name) == "csv" {
                "text/csv"
            } else {
                "text/plain"
            }),
            _ => Err("File type could not be recognised; it is not allowed.".into()),
        },
    }
}

pub fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Content-Type for a download, from the stored name; only types we accept, else a byte stream.
pub fn content_type_for_name(name: &str) -> &'static str {
    match extension(name).as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// Upstream's display hint for a file (`file_type()`): a kind and an icon class, by extension.
pub fn file_type(name: &str) -> (&'static str, &'static str) {
    let ext = extension(name);
    let e = ext.as_str();
    let is = |list: &[&str]| list.contains(&e);
    if is(&[
        "aif", "iff", "m3u", "m4a", "mid", "mp3", "mpa", "wav", "wma",
    ]) {
        ("audio", "fa fa-file-audio")
    } else if is(&[
        "3g2", "3gp", "asf", "avi", "flv", "m4v", "mov", "mp4", "mpg", "rm", "srt", "swf", "vob",
        "wmv",
    ]) {
        ("video", "fa fa-file-video")
    } else if is(&[
        "bmp", "dds", "gif", "jpg", "jpeg", "png", "psd", "pspimage", "tga", "thm", "tif", "tiff",
        "yuv", "webp",
    ]) {
        ("image", "fa fa-file-image")
    } else if is(&["indd", "pct", "pdf"]) {
        ("pdf", "fa fa-file-pdf")
    } else if is(&[
        "c", "cpp", "cs", "css", "go", "h", "html", "java", "js", "json", "php", "py", "rb", "rs",
        "sh", "sql", "swift", "ts", "xml", "yaml", "yml",
    ]) {
        ("code", "fa fa-file-code")
    } else if is(&[
        "doc", "docx", "log", "msg", "odt", "pages", "rtf", "tex", "txt", "wpd", "wps",
    ]) {
        ("text", "fa fa-file-alt")
    } else if is(&[
        "csv", "xls", "xlsx", "xlsm", "xlsb", "xltx", "xltm", "xlt", "ods",
    ]) {
        ("sheet", "fa fa-file-excel")
    } else if is(&["zip", "7z", "gz", "rar", "zipx", "ace", "tar"]) {
        ("zip", "fa fa-file-archive")
    } else {
        ("file", "fa fa-file")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_content_not_names() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff(png, "x.txt"), Ok("image/png"));
        assert_eq!(sniff(b"%PDF-1.7\n", "a.pdf"), Ok("application/pdf"));
        assert_eq!(sniff(b"a,b\n1,2\n", "t.csv"), Ok("text/csv"));
        assert_eq!(sniff(b"hello", "t.png"), Ok("text/plain"));
        assert!(sniff(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0", "x.pdf").is_err());
        assert!(sniff(b"<html><script>alert(1)</script></html>", "x.txt").is_err());
        assert!(sniff(b"  <svg xmlns=\"http://www.w3.org/2000/svg\"/>", "x.svg").is_err());
        assert!(sniff(b"\0\x01\x02binary", "x.txt").is_err());
        assert!(sniff(b"", "x.txt").is_err());
    }

    #[test]
    fn id_lists_in_every_shape() {
        let a = "2f1c1e9e-0d8b-4c3a-9a55-0d4f5f6a7b8c";
        let b = "9b7c5d3e-1f2a-4b6c-8d9e-0a1b2c3d4e5f";
        let want = vec![Uuid::parse_str(a).unwrap(), Uuid::parse_str(b).unwrap()];
        assert_eq!(id_list(&serde_json::json!([a, b])).unwrap(), want);
        assert_eq!(
            id_list(&serde_json::json!(format!("[\"{a}\", \"{b}\"]"))).unwrap(),
            want
        );
        assert_eq!(
            id_list(&serde_json::json!(format!("{a},{b}"))).unwrap(),
            want
        );
        assert_eq!(
            id_list(&serde_json::json!([format!("[\"{a}\"]"), b])).unwrap(),
            want
        );
        assert!(id_list(&serde_json::json!("")).unwrap().is_empty());
        assert!(id_list(&serde_json::json!(["nope"])).is_err());
    }

    #[test]
    fn file_names_are_cleaned() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("C:\\Users\\me\\a b.pdf"), "a b.pdf");
        assert_eq!(clean_file_name(".hidden"), "hidden");
        assert_eq!(clean_file_name("\u{0}"), "file");
        let long = format!("{}.pdf", "x".repeat(300));
        let s = clean_file_name(&long);
        assert_eq!(s.chars().count(), 100);
        assert!(s.ends_with(".pdf"));
        assert_eq!(shorten("abcdef.txt", 8), "abcd.txt");
    }

    #[test]
    fn file_types_like_upstream() {
        assert_eq!(file_type("a.TXT"), ("text", "fa fa-file-alt"));
        assert_eq!(file_type("a.csv"), ("sheet", "fa fa-file-excel"));
        assert_eq!(file_type("a"), ("file", "fa fa-file"));
        assert_eq!(file_type("a.pdf").1, "fa fa-file-pdf");
    }
}
