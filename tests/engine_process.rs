//! Ensures that `hl7wasm serve`, run as a real child process, opts out of
//! transparent huge pages, which only inflated its resident size.

#[path = "support/process.rs"]
mod process;

use process::{free_address, spawn_engine, wait_until_listening};

#[tokio::test]
async fn the_engine_runs_without_transparent_huge_pages() {
    let dir = tempfile::tempdir().unwrap();
    let channel = free_address();
    let config = dir.path().join("hl7wasm.toml");
    let text = format!(
        "[storage]\ndir = {store:?}\n\n[plugins]\ndir = {plugins:?}\ncache_dir = {cache:?}\n\n\
         [[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"{channel}\"\n",
        store = dir.path().join("store"),
        plugins = dir.path().join("plugins"),
        cache = dir.path().join("plugin-cache"),
    );
    std::fs::write(&config, text).unwrap();
    let mut child = spawn_engine(&config, None);
    wait_until_listening(channel).await;

    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    // Kernels before 5.0 do not report the flag.
    if let Some(line) = status.lines().find(|line| line.starts_with("THP_enabled:")) {
        assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    }
}
