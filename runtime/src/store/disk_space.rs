//! How much room the store's file system has left, for the alert that
//! warns before a full disk turns every ACK into AE.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A file system's size and the room left in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskSpace {
    /// Bytes an unprivileged process may still write.
    pub available_bytes: u64,
    /// The file system's size in bytes.
    pub total_bytes: u64,
}

impl DiskSpace {
    /// The space of the file system that holds `path`.
    ///
    /// # Errors
    ///
    /// When `statvfs` fails, for example because `path` is gone.
    pub fn of(path: &Path) -> io::Result<DiskSpace> {
        let path = CString::new(path.as_os_str().as_bytes())
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: `path` is a NUL-terminated string and `stats` points to
        // writable memory of the right type; statvfs fills it on success.
        let stats = unsafe {
            if libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) != 0 {
                return Err(io::Error::last_os_error());
            }
            stats.assume_init()
        };
        let block = stats.f_frsize;
        Ok(DiskSpace {
            available_bytes: stats.f_bavail.saturating_mul(block),
            total_bytes: stats.f_blocks.saturating_mul(block),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_has_room_and_a_missing_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let space = DiskSpace::of(dir.path()).unwrap();
        assert!(space.total_bytes > 0);
        assert!(space.available_bytes <= space.total_bytes);
        assert!(DiskSpace::of(&dir.path().join("missing")).is_err());
    }
}
