//! The download path against a local HTTP server on 127.0.0.1 serving archives the test builds.
#![cfg(feature = "download")]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use md5::{Digest, Md5};
use netrex_data::download::{fetch, Archive};
use netrex_data::ingest::load_movielens_from;
use netrex_data::{DataError, MovieLens};

fn small_archive() -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default();
        zip.add_directory("ml-100k/", opts).unwrap();
        zip.start_file("ml-100k/u.data", opts).unwrap();
        zip.write_all(b"1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t878542960\n")
            .unwrap();
        zip.start_file("ml-100k/u.item", opts).unwrap();
        zip.write_all(b"1|Toy Story (1995)|01-Jan-1995\n2|GoldenEye (1995)|01-Jan-1995\n")
            .unwrap();
        zip.finish().unwrap();
    }
    buf.into_inner()
}

/// Serves `body` once per connection, `connections` times; `declared` is the Content-Length
/// sent (more than the body means the connection breaks off early). Stops by itself.
fn serve(body: Vec<u8>, declared: usize, connections: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let mut s = stream.unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\nContent-Type: application/zip\r\nConnection: close\r\n\r\n");
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    format!("http://{addr}/ml-100k.zip")
}

fn md5_hex(bytes: &[u8]) -> String {
    format!("{:x}", Md5::digest(bytes))
}

/// The ML-100K archive served at `url`, expected to hash as `bytes` do.
fn ml_100k(url: String, bytes: &[u8]) -> Archive {
    Archive {
        url,
        md5: md5_hex(bytes),
        folder: "ml-100k".into(),
    }
}

#[test]
fn downloads_verifies_and_unpacks() {
    let zip = small_archive();
    let url = serve(zip.clone(), zip.len(), 1);
    let cache = common::temp_dir("dl-ok");
    let archive = ml_100k(url, &zip);
    let dir = fetch(&archive, &cache).unwrap();
    assert_eq!(dir, cache.join("ml-100k"));
    let data = load_movielens_from(MovieLens::Ml100k, &dir, None).unwrap();
    assert_eq!(data.interactions.len(), 3);
    assert_eq!(data.title(1), Some("GoldenEye (1995)"));
    // nothing left over: no archive, no partial files, no staging folder
    let mut left: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, vec!["ml-100k".to_string()]);
    // a second fetch uses the cache and makes no request (the server only answers once)
    assert_eq!(fetch(&archive, &cache).unwrap(), dir);
}

#[test]
fn truncated_transfer_is_an_error_and_leaves_nothing() {
    let zip = small_archive();
    let cut = zip[..zip.len() / 2].to_vec();
    let url = serve(cut, zip.len(), 1);
    let cache = common::temp_dir("dl-cut");
    let archive = ml_100k(url, &zip);
    let err = fetch(&archive, &cache).unwrap_err();
    assert!(
        matches!(err, DataError::Download { .. } | DataError::Checksum { .. }),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
}

/// The small archive, its last 40 bytes cut off, and a server of the cut one.
fn truncated_archive() -> (Vec<u8>, Vec<u8>, String) {
    let zip = small_archive();
    let cut = zip[..zip.len() - 40].to_vec();
    let url = serve(cut.clone(), cut.len(), 1);
    (zip, cut, url)
}

#[test]
fn truncated_archive_fails_its_checksum() {
    let (zip, _, url) = truncated_archive();
    let cache = common::temp_dir("dl-md5");
    let archive = ml_100k(url, &zip);
    let err = fetch(&archive, &cache).unwrap_err();
    assert!(matches!(err, DataError::Checksum { .. }), "{err}");
    assert!(err.to_string().contains(&md5_hex(&zip)), "{err}");
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
}

#[test]
fn archive_that_matches_but_is_corrupt_is_an_archive_error() {
    let (_, cut, url) = truncated_archive();
    let cache = common::temp_dir("dl-corrupt");
    let archive = ml_100k(url, &cut);
    let err = fetch(&archive, &cache).unwrap_err();
    assert!(matches!(err, DataError::Archive { .. }), "{err}");
    assert!(!cache.join("ml-100k").exists());
}

#[test]
fn official_archives_have_published_checksums() {
    assert_eq!(
        Archive::movielens(MovieLens::Ml100k).unwrap().md5,
        "0e33842e24a9c977be4e0107933c0723"
    );
    assert!(Archive::movielens(MovieLens::Latest).is_err());
}
