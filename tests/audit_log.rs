//! Ensures that the audit log records, as one JSON object per line, the
//! connection, the message by control ID (stored, ACK code, processed,
//! delivered) and the administrator's action, with no patient name, and
//! goes on in a new file after rotation (the file moved away, SIGHUP, which
//! also applies a channel added to the configuration file): the
//! engine runs as a real child process, is sent real MLLP messages, is
//! called over real HTTP and is killed before the files are read.

#[path = "support/admin.rs"]
mod admin;
#[path = "support/engine.rs"]
mod engine;

#[path = "support/process.rs"]
mod process;

use std::path::Path;
use std::time::{Duration, Instant};

use admin::Api;
use process::{free_address, spawn_engine, wait_until_listening};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const OPERATOR: &str = "operator-token-0123456789";
const VIEWER: &str = "viewer-token-0123456789";
const CONTROL_ID: &str = "AUDIT-0001";
const PATIENT: &str = "ZANZIBAR^QUILLFEATHER";

/// The audit log's lines, each parsed as a JSON object.
fn read_lines(file: &Path) -> (String, Vec<Value>) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let lines = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    (text, lines)
}

/// The first line whose `message` is `message` and whose `field` is
/// `value`, polling until it is written.
async fn line(file: &Path, message: &str, field: &str, value: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (text, lines) = read_lines(file);
        if let Some(line) = lines
            .into_iter()
            .find(|line| line["message"] == message && line[field] == value)
        {
            return line;
        }
        assert!(
            Instant::now() < deadline,
            "no {message:?} line with {field} {value:?} in:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_audit_log_records_events_without_phi() {
    let dir = tempfile::tempdir().unwrap();
    let (channel, admin) = (free_address(), free_address());
    let audit_file = dir.path().join("logs/audit.jsonl");
    let config = dir.path().join("hl7wasm.toml");
    let text = format!(
        "[storage]\ndir = {store:?}\n\n[plugins]\ndir = {plugins:?}\ncache_dir = {cache:?}\n\n\
         [audit]\nfile = {audit_file:?}\n\n\
         [admin]\nlisten = \"{admin}\"\n\
         tokens = [{{ name = \"oncall\", token = \"{OPERATOR}\", role = \"operator\" }}]\n\n\
         [[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"{channel}\"\n\
         [[channels.destinations]]\nname = \"files\"\nto = {{ type = \"file\", dir = {out:?} }}\n",
        store = dir.path().join("store"),
        plugins = dir.path().join("plugins"),
        cache = dir.path().join("plugin-cache"),
        out = dir.path().join("out"),
    );
    std::fs::write(&config, text).unwrap();
    let mut child = spawn_engine(&config, None);
    wait_until_listening(channel).await;

    let mut stream = TcpStream::connect(channel).await.unwrap();
    let sender = stream.local_addr().unwrap();
    let message = format!(
        "MSH|^~\\&|SENDER|FAC|RECV|RFAC|20240101120000||ADT^A01^ADT_A01|{CONTROL_ID}|P|2.5.1\r\
         PID|1||42^^^H^MR||{PATIENT}||19800101|F\r"
    );
    let ack = engine::exchange(&mut stream, message.as_bytes()).await;
    assert_eq!(engine::field(&ack, "MSA-1"), "AA", "{ack}");
    stream.shutdown().await.unwrap();
    drop(stream);

    let (status, purged) = Api::at(admin)
        .post(
            "/api/v1/dead-letters/purge",
            OPERATOR,
            &serde_json::json!({}),
        )
        .await;
    assert!(status.is_success(), "{status}: {purged}");

    let peer = sender.to_string();
    let opened = line(&audit_file, "Connection opened.", "peer", &peer).await;
    assert_eq!(opened["channel"], "test", "{opened}");
    let stored = line(&audit_file, "Message stored.", "control_id", CONTROL_ID).await;
    assert_eq!(stored["message_type"], "ADT^A01", "{stored}");
    assert!(stored["id"].is_u64(), "{stored}");
    let ack_line = line(&audit_file, "ACK sent.", "control_id", CONTROL_ID).await;
    assert_eq!(ack_line["code"], "AA", "{ack_line}");
    line(&audit_file, "Message processed.", "control_id", CONTROL_ID).await;
    let delivered = line(&audit_file, "Delivered.", "control_id", CONTROL_ID).await;
    assert_eq!(delivered["destination"], "files", "{delivered}");
    line(&audit_file, "Connection closed.", "peer", &peer).await;
    let action = line(&audit_file, "Admin action done.", "who", "oncall").await;
    assert_eq!(action["action"], "dead_letters.purge", "{action}");

    // Rotation: the file is moved away and the engine told with SIGHUP;
    // the next lines go to a new file under the configured name, and the
    // engine goes on. The same signal applies a channel and a token added
    // to the configuration file meanwhile; the token is logged by name.
    let rotated = dir.path().join("logs/audit.jsonl.1");
    std::fs::rename(&audit_file, &rotated).unwrap();
    let added = free_address();
    let viewer = format!("{{ name = \"grafana\", token = \"{VIEWER}\", role = \"viewer\" }}]");
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "role = \"operator\" }]",
        &format!("role = \"operator\" }}, {viewer}"),
        1,
    ) + &format!(
        "\n[[channels]]\nname = \"added\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"{added}\"\n"
    );
    std::fs::write(&config, text).unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill takes no pointers; it signals our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    line(&audit_file, "Audit log reopened.", "target", "audit").await;
    let reloaded = line(&audit_file, "Configuration reloaded.", "target", "audit").await;
    assert_eq!(reloaded["started"], "[\"added\"]", "{reloaded}");
    assert_eq!(reloaded["settings"], "[\"admin.tokens\"]", "{reloaded}");
    let tokens = line(&audit_file, "Admin tokens changed.", "added", "grafana").await;
    assert_eq!(tokens["removed"], "", "{tokens}");
    let (status, _) = Api::at(admin).get("/api/v1/channels", Some(VIEWER)).await;
    assert!(status.is_success(), "the new token is accepted: {status}");
    wait_until_listening(added).await;
    let mut stream = TcpStream::connect(added).await.unwrap();
    let ack = engine::exchange(
        &mut stream,
        message.replace(CONTROL_ID, "ADDED-1").as_bytes(),
    )
    .await;
    assert_eq!(engine::field(&ack, "MSA-1"), "AA", "{ack}");
    let mut stream = TcpStream::connect(channel).await.unwrap();
    let after = message.replace(CONTROL_ID, "AUDIT-0002");
    let ack = engine::exchange(&mut stream, after.as_bytes()).await;
    assert_eq!(engine::field(&ack, "MSA-1"), "AA", "{ack}");
    line(&audit_file, "Message stored.", "control_id", "AUDIT-0002").await;
    let (old, _) = read_lines(&rotated);
    assert!(
        old.contains(CONTROL_ID) && !old.contains("AUDIT-0002"),
        "{old}"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP stopped the engine"
    );

    child.kill().unwrap();
    child.wait().unwrap();
    for file in [&rotated, &audit_file] {
        let (text, lines) = read_lines(file);
        for line in &lines {
            assert_eq!(line["target"], "audit", "{line}");
            assert!(line["timestamp"].is_string(), "{line}");
            assert!(line["level"].is_string(), "{line}");
        }
        for part in PATIENT.split('^') {
            assert!(!text.contains(part), "the patient name is in:\n{text}");
        }
        for secret in [OPERATOR, VIEWER] {
            assert!(!text.contains(secret), "a token's secret is in:\n{text}");
        }
    }
}

