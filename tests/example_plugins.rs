//! Ensures the example plugins in Python, JavaScript and C
//! (`plugins/examples/<language>/build.sh`) build, and give exactly the
//! output of the Rust reference (`plugins/normalize`) on every corpus
//! message: through `hl7wasm plugin run`, and through a live channel whose
//! pipeline runs them. See plugins/examples/SPEC.md for the transform.
//!
//! The toolchains are installed by `.ci/run` (componentize-py from
//! tests/requirements.txt, `npm ci` for jco, plugins/examples/c/install-tools.sh);
//! a missing one fails the test with the build script's error.

#[path = "support/engine.rs"]
mod engine;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use engine::{eventually, exchange, field, install_plugin, start_channels};
use tokio::net::TcpStream;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every corpus message file, sorted, plus the sample ADT^A01.
fn corpus() -> Vec<PathBuf> {
    let mut files = vec![repo().join("tests/data/adt_a01.hl7")];
    let mut pending = vec![repo().join("../shared/corpus/hl7v2")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("the corpus is beside the repo") {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "hl7") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Builds the example in `language` with its script into `out`.
fn build(language: &str, out: &Path) -> PathBuf {
    let wasm = out.join(format!("normalize_{language}.wasm"));
    let script = repo().join(format!("plugins/examples/{language}/build.sh"));
    let output = Command::new("bash")
        .arg(&script)
        .arg(&wasm)
        .current_dir(script.parent().unwrap())
        .output()
        .expect("run the build script");
    assert!(
        output.status.success() && wasm.exists(),
        "{} failed:\n{}\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    wasm
}

/// `hl7wasm plugin run` of `wasm` on `files`: its output without the first
/// line (which names the build and its load time), and its exit code.
fn plugin_run(wasm: &Path, files: &[PathBuf]) -> (String, Option<i32>) {
    let output = Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .args(["plugin", "run"])
        .arg(wasm)
        .args(["--config", r#"{"test_family_names": ["TEST", "ZZTEST"]}"#])
        // Interpreted languages on a busy machine: the comparison is about
        // outputs, not the 100 ms default.
        .args(["--deadline-ms", "5000"])
        .args(files)
        .output()
        .expect("run hl7wasm plugin run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let body = stdout
        .split_once('\n')
        .map_or("", |(_, rest)| rest)
        .to_string();
    (body, output.status.code())
}

/// Compares `language`'s build with the Rust reference on the corpus, then
/// runs it in a live channel.
async fn same_as_rust(language: &str) {
    let out = tempfile::tempdir().unwrap();
    let wasm = build(language, out.path());
    let files = corpus();
    let reference = plugin_run(&support::plugin_path("normalize"), &files);
    let candidate = plugin_run(&wasm, &files);
    assert!(
        reference.0.contains("forward: 1 message(s)"),
        "{}",
        reference.0
    );
    assert!(
        reference.0.contains("(555)555-1234"),
        "the sample's phone is formatted"
    );
    if candidate != reference {
        let first = reference
            .0
            .lines()
            .zip(candidate.0.lines())
            .position(|(a, b)| a != b);
        panic!(
            "{language} differs from Rust (exit {:?} vs {:?}) at line {first:?}:\n{}",
            candidate.1,
            reference.1,
            first.map_or(String::new(), |i| format!(
                "rust: {}\n{language}: {}",
                reference.0.lines().nth(i).unwrap_or(""),
                candidate.0.lines().nth(i).unwrap_or("")
            ))
        );
    }
    live_channel(&wasm).await;
}

/// Runs the build as a channel's pipeline: a message comes out normalised
/// in a file, a test patient is filtered.
async fn live_channel(wasm: &Path) {
    let dir = tempfile::tempdir().unwrap();
    install_plugin(&dir, wasm);
    let files = dir.path().join("out");
    let config = format!(
        "[[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.pipeline]]\nplugin = \"normalize\"\ndeadline_ms = 5000\n\
         [[channels.destinations]]\nname = \"files\"\nto = {{ type = \"file\", dir = {files:?}, file_name = \"{{control_id}}.{{ext}}\" }}\n"
    );
    let engine = start_channels(dir, &config).await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let message = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|LIVE-1|P|2.5\rPID|1||7^^^H^MR||  doe ^jane||||||||1 555 555 1234\r";
    let ack = exchange(&mut stream, message.as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA");
    let test_patient =
        "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|LIVE-2|P|2.5\rPID|1||8^^^H^MR||Test^Pat\r";
    let ack = exchange(&mut stream, test_patient.as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA");
    let written = files.join("LIVE-1.hl7");
    eventually(
        Duration::from_secs(20),
        "the normalised message is written",
        || written.exists(),
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(&written).unwrap(),
        "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|LIVE-1|P|2.5\rPID|1||7^^^H^MR||DOE^JANE||||||||(555)555-1234\r"
    );
    let store = &engine.server.store;
    let filtered = store
        .messages()
        .map(Result::unwrap)
        .find(|m| m.control_id.as_deref() == Some("LIVE-2"))
        .unwrap();
    eventually(
        Duration::from_secs(20),
        "the test patient is filtered",
        || {
            store
                .status(filtered.id)
                .unwrap()
                .is_some_and(|s| s.state == hl7wasm::store::MessageState::Filtered)
        },
    )
    .await;
    assert!(!files.join("LIVE-2.hl7").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_matches_rust() {
    same_as_rust("python").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_matches_rust() {
    same_as_rust("js").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_matches_rust() {
    same_as_rust("c").await;
}
