//! Ensures that `hl7wasm plugin run` runs a plugin on message files and
//! prints each output or error, and that its exit code tells whether every
//! message succeeded.

mod support;

use std::process::{Command, Output};

use support::plugin_path;

fn hl7wasm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .args(args)
        .output()
        .expect("run hl7wasm")
}

/// `hl7wasm plugin run <built plugin> <args...>`.
fn plugin_run(package: &str, args: &[&str]) -> Output {
    let plugin = plugin_path(package);
    let mut all = vec!["plugin", "run", plugin.to_str().unwrap()];
    all.extend_from_slice(args);
    hl7wasm(&all)
}

fn sample() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/adt_a01.hl7").to_string()
}

#[test]
fn prints_each_forwarded_message_with_its_content_type() {
    let output = plugin_run("passthrough", &[&sample()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("(ADT^A01, MSH-10 MSG00001)"), "{stdout}");
    assert!(
        stdout.contains("forward: 1 message(s)\n--- application/hl7-v2+er7\nMSH|^~\\&|ADMIT|"),
        "{stdout}"
    );
}

#[test]
fn applies_the_plugin_config() {
    let output = plugin_run(
        "passthrough",
        &["--config", r#"{"drop_types": ["ADT^*"]}"#, &sample()],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        stdout.contains("filtered: message type is in drop_types"),
        "{stdout}"
    );
}

#[test]
fn a_refused_config_fails_with_the_plugins_reason() {
    let output = plugin_run(
        "passthrough",
        &["--config", r#"{"drop_types": 7}"#, &sample()],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("drop_types: expected a list of strings"),
        "{stderr}"
    );
}

#[test]
fn a_failing_message_is_reported_and_sets_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let message = std::fs::read_to_string(sample())
        .unwrap()
        .replace("ACCT1001", "HOSTILE:panic");
    let file = dir.path().join("panic.hl7");
    std::fs::write(&file, message).unwrap();
    let output = plugin_run("hostile", &[file.to_str().unwrap(), &sample()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("rejected (trap): plugin panicked"),
        "{stdout}"
    );
    assert!(
        stdout.contains("hostile plugin panics on purpose"),
        "{stdout}"
    );
    assert!(
        stdout.contains("forward: 1 message(s)"),
        "the next file still runs: {stdout}"
    );
}

#[test]
fn a_file_that_is_not_hl7_names_the_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("garbage.hl7");
    std::fs::write(&file, "hello, this is not HL7\r").unwrap();
    let output = plugin_run("passthrough", &[file.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout.contains("garbage.hl7") && stdout.contains("no MSH segment at byte 0"),
        "{stdout}"
    );
}
