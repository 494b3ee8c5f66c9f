//! The browser client's files over real HTTP on 127.0.0.1: MIME types,
//! gzip, ETag revalidation and the page shown when nothing is built.

mod http;

use std::io::Read;

use flate2::read::GzDecoder;
use http::{get, serve};
use starling_server::web::WebAssets;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn client_folder() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("index.html"), "<!doctype html><p>join</p>").expect("write");
    std::fs::create_dir(dir.path().join("pkg")).expect("mkdir");
    // A wasm-like body that compresses well and is above the gzip floor.
    let wasm: Vec<u8> = (0..20_000u32).map(|i| (i % 7) as u8).collect();
    std::fs::write(dir.path().join("pkg").join("client_bg.wasm"), &wasm).expect("write");
    (dir, wasm)
}

#[tokio::test]
async fn index_is_html_with_revalidation_headers() {
    let (dir, _) = client_folder();
    let addr = serve(WebAssets::load(dir.path()).expect("load").router()).await;
    let reply = get(addr, "/", &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(reply.header("cache-control"), Some("no-cache"));
    assert_eq!(reply.body, b"<!doctype html><p>join</p>");
    let etag = reply.header("etag").expect("etag").to_owned();

    let again = get(addr, "/index.html", &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
}

#[tokio::test]
async fn wasm_is_gzipped_only_when_accepted() {
    let (dir, wasm) = client_folder();
    let addr = serve(WebAssets::load(dir.path()).expect("load").router()).await;

    let zipped = get(
        addr,
        "/pkg/client_bg.wasm",
        &[("Accept-Encoding", "gzip, br")],
    )
    .await;
    assert_eq!(zipped.status, 200);
    assert_eq!(zipped.header("content-type"), Some("application/wasm"));
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert!(
        zipped.body.len() < wasm.len() / 4,
        "{} bytes",
        zipped.body.len()
    );
    let mut unzipped = Vec::new();
    GzDecoder::new(zipped.body.as_slice())
        .read_to_end(&mut unzipped)
        .expect("valid gzip");
    assert_eq!(unzipped, wasm);

    let plain = get(addr, "/pkg/client_bg.wasm", &[]).await;
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body, wasm);
}

#[tokio::test]
async fn only_get_and_head_are_allowed() {
    let (dir, _) = client_folder();
    let addr = serve(WebAssets::load(dir.path()).expect("load").router()).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request =
        format!("DELETE /index.html HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 405"), "{text}");
    assert!(text.to_lowercase().contains("allow: get, head"), "{text}");
}

#[tokio::test]
async fn gzip_body_has_its_own_etag() {
    let (dir, _) = client_folder();
    let addr = serve(WebAssets::load(dir.path()).expect("load").router()).await;
    let plain = get(addr, "/pkg/client_bg.wasm", &[]).await;
    let zipped = get(addr, "/pkg/client_bg.wasm", &[("Accept-Encoding", "gzip")]).await;
    let plain_tag = plain.header("etag").expect("etag").to_owned();
    let zipped_tag = zipped.header("etag").expect("etag").to_owned();
    assert_ne!(plain_tag, zipped_tag);
    let weak = format!("W/{zipped_tag}");
    let revalidated = get(
        addr,
        "/pkg/client_bg.wasm",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", &weak)],
    )
    .await;
    assert_eq!(revalidated.status, 304);
}

#[tokio::test]
async fn unknown_path_is_404() {
    let (dir, _) = client_folder();
    let addr = serve(WebAssets::load(dir.path()).expect("load").router()).await;
    let reply = get(addr, "/nothing-here.js", &[]).await;
    assert_eq!(reply.status, 404);
    assert!(String::from_utf8_lossy(&reply.body).contains("/nothing-here.js"));
}

#[tokio::test]
async fn folder_without_slash_redirects() {
    let (dir, _) = client_folder();
    let dashboard = dir.path().join("dashboard");
    std::fs::create_dir(&dashboard).expect("mkdir");
    std::fs::write(dashboard.join("index.html"), "<p>dashboard</p>").expect("write");
    let addr = serve(WebAssets::load(dir.path()).expect("load").router()).await;
    let reply = get(addr, "/dashboard?run=r1", &[]).await;
    assert_eq!(reply.status, 308);
    assert_eq!(reply.header("location"), Some("/dashboard/?run=r1"));
    let reply = get(addr, "/dashboard/", &[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"<p>dashboard</p>");
    // A file of the same name still wins, and a missing folder is 404.
    assert_eq!(get(addr, "/pkg", &[]).await.status, 404);
}

#[tokio::test]
async fn unbuilt_client_explains_how_to_build_it() {
    let addr = serve(WebAssets::empty().router()).await;
    let reply = get(addr, "/", &[]).await;
    assert_eq!(reply.status, 200);
    let text = String::from_utf8_lossy(&reply.body);
    assert!(text.contains("cargo xtask build-web"), "{text}");
}
