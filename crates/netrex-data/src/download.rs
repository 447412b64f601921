//! Fetching archives into the cache: streamed to a temporary file while hashed, checked
//! against the published MD5, then unpacked into a temporary folder that is renamed into
//! place, so an interrupted download never leaves a half-written dataset behind.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::{Digest, Md5};

use crate::error::{DataError, Result};
use crate::movielens::MovieLens;

/// An archive to fetch: where from, its MD5, and the folder it unpacks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Archive {
    /// Address (http or https).
    pub url: String,
    /// Expected MD5, lower-case hex.
    pub md5: String,
    /// The top-level folder inside the archive.
    pub folder: String,
}

impl Archive {
    /// The official archive of a MovieLens release, if it has a published checksum.
    pub fn movielens(dataset: MovieLens) -> Result<Archive> {
        let md5 = dataset.md5().ok_or_else(|| {
            DataError::param(
                "dataset",
                format!(
                    "{dataset} has no published checksum recorded in netrex; download {} yourself \
                     and pass its folder",
                    dataset.url()
                ),
            )
        })?;
        Ok(Archive {
            url: dataset.url(),
            md5: md5.to_owned(),
            folder: dataset.folder().to_owned(),
        })
    }
}

/// Downloads and unpacks the official archive of `dataset` into `cache`; returns its folder.
pub fn fetch_movielens(dataset: MovieLens, cache: &Path) -> Result<PathBuf> {
    fetch(&Archive::movielens(dataset)?, cache)
}

/// Downloads `archive` into `cache`, verifies it and unpacks it; returns the unpacked folder.
/// An existing folder is returned as is.
pub fn fetch(archive: &Archive, cache: &Path) -> Result<PathBuf> {
    let target = cache.join(&archive.folder);
    if target.is_dir() {
        return Ok(target);
    }
    fs::create_dir_all(cache).map_err(|e| DataError::io(cache, e))?;
    let zip_path = cache.join(format!("{}.zip", archive.folder));
    download_verified(archive, &zip_path)?;
    let result = unpack(&zip_path, cache, &archive.folder);
    // the archive is not needed once unpacked, and is useless if unpacking failed
    let _ = fs::remove_file(&zip_path);
    result
}

fn download_verified(archive: &Archive, zip_path: &Path) -> Result<()> {
    let err = |message: String| DataError::Download {
        url: archive.url.clone(),
        message,
    };
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30))
        .timeout_read(Duration::from_secs(120))
        .build();
    let response = agent
        .get(&archive.url)
        .call()
        .map_err(|e| err(e.to_string()))?;
    let part = zip_path.with_extension("zip.part");
    let mut file = fs::File::create(&part).map_err(|e| DataError::io(&part, e))?;
    let mut reader = response.into_reader();
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    let copied: std::result::Result<(), DataError> = loop {
        match reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                hasher.update(&buf[..n]);
                if let Err(e) = file.write_all(&buf[..n]) {
                    break Err(DataError::io(&part, e));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(err(format!("connection broke off: {e}"))),
        }
    };
    drop(file);
    if let Err(e) = copied {
        let _ = fs::remove_file(&part);
        return Err(e);
    }
    let actual = format!("{:x}", hasher.finalize());
    if !actual.eq_ignore_ascii_case(&archive.md5) {
        let _ = fs::remove_file(&part);
        return Err(DataError::Checksum {
            path: zip_path.to_owned(),
            expected: archive.md5.clone(),
            actual,
        });
    }
    fs::rename(&part, zip_path).map_err(|e| DataError::io(zip_path, e))
}

fn unpack(zip_path: &Path, cache: &Path, folder: &str) -> Result<PathBuf> {
    let bad = |message: String| DataError::Archive {
        path: zip_path.to_owned(),
        message,
    };
    let file = fs::File::open(zip_path).map_err(|e| DataError::io(zip_path, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let staging = cache.join(format!(".{folder}.unpacking"));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).map_err(|e| DataError::io(&staging, e))?;
    let result = (|| {
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
            // refuses absolute paths and `..`: an archive must not write outside the cache
            let name = entry
                .enclosed_name()
                .ok_or_else(|| bad(format!("entry {:?} escapes its folder", entry.name())))?;
            let out = staging.join(name);
            if entry.is_dir() {
                fs::create_dir_all(&out).map_err(|e| DataError::io(&out, e))?;
                continue;
            }
            if let Some(parent) = out.parent() {
                fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
            }
            let mut w = fs::File::create(&out).map_err(|e| DataError::io(&out, e))?;
            std::io::copy(&mut entry, &mut w)
                .map_err(|e| bad(format!("{}: {e}", out.display())))?;
        }
        let unpacked = staging.join(folder);
        if !unpacked.is_dir() {
            return Err(bad(format!("no top-level folder {folder:?}")));
        }
        let target = cache.join(folder);
        fs::rename(&unpacked, &target).map_err(|e| DataError::io(&target, e))?;
        Ok(target)
    })();
    let _ = fs::remove_dir_all(&staging);
    result
}
