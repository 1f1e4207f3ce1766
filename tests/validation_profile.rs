//! Ensures that a channel's conformance profile (DESIGN.md's "validate
//! (profile)" step) refuses a message that breaks it with AR and one ERR
//! segment per breach, stores nothing and counts it, while a message with
//! only warnings is stored and ACKed AA with its warnings, all over MLLP.

#[path = "support/admin.rs"]
mod admin;
#[path = "support/engine.rs"]
mod engine;

use admin::Api;
use engine::{exchange, field, start_channels};
use hl7wasm::config;
use hl7wasm::metrics::{channel, count};
use tokio::net::TcpStream;

const PROFILE: &str = r#"
[profiles.adt_in]
message_types = ["ADT^A01", "ADT^A08"]
versions = ["2.5.1"]

[[profiles.adt_in.segments]]
id = "PID"
min = 1
max = 1

[[profiles.adt_in.fields]]
path = "PID-3.1"
required = true

[[profiles.adt_in.fields]]
path = "PID-7"
type = "DTM"

[[profiles.adt_in.fields]]
path = "PID-8"
values = ["F", "M", "O", "U", "A", "N"]

[[profiles.adt_in.fields]]
path = "PID-5.1"
max_length = 10
severity = "warning"

# For real feeds of any version: the corpus's ADT^A01 meets it.
[profiles.corpus_adt]
message_types = ["ADT"]

[[profiles.corpus_adt.segments]]
id = "PID"
min = 1
max = 1

[[profiles.corpus_adt.fields]]
path = "PID-3.1"
required = true

[[profiles.corpus_adt.fields]]
path = "PID-7"
type = "TS"

[[profiles.corpus_adt.fields]]
path = "PID-8"
values = ["F", "M", "O", "U", "A", "N"]

[[profiles.corpus_adt.fields]]
path = "MSH-7"
required = true
type = "TS"
"#;

fn channels() -> String {
    format!(
        "{PROFILE}\n[[channels]]\nname = \"test\"\nvalidation_profile = \"adt_in\"\n\
         [channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n"
    )
}

fn adt(control_id: &str, kind: &str, pid: &str) -> String {
    format!(
        "MSH|^~\\&|REG|HOSP|EHR|HOSP|20240101120000||{kind}|{control_id}|P|2.5.1\r{pid}\rPV1|1|I\r"
    )
}

/// The ERR segments of an ACK, as (ERR-2, ERR-3.1, ERR-4).
fn errs(ack: &str) -> Vec<(String, String, String)> {
    let message = hl7v2::Message::parse(ack.as_bytes()).unwrap();
    message
        .segments_named("ERR")
        .map(|err| {
            let part = |n: usize| {
                err.field(n)
                    .map(|f| f.raw().to_string())
                    .unwrap_or_default()
            };
            let code = part(3).split('^').next().unwrap_or("").to_string();
            (part(2), code, part(4))
        })
        .collect()
}

