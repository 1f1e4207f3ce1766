//! Ensures that `hl7wasm parse` prints messages as JSON keyed by terser
//! path with decoded values, splits batches, and names the file and the
//! position of malformed input.

use std::process::{Command, Output};

use serde_json::Value;

fn parse(files: &[&std::path::Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .arg("parse")
        .args(files)
        .output()
        .expect("run hl7wasm parse")
}

fn documents(stdout: &[u8]) -> Vec<Value> {
    serde_json::Deserializer::from_slice(stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .expect("stdout is a stream of JSON documents")
}

#[test]
fn prints_fields_components_and_repetitions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("adt.hl7");
    std::fs::write(
        &file,
        "MSH|^~\\&|APP|FAC|||20240101||ADT^A01|CTRL1|P|2.5\rPID|1||1^^^H^MR~2^^^S^SS||O\\T\\BRIEN^ANN&X\r",
    )
    .unwrap();
    let output = parse(&[&file]);
    assert!(output.status.success());
    let docs = documents(&output.stdout);
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    assert_eq!(doc["control_id"], "CTRL1");
    assert_eq!(doc["message_type"], "ADT^A01");
    let pid = &doc["segments"][1]["fields"];
    assert_eq!(pid["PID-3"], serde_json::json!(["1", "", "", "H", "MR"]));
    assert_eq!(pid["PID-3[2]"][4], "SS");
    assert_eq!(pid["PID-5"], serde_json::json!(["O&BRIEN", ["ANN", "X"]]));
}

#[test]
fn splits_a_batch_into_messages() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("batch.hl7");
    std::fs::write(
        &file,
        "FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&|A|B|||1||ADT^A01|M1|P|2.5\rMSH|^~\\&|A|B|||1||ADT^A08|M2|P|2.5\rBTS|2\rFTS|1\r",
    )
    .unwrap();
    let output = parse(&[&file]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let ids: Vec<Value> = documents(&output.stdout)
        .iter()
        .map(|d| d["control_id"].clone())
        .collect();
    assert_eq!(ids, vec![Value::from("M1"), Value::from("M2")]);
}

#[test]
fn malformed_input_names_the_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.hl7");
    std::fs::write(&bad, "MSH|^~|A\r").unwrap();
    let output = parse(&[&bad]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("bad.hl7"), "{stderr}");
    assert!(
        stderr.contains("MSH-2") && stderr.contains("at byte"),
        "{stderr}"
    );
}

/// Ensures that a reader that stops early (`hl7wasm parse … | head -1`)
/// ends the command quietly: success, and no panic about a broken pipe.
/// The output is megabytes, far more than a pipe holds, so the command is
/// still writing when the pipe closes.
#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.hl7");
    let message = "MSH|^~\\&|APP|FAC|||20240101||ADT^A01|CTRL|P|2.5\rPID|1||1^^^H^MR||DOE^ANN\r";
    std::fs::write(&file, message.repeat(5_000)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .arg("parse")
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty(), "it printed");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
