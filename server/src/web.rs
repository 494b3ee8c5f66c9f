//! The browser client's files (HTML, JS, CSS, wasm), read once from the
//! folder that `cargo xtask build-web` fills and served from memory with
//! their MIME type, an ETag, and gzip when the browser accepts it.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;

/// Text served at `/` when the browser client has not been built.
const NOT_BUILT: &str = "Starling federated-learning server\n\
    clients connect to the WebSocket endpoint /ws (binary frames, see proto/README.md)\n\
    health check: /healthz\n\
    The browser client is not built: run `cargo xtask build-web` and restart the server.\n";

/// Files smaller than this are sent as they are.
const MIN_GZIP_BYTES: usize = 1024;

/// Error while loading the client's files.
#[derive(Debug, thiserror::Error)]
#[error("failed to read web file {path}: {source}")]
pub struct WebError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// One file ready to serve.
#[derive(Debug)]
struct Asset {
    body: Bytes,
    gzip: Option<Bytes>,
    content_type: &'static str,
    /// Entity tag of the plain body.
    etag: HeaderValue,
    /// Entity tag of the gzip body, which is another representation.
    gzip_etag: HeaderValue,
}

/// The browser client's files by URL path (`index.html`, `pkg/x.wasm`).
#[derive(Debug, Default)]
pub struct WebAssets {
    files: HashMap<String, Asset>,
}

impl WebAssets {
    /// No files: `/` explains how to build the client.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Reads every file under `dir`. A missing folder gives no files, so a
    /// server without a built client still runs; any other read error
    /// fails. A `name.gz` next to `name` is served as its gzip encoding;
    /// other text and wasm files are compressed here.
    pub fn load(dir: &Path) -> Result<Self, WebError> {
        let mut assets = Self::default();
        if !dir.is_dir() {
            tracing::warn!(dir = %dir.display(), "browser client not built; serving no web files");
            return Ok(assets);
        }
        let mut paths = Vec::new();
        collect_files(dir, &mut paths)?;
        for path in &paths {
            let Ok(relative) = path.strip_prefix(dir) else {
                continue;
            };
            let key = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if key.ends_with(".gz") && paths.contains(&path.with_extension("")) {
                continue;
            }
            let body = read(path)?;
            let content_type = content_type(&key);
            let sibling = PathBuf::from(format!("{}.gz", path.display()));
            let gzip = if sibling.is_file() {
                Some(read(&sibling)?)
            } else if compressible(content_type) && body.len() >= MIN_GZIP_BYTES {
                Some(gzip(&body))
            } else {
                None
            };
            let etag = etag_of(&body, "");
            let gzip_etag = etag_of(&body, "-gz");
            assets.files.insert(
                key,
                Asset {
                    body,
                    gzip,
                    content_type,
                    etag,
                    gzip_etag,
                },
            );
        }
        tracing::info!(dir = %dir.display(), files = assets.files.len(), "loaded browser client files");
        Ok(assets)
    }