#[tokio::test]
async fn breaches_are_refused_with_their_places_and_warnings_pass() {
    let with_admin = format!("[admin]\nlisten = \"127.0.0.1:0\"\n\n{}", channels());
    let engine = start_channels(tempfile::tempdir().unwrap(), &with_admin).await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let stored = || engine.server.store.messages().count();

    let good = "PID|1||123^^^HOSP^MR||DOE^JANE||19800101|F";
    let ack = exchange(
        &mut stream,
        adt("GOOD-1", "ADT^A01^ADT_A01", good).as_bytes(),
    )
    .await;
    assert_eq!(field(&ack, "MSA-1"), "AA");
    assert!(errs(&ack).is_empty(), "{ack}");
    assert_eq!(stored(), 1);

    let bad = "PID|1||^^^HOSP^MR~456^^^SSA^SS||DOE^JANE||19801301|X";
    let ack = exchange(&mut stream, adt("BAD-1", "ADT^A01^ADT_A01", bad).as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AR");
    assert_eq!(field(&ack, "MSA-2"), "BAD-1");
    assert_eq!(
        errs(&ack),
        [
            ("PID^1^3^1^1".into(), "101".into(), "E".into()),
            ("PID^1^7^1".into(), "102".into(), "E".into()),
            ("PID^1^8^1".into(), "103".into(), "E".into()),
        ],
        "{ack}"
    );
    assert!(!ack.contains("19801301"), "values are not echoed: {ack}");
    assert_eq!(stored(), 1, "a refused message is not stored");

    let long_name = "PID|1||123^^^HOSP^MR||VANDERBILTSMITH^JANE||19800101|F";
    let ack = exchange(
        &mut stream,
        adt("WARN-1", "ADT^A08^ADT_A01", long_name).as_bytes(),
    )
    .await;
    assert_eq!(field(&ack, "MSA-1"), "AA", "warnings alone accept");
    assert_eq!(
        errs(&ack),
        [("PID^1^5^1^1".into(), "104".into(), "W".into())],
        "{ack}"
    );
    assert_eq!(stored(), 2);

    let ack = exchange(
        &mut stream,
        adt("TYPE-1", "ORU^R01^ORU_R01", good).as_bytes(),
    )
    .await;
    assert_eq!(field(&ack, "MSA-1"), "AR");
    assert_eq!(errs(&ack)[0].1, "200", "{ack}");
    let twice = format!("{good}\r{good}");
    let ack = exchange(
        &mut stream,
        adt("TWO-1", "ADT^A04^ADT_A01", &twice).as_bytes(),
    )
    .await;
    let codes: Vec<String> = errs(&ack).into_iter().map(|(_, code, _)| code).collect();
    assert_eq!(codes, ["201", "100"], "{ack}");
    assert_eq!(stored(), 2);

    let metrics = &engine.server.metrics;
    assert_eq!(count(&metrics.messages_invalid, &channel("test")), 3);
    let findings = |code: &str, severity: &str| {
        let labels = vec![
            ("channel", "test".to_string()),
            ("code", code.to_string()),
            ("severity", severity.to_string()),
        ];
        count(&metrics.validation_findings, &labels)
    };
    assert_eq!(findings("101", "E"), 1);
    assert_eq!(findings("104", "W"), 1);

    let (_, status) = Api::of(&engine).get("/api/v1/channels/test", None).await;
    assert_eq!(status["validation_profile"], "adt_in");
    assert_eq!(status["stats"]["messages_invalid"], 3);
}

#[test]
fn a_bad_profile_or_a_missing_one_is_named_in_the_config_error() {
    let bad = channels().replace("path = \"PID-8\"", "path = \"PID-8[2]\"");
    let error = config::parse(&bad, "hl7wasm.toml").unwrap_err().to_string();
    assert!(
        error.starts_with("hl7wasm.toml: key profiles.adt_in.fields[2].path:"),
        "{error}"
    );
    let missing = channels().replace(
        "validation_profile = \"adt_in\"",
        "validation_profile = \"oru\"",
    );
    let error = config::parse(&missing, "hl7wasm.toml")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("channel \"test\", key validation_profile: there is no [profiles.oru]"),
        "{error}"
    );
}

/// Ensures that `hl7wasm validate` gives, offline, the answer a channel
/// with the profile would give: AA for a real ADT^A01 from the corpus, AR
/// with each finding for a broken one, and exit code 1.
#[test]
fn the_validate_command_checks_files_against_a_profile() {
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("hl7wasm.toml");
    std::fs::write(&config_file, channels()).unwrap();
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/hl7v2/fhir-converter/ADT-A01-02.hl7");
    let broken = dir.path().join("broken.hl7");
    let pid = "PID|1||^^^HOSP^MR||DOE^JANE||19800101|X";
    std::fs::write(&broken, adt("BAD-2", "ADT^A01^ADT_A01", pid)).unwrap();
    let run = |files: &[&std::path::Path]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
            .args(["validate", "--config"])
            .arg(&config_file)
            .args(["--profile", "corpus_adt"])
            .args(files)
            .output()
            .unwrap()
    };
    let output = run(&[&corpus]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.ends_with("message 1 (MSH-10 MSG00001, ADT^A01): AA\n"),
        "{stdout}"
    );

    let by_channel = std::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .args(["validate", "--config"])
        .arg(&config_file)
        .args(["--channel", "test"])
        .arg(&broken)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&by_channel.stdout);
    assert!(
        stdout.contains(": AR\n  E 101 PID-3.1"),
        "the channel's adt_in profile: {stdout}"
    );

    let output = run(&[&corpus, &broken]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let tail = "broken.hl7 message 1 (MSH-10 BAD-2, ADT^A01): AR\n  \
                E 101 PID-3.1: required but empty\n  \
                E 103 PID-8: not one of the values allowed (F, M, O, U, A, N)\n";
    assert!(stdout.ends_with(tail), "{stdout}");
}