/// A file source names files in the audit log by reference, since senders
/// put patient names in them, unless `show_file_names` asks for names.
#[tokio::test]
async fn file_names_stay_out_of_the_audit_log_unless_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let audit_file = dir.path().join("audit.jsonl");
    let inbox = |channel: &str| dir.path().join(channel);
    let file_channel = |name: &str, extra: &str| {
        format!(
            "[[channels]]\nname = \"{name}\"\n[channels.source]\ntype = \"file\"\ndir = {:?}\n\
             poll_interval_ms = 50\nmin_age_ms = 0\n{extra}\n",
            inbox(name)
        )
    };
    let config = dir.path().join("hl7wasm.toml");
    let text = format!(
        "[storage]\ndir = {:?}\n\n[audit]\nfile = {audit_file:?}\n\n{}{}",
        dir.path().join("store"),
        file_channel("hidden", ""),
        file_channel("shown", "show_file_names = true"),
    );
    std::fs::write(&config, text).unwrap();
    for channel in ["hidden", "shown"] {
        std::fs::create_dir_all(inbox(channel)).unwrap();
    }
    let message = "MSH|^~\\&|SENDER|FAC|RECV|RFAC|20240101120000||ADT^A01^ADT_A01|F-1|P|2.5.1\r\
                   PID|1||42^^^H^MR||DOE^JANE||19800101|F\r";
    let (good, bad) = ("DOE_JANE_MRN4711.hl7", "ROE_RICHARD_MRN0815.hl7");
    let mut child = spawn_engine(&config, None);
    for channel in ["hidden", "shown"] {
        std::fs::write(inbox(channel).join(good), message).unwrap();
        std::fs::write(inbox(channel).join(bad), "not HL7 at all").unwrap();
    }

    let (good_ref, bad_ref) = (
        hl7wasm::ingest::file_reference(good),
        hl7wasm::ingest::file_reference(bad),
    );
    let read = line(&audit_file, "File read.", "file", &good_ref).await;
    assert_eq!(
        (&read["channel"], &read["outcome"]),
        (&"hidden".into(), &"done".into())
    );
    let refused = line(&audit_file, "File read.", "file", &bad_ref).await;
    assert_eq!(refused["outcome"], "error", "{refused}");
    let shown = line(&audit_file, "File read.", "file", good).await;
    assert_eq!(shown["channel"], "shown", "{shown}");
    line(&audit_file, "File read.", "file", bad).await;
    let report = std::fs::read_to_string(
        inbox("hidden")
            .join("error")
            .join(format!("{bad}.errors.txt")),
    )
    .unwrap();
    assert!(
        report.ends_with(&format!("The audit log names this file {bad_ref}.\n")),
        "{report}"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    let (text, lines) = read_lines(&audit_file);
    let hidden: String = lines
        .iter()
        .filter(|line| line["channel"] == "hidden")
        .map(Value::to_string)
        .collect();
    assert!(hidden.contains(&good_ref), "{text}");
    for part in ["DOE", "JANE", "ROE", "RICHARD", "4711", "0815"] {
        assert!(!hidden.contains(part), "{part} is in:\n{text}");
    }
}
