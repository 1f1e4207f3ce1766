//! A small tmpfs to fill up, for tests of what happens when the disk is full.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A 2 MiB tmpfs mounted for one test, unmounted when dropped.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    /// Mounts a 2 MiB tmpfs on `dir`; fails the test when mounting is not allowed.
    pub fn mount(dir: &Path) -> Self {
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            output.status.success(),
            "this test needs to mount a 2 MiB tmpfs to fill the disk (run it as root, or in a \
             container with CAP_SYS_ADMIN): mount failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Writes a file until the file system is full.
pub fn fill(path: &Path) {
    use std::io::Write;
    let mut ballast = std::fs::File::create(path).expect("create ballast");
    let block = vec![0u8; 4096];
    while ballast.write_all(&block).is_ok() {}
    let _ = ballast.sync_all();
}
