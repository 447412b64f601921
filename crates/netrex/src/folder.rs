//! A model folder claimed by one run at a time: a lock file that a second writer meets as a
//! clear "in use" error (two fits saving into one folder used to remove each other's
//! checkpoint files mid-write), and a folder known writable before any training.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::plan::PlanError;

/// The lock file's name inside a model folder.
pub const LOCK_FILE: &str = ".netrex.lock";

/// A model folder this process writes into; the lock goes when it is dropped.
#[derive(Debug)]
pub struct FolderLock {
    dir: PathBuf,
}

impl FolderLock {
    /// Creates `dir` if needed and claims it: an error if it cannot be written, or if another
    /// live process holds it. A lock left by a process that has ended (a killed fit) is taken
    /// over.
    pub fn claim(dir: &Path) -> Result<FolderLock, PlanError> {
        let unwritable = |e: std::io::Error| PlanError::Io {
            path: dir.to_owned(),
            message: format!("cannot write the model folder: {e}"),
        };
        fs::create_dir_all(dir).map_err(unwritable)?;
        let lock = dir.join(LOCK_FILE);
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(mut file) => {
                    write!(file, "{}", std::process::id()).map_err(unwritable)?;
                    return Ok(FolderLock {
                        dir: dir.to_owned(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&lock).unwrap_or_default();
                    let pid = holder.trim().parse::<u32>().ok();
                    if pid.is_some_and(alive) {
                        return Err(PlanError::Io {
                            path: dir.to_owned(),
                            message: format!(
                                "in use by another netrex run (process {}): wait for it, or \
                                 save into another folder",
                                holder.trim()
                            ),
                        });
                    }
                    // its process has ended: the lock is stale
                    let _ = fs::remove_file(&lock);
                }
                Err(e) => return Err(unwritable(e)),
            }
        }
        Err(PlanError::Io {
            path: dir.to_owned(),
            message: "another netrex run claimed the folder at the same moment".into(),
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(self.dir.join(LOCK_FILE));
    }
}

/// Whether process `pid` is running (Linux: its `/proc` entry; elsewhere a lock is taken as
/// held, except by this process's own id, which cannot be another run).
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return false;
    }
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_is_refused_until_the_first_ends() {
        let dir = std::env::temp_dir().join(format!("netrex-lock-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let first = FolderLock::claim(&dir).unwrap();
        // a live holder (the test's parent process stands in for another run)
        let parent = std::os::unix::process::parent_id();
        fs::write(dir.join(LOCK_FILE), parent.to_string()).unwrap();
        let err = FolderLock::claim(&dir).unwrap_err().to_string();
        assert!(err.contains("in use by another netrex run"), "{err}");
        // a dead holder: taken over
        fs::write(dir.join(LOCK_FILE), "4000000000").unwrap();
        let second = FolderLock::claim(&dir).unwrap();
        drop(first);
        drop(second);
        assert!(!dir.join(LOCK_FILE).exists());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unwritable_folder_is_an_error_before_any_work() {
        let err = FolderLock::claim(Path::new("/proc/netrex-cannot-be-here")).unwrap_err();
        assert!(
            err.to_string().contains("cannot write the model folder"),
            "{err}"
        );
    }
}