    /// True when a file is served at `path` (relative, e.g.
    /// `dashboard/index.html`).
    pub fn contains(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    /// True when no client files were found.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Routes every path the WebSocket router does not claim to these
    /// files.
    pub fn router(self) -> Router {
        Router::new()
            .fallback(serve_asset)
            .with_state(Arc::new(self))
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), WebError> {
    let error = |source| WebError {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(error)? {
        let path = entry.map_err(error)?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<Bytes, WebError> {
    std::fs::read(path)
        .map(Bytes::from)
        .map_err(|source| WebError {
            path: path.to_path_buf(),
            source,
        })
}

fn gzip(body: &[u8]) -> Bytes {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec only fails on allocation failure, which aborts.
    let _ = encoder.write_all(body);
    encoder.finish().map(Bytes::from).unwrap_or_default()
}

/// Returns a strong entity tag for `body`, with `suffix` marking the
/// encoding.
fn etag_of(body: &[u8], suffix: &str) -> HeaderValue {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    let tag = format!("\"{:016x}-{:x}{suffix}\"", hasher.finish(), body.len());
    HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// True when `If-None-Match` lists `*` or one of `tags`, compared weakly
/// (a `W/` prefix is ignored) as RFC 9110 requires for this header.
fn none_match(headers: &HeaderMap, tags: &[&HeaderValue]) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tags.iter().any(|known| known.as_bytes() == tag.as_bytes()))
}

fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map_or("", |(_, extension)| extension);
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type == "application/wasm"
        || content_type == "application/json"
        || content_type == "image/svg+xml"
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.trim().split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|param| param.trim().replace(' ', "") == "q=0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

async fn serve_asset(
    State(assets): State<Arc<WebAssets>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            format!("method {method} is not allowed on web files; use GET or HEAD\n"),
        )
            .into_response();
    }
    let path = uri.path().trim_start_matches('/');
    let key = if path.is_empty() || path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_owned()
    };
    let Some(asset) = assets.files.get(&key) else {
        if key == "index.html" {
            return (
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                NOT_BUILT,
            )
                .into_response();
        }
        if assets.files.contains_key(&format!("{path}/index.html")) {
            // A folder named without its slash: send the browser to the
            // folder so that the page's relative links resolve inside it.
            let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            let target = format!("/{path}/{query}");
            return match HeaderValue::from_str(&target) {
                Ok(location) => (
                    StatusCode::PERMANENT_REDIRECT,
                    [(header::LOCATION, location)],
                )
                    .into_response(),
                Err(_) => StatusCode::BAD_REQUEST.into_response(),
            };
        }
        let shown: String = path.chars().take(100).collect();
        return (StatusCode::NOT_FOUND, format!("not found: /{shown}\n")).into_response();
    };
    let gzip = asset.gzip.as_ref().filter(|_| accepts_gzip(&headers));
    let etag = if gzip.is_some() {
        &asset.gzip_etag
    } else {
        &asset.etag
    };
    let mut response = if none_match(&headers, &[&asset.etag, &asset.gzip_etag]) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if let Some(gzip) = gzip {
        let mut response = Response::new(Body::from(gzip.clone()));
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        Response::new(Body::from(asset.body.clone()))
    };
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    response_headers.insert(header::ETAG, etag.clone());
    // Names stay the same across builds, so the browser revalidates every
    // time and gets a 304 while the file is unchanged.
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response_headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    response_headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_by_extension() {
        assert_eq!(content_type("pkg/client_bg.wasm"), "application/wasm");
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }

    #[test]
    fn gzip_acceptance_follows_the_header() {
        let mut headers = HeaderMap::new();
        assert!(!accepts_gzip(&headers));
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip;q=0.8"),
        );
        assert!(accepts_gzip(&headers));
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0, deflate"),
        );
        assert!(!accepts_gzip(&headers));
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        assert!(!accepts_gzip(&headers));
    }

    #[test]
    fn etag_changes_with_content_and_encoding() {
        assert_eq!(etag_of(b"abc", ""), etag_of(b"abc", ""));
        assert_ne!(etag_of(b"abc", ""), etag_of(b"abd", ""));
        assert_ne!(etag_of(b"abc", ""), etag_of(b"abc", "-gz"));
    }

    #[test]
    fn if_none_match_forms_match() {
        let tag = etag_of(b"abc", "");
        let text = tag.to_str().unwrap().to_owned();
        for header_value in [
            text.clone(),
            format!("W/{text}"),
            format!("\"other\", {text}"),
            "*".to_owned(),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::IF_NONE_MATCH,
                HeaderValue::from_str(&header_value).unwrap(),
            );
            assert!(none_match(&headers, &[&tag]), "{header_value}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!none_match(&headers, &[&tag]));
    }

    #[test]
    fn missing_folder_loads_nothing() {
        let assets = WebAssets::load(Path::new("/nonexistent/starling-web")).unwrap();
        assert!(assets.is_empty());
    }
}
