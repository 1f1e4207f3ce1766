//! Ensures that the enrich plugin, run by `hl7wasm plugin run --lookup`,
//! adds values from lookup tables to HL7 v2 messages and to the FHIR bundle
//! that hl7-to-fhir makes of them, keyed on fields or on the message's
//! metadata, and rejects a missing key when told to.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hl7wasm::plugin::{HL7_V2_CONTENT_TYPE, Message, PluginLimits, StageOutcome};
use support::{load, metadata, plugin_path, worker};

/// An ADT^A01 whose first OBX carries a local code instead of LOINC.
fn adt_with_local_code() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/adt_a01.hl7"
    ))
    .expect("sample message")
    .replace("8867-4^Heart rate^LN", "HR^Heart rate^L")
}

/// Writes the message and the lookup tables into `dir`; returns the
/// `--lookup` arguments.
fn write_tables(dir: &Path) -> Vec<String> {
    let tables = [
        ("facilities", "GENHOSP = \"General Hospital\"\n"),
        ("providers", "1234 = \"Dr Alice Attend\"\n"),
        ("lab_to_loinc", "HR = \"8867-4\"\n"),
        ("senders", "lab-analyzer = \"CENTRAL-LAB\"\n"),
    ];
    let mut args = Vec::new();
    for (table, toml) in tables {
        let file = dir.join(format!("{table}.toml"));
        std::fs::write(&file, toml).unwrap();
        args.push("--lookup".to_string());
        args.push(format!("{table}={}", file.display()));
    }
    args
}

/// `hl7wasm plugin run enrich.wasm` with these tables, config, further
/// arguments and file.
fn enrich(dir: &Path, config: &str, extra: &[&str], message_file: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hl7wasm"));
    command
        .args(["plugin", "run"])
        .arg(plugin_path("enrich"))
        .args(write_tables(dir))
        .args(["--config", config])
        .args(extra)
        .arg(message_file);
    command.output().expect("run hl7wasm")
}

fn stdout_of(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, body).unwrap();
    file
}

#[test]
fn enriches_hl7_v2_fields_from_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "adt.hl7", &adt_with_local_code());
    let config = r#"{"rules": [
        {"table": "facilities", "from": "MSH-4.1", "to": "MSH-4.2"},
        {"table": "lab_to_loinc", "from": "OBX-3.1", "to_code": "OBX-3", "system": "LN"}
    ]}"#;
    let stdout = stdout_of(&enrich(dir.path(), config, &[], &file));
    assert!(
        stdout.contains("MSH|^~\\&|ADMIT|GENHOSP^General Hospital|LAB|"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nOBX|1|NM|8867-4^^LN^HR^Heart rate^L||88|"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nOBX|2|NM|8310-5^Body temperature^LN||"),
        "a key not in the table is kept: {stdout}"
    );
}

#[test]
fn enriches_the_fhir_bundle_made_by_hl7_to_fhir() {
    let engine = support::engine();
    let mut mapper = worker(load(&engine, "hl7-to-fhir"), PluginLimits::default(), "{}");
    let message = Message {
        content_type: HL7_V2_CONTENT_TYPE.into(),
        body: adt_with_local_code(),
    };
    let StageOutcome::Forward(bundles) = mapper.transform(message, metadata("MSG00001")) else {
        panic!("hl7-to-fhir did not map the sample");
    };
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "bundle.json", &bundles[0].body);
    let config = r#"{"rules": [
        {"table": "facilities", "resource": "Organization", "from": "name", "to": "name"},
        {"table": "providers", "resource": "Practitioner", "from": "identifier.value",
         "to": "name.text"},
        {"table": "lab_to_loinc", "resource": "Observation", "from": "code.coding.code",
         "to_code": "code", "system": "http://loinc.org"}
    ]}"#;
    let stdout = stdout_of(&enrich(dir.path(), config, &[], &file));
    let json = &stdout[stdout.find("--- application/fhir+json\n").expect(&stdout) + 26..];
    let bundle: serde_json::Value = serde_json::from_str(json).unwrap();
    let resources: Vec<&serde_json::Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| &entry["resource"])
        .collect();
    let of_type = |kind: &'static str| resources.iter().filter(move |r| r["resourceType"] == kind);
    assert!(of_type("Organization").any(|r| r["name"] == "General Hospital"));
    assert!(of_type("Organization").any(|r| r["name"] == "GENERAL CLINIC"));
    let attending = of_type("Practitioner")
        .find(|r| r["identifier"][0]["value"] == "1234")
        .unwrap();
    assert_eq!(attending["name"][0]["text"], "Dr Alice Attend");
    assert_eq!(attending["name"][0]["family"], "ATTEND");
    let heart_rate = of_type("Observation")
        .find(|r| r["code"]["coding"][0]["code"] == "HR")
        .unwrap();
    assert_eq!(
        heart_rate["code"]["coding"][1],
        serde_json::json!({"system": "http://loinc.org", "code": "8867-4"})
    );
}

#[test]
fn a_missing_key_rejects_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "adt.hl7", &adt_with_local_code());
    let config = r#"{"on_missing": "reject", "rules": [
        {"table": "lab_to_loinc", "from": "OBX-3.1", "to_code": "OBX-3", "system": "LN"}
    ]}"#;
    let output = enrich(dir.path(), config, &[], &file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "rejected (plugin_error): OBX[2]-3.1: key not in lookup table `lab_to_loinc`"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("at: OBX-3"), "{stdout}");
}

#[test]
fn a_rule_keyed_on_the_client_certificate_reads_the_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "adt.hl7", &adt_with_local_code());
    let config = r#"{"rules": [
        {"table": "senders", "from_metadata": "peer_certificate_name", "to": "MSH-4.1"}
    ]}"#;
    let from_lab = ["--peer-certificate", "lab-analyzer"];
    let stdout = stdout_of(&enrich(dir.path(), config, &from_lab, &file));
    assert!(
        stdout.contains("MSH|^~\\&|ADMIT|CENTRAL-LAB|LAB|"),
        "{stdout}"
    );
    let stdout = stdout_of(&enrich(dir.path(), config, &[], &file));
    assert!(
        stdout.contains("MSH|^~\\&|ADMIT|GENHOSP|LAB|"),
        "no certificate: unchanged: {stdout}"
    );
}
