//! Ensures that the bundled `hl7-to-fhir` plugin maps every message of the
//! shared corpus (`../shared/corpus/hl7v2`) through `hl7wasm plugin run`, that
//! every bundle it writes is valid FHIR (`tests/fhir/validate.py`, with the
//! `fhir.resources` package), and that its agreement with Microsoft
//! FHIR-Converter's expected outputs on key fields (`tests/fhir/compare.py`)
//! does not fall below the floor measured when the mapper was written.
//!
//! It also ensures that the component and the crate compiled natively map
//! each message to the same text, and that the embedded default config's
//! stage maps the largest message its listener accepts.
//!
//! Needs `python3` with `tests/requirements.txt` installed (scripts/test-all
//! does that).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use hl7wasm::hl7_input::InboundMessage;
use hl7wasm::plugin::{PluginLimits, StageOutcome};
use support::plugin_path;

/// The overall agreement with FHIR-Converter, in percent, that the mapper
/// reached (docs/FHIR-MAPPING.md explains the differences); less is a regression.
const AGREEMENT_FLOOR: f64 = 60.0;

/// Files the engine's parser refuses before the plugin sees them: the
/// corpus's deliberately empty message and MSH without fields.
const UNPARSEABLE: [&str; 2] = [
    "cdc-trusted-intermediary/Test/Message/empty.hl7",
    "cdc-trusted-intermediary/Test/Message/msh_present_but_missing_all_fields.hl7",
];

/// Message types the mapper filters as unsupported (ACK, custom).
const UNSUPPORTED: [&str; 2] = ["ACK^", "CUSTOM^PAT"];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")
}

/// The corpus's message folder and every file under it, sorted.
fn corpus_messages() -> (PathBuf, Vec<PathBuf>) {
    let root = corpus().join("hl7v2");
    let mut files = Vec::new();
    message_files(&root, &mut files);
    files.sort();
    (root, files)
}

fn message_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read corpus dir") {
        let path = entry.expect("corpus entry").path();
        if path.is_dir() {
            message_files(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// What `hl7wasm plugin run` prints for `files` through the built
/// `hl7-to-fhir` component.
fn map_files(files: &[PathBuf]) -> String {
    // The US realm adds the race and ethnicity extensions to what every
    // channel gets, so that they are validated too.
    map_files_with(files, r#"{"realm": "us"}"#)
}

/// [`map_files`] with the plugin configured by `config` (JSON).
fn map_files_with(files: &[PathBuf], config: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .args([
            "plugin",
            "run",
            plugin_path("hl7-to-fhir").to_str().unwrap(),
        ])
        .args(["--deadline-ms", "5000"])
        .args(["--config", config])
        .args(files)
        .output()
        .expect("run hl7wasm plugin run");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What `plugin run` printed for each message, by file relative to hl7v2/:
/// the outcome line and, when forwarded, the body.
fn outcomes(stdout: &str, root: &Path) -> BTreeMap<String, Vec<(String, Option<String>)>> {
    let mut outcomes: BTreeMap<String, Vec<(String, Option<String>)>> = BTreeMap::new();
    let mut lines = stdout.lines();
    let mut file = String::new();
    while let Some(line) = lines.next() {
        if let Some(header) = line.strip_prefix("# ") {
            let path = header.split(" message ").next().unwrap_or(header);
            file = Path::new(path)
                .strip_prefix(root)
                .map_or(path.to_string(), |p| p.display().to_string());
        } else if line.starts_with("forward: 1 message(s)") {
            assert_eq!(lines.next(), Some("--- application/fhir+json"), "{file}");
            let body = lines.next().map(str::to_string);
            outcomes
                .entry(file.clone())
                .or_default()
                .push((line.to_string(), body));
        } else if !line.is_empty() {
            outcomes
                .entry(file.clone())
                .or_default()
                .push((line.to_string(), None));
        }
    }
    outcomes
}

fn python(script: &str, args: &[&Path], extra: &[&str]) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fhir")
        .join(script);
    let output = Command::new("python3")
        .arg(&script)
        .args(args)
        .args(extra)
        .output()
        .expect("python3 runs (install tests/requirements.txt)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn corpus_maps_to_valid_fhir_that_agrees_with_fhir_converter() {
    let (root, files) = corpus_messages();
    let outcomes = outcomes(&map_files(&files), &root);

    let out = tempfile::tempdir().unwrap();
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap().display().to_string();
        let results = outcomes
            .get(&relative)
            .unwrap_or_else(|| panic!("no outcome for {relative}"));
        for (index, (line, body)) in results.iter().enumerate() {
            if UNPARSEABLE.contains(&relative.as_str()) {
                assert!(
                    line.starts_with("error:"),
                    "{relative} was expected to be refused: {line}"
                );
            } else if let Some(body) = body {
                let bundle: serde_json::Value = serde_json::from_str(body).expect("bundle JSON");
                assert_eq!(bundle["type"], "transaction", "{relative}");
                let suffix = if index == 0 {
                    String::new()
                } else {
                    format!("-{index}")
                };
                let target = out
                    .path()
                    .join(&relative)
                    .with_extension("")
                    .display()
                    .to_string();
                let target = PathBuf::from(format!("{target}{suffix}.json"));
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::write(target, body).unwrap();
            } else {
                let reason = line.strip_prefix("filtered: unsupported message type ");
                let event = reason.map(|r| r.trim_matches('"'));
                assert!(
                    event.is_some_and(|e| UNSUPPORTED.contains(&e)),
                    "{relative} did not convert: {line}"
                );
            }
        }
    }

    let (valid, report) = python("validate.py", &[out.path()], &[]);
    assert!(valid, "invalid FHIR:\n{report}");
    let floor = AGREEMENT_FLOOR.to_string();
    let (agrees, table) = python("compare.py", &[out.path(), &corpus()], &["--min", &floor]);
    eprintln!("{table}");
    assert!(
        agrees,
        "agreement with FHIR-Converter fell below {floor}%:\n{table}"
    );
}

/// Ensures that messages whose codes and times HL7 v2 requires are blank
/// (an allergen, OBR-4, RXA-3 and RXA-5, the drug of an RXE and an RXD)
/// map to valid FHIR instead of being rejected (docs/FHIR-MAPPING.md,
/// "Errors").
#[test]
fn blank_required_fields_map_to_valid_fhir() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/blank-required");
    let mut files = Vec::new();
    message_files(&root, &mut files);
    files.sort();
    let outcomes = outcomes(&map_files(&files), &root);
    assert_eq!(outcomes.len(), files.len(), "{outcomes:?}");
    let out = tempfile::tempdir().unwrap();
    for (file, results) in &outcomes {
        let [(line, Some(body))] = results.as_slice() else {
            panic!("{file} did not convert: {results:?}");
        };
        assert!(line.starts_with("forward"), "{file}: {line}");
        let target = out.path().join(file).with_extension("json");
        std::fs::write(target, body).unwrap();
    }
    let (valid, report) = python("validate.py", &[out.path()], &[]);
    assert!(valid, "invalid FHIR:\n{report}");
}

/// Ensures that the corpus's messages with their empty fields filled by
/// values of the data types the IG's segment tables give
/// (`tests/fhir/fill_fields.py`) map to valid FHIR: fields that no corpus
/// message uses, times of every precision and offset, every OBX value
/// type. Found this way: an Appointment with an end and no start, or an
/// end before its start (apt-2, per-1), and an ordered dose whose maximum
/// is below its minimum (rng-2).
#[test]
fn corpus_messages_with_filled_fields_map_to_valid_fhir() {
    let filled = tempfile::tempdir().unwrap();
    let count = "600";
    let (written, report) = python(
        "fill_fields.py",
        &[&corpus(), filled.path()],
        &["--count", count, "--seed", "1", "--fill", "0.8"],
    );
    assert!(written, "fill_fields.py failed:\n{report}");
    let mut files = Vec::new();
    message_files(filled.path(), &mut files);
    files.sort();
    assert!(files.len() > 500, "only {} messages written", files.len());
    // A default time zone makes local times instants, which reach the
    // invariants on instants (an Appointment's start and end).
    let stdout = map_files_with(&files, r#"{"realm": "us", "default_timezone": "+01:00"}"#);
    let outcomes = outcomes(&stdout, filled.path());
    assert_eq!(outcomes.len(), files.len(), "a message without an outcome");
    let out = tempfile::tempdir().unwrap();
    let mut bundles = 0;
    for (file, results) in &outcomes {
        for (line, body) in results {
            match body {
                Some(body) => {
                    bundles += 1;
                    std::fs::write(out.path().join(format!("{file}-{bundles}.json")), body)
                        .unwrap();
                }
                None => {
                    let reason = line.strip_prefix("filtered: unsupported message type ");
                    let event = reason.map(|r| r.trim_matches('"'));
                    assert!(
                        event.is_some_and(|e| UNSUPPORTED.contains(&e)),
                        "{file} did not convert: {line}"
                    );
                }
            }
        }
    }
    assert!(bundles > 500, "only {bundles} bundles");
    let (valid, report) = python("validate.py", &[out.path()], &[]);
    assert!(valid, "invalid FHIR:\n{report}");
}

/// Ensures that the component maps every corpus message to the same text
/// as the crate compiled natively: its deterministic ids must not depend on
/// the platform (Wasm is 32-bit, the host 64-bit).
#[test]
fn the_component_and_the_native_crate_map_alike() {
    let (_, files) = corpus_messages();
    let options = hl7_to_fhir::Options::default();
    let version = support::load(&support::engine(), "hl7-to-fhir");
    let mut worker = support::worker(version, PluginLimits::default(), "{}");
    let mut compared = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let Ok(batch) = hl7v2::split_batch(&bytes) else {
            continue;
        };
        for raw in &batch.messages {
            let Ok(input) = InboundMessage::parse(raw) else {
                continue;
            };
            let Ok(native) = hl7_to_fhir::map_message_to_string(&input.message.body, &options)
            else {
                continue;
            };
            let outcome = worker.transform(input.message, support::metadata("corpus"));
            let StageOutcome::Forward(outputs) = outcome else {
                panic!("{}: {outcome:?}", file.display());
            };
            assert_eq!(outputs.len(), 1, "{}", file.display());
            assert!(
                outputs[0].body == native,
                "{} maps differently",
                file.display()
            );
            compared += 1;
        }
    }
    // Most files hold one mappable message (some a batch of several).
    assert!(
        compared * 3 >= files.len() * 2,
        "only {compared} messages of {} files compared",
        files.len()
    );
}

/// Ensures that the demo channel's `hl7-to-fhir` stage, with the embedded
/// default config's deadline, maps an ORU^R01 as large as the listener
/// accepts (just under 1 MiB: some 11,000 OBX).
#[test]
fn the_demo_stage_maps_the_largest_message_its_listener_takes() {
    let config = hl7wasm::config::parse(hl7wasm::config::EMBEDDED_DEFAULT, "embedded").unwrap();
    let channel = &config.channels[0];
    let stage = &channel.pipeline[0];
    assert_eq!(stage.plugin, "hl7-to-fhir");
    let most = channel.source.limits().max_message_bytes;
    let mut body =
        "MSH|^~\\&|LAB|GENHOSP|EHR|GENHOSP|20240102030405+0100||ORU^R01^ORU_R01|BIG1|P|2.5.1\r\
PID|1||123456^^^GENHOSP^MR||EXAMPLE^PAT^Q||19800101|F\r\
OBR|1|P100|F200|24323-8^Comprehensive metabolic panel^LN|||20240102020000+0100\r"
            .to_string();
    for n in 1.. {
        let obx = format!(
            "OBX|{n}|NM|{}-{}^Analyte {n}^LN||{}.{}|mg/dL^mg/dL^UCUM|10-100|N|||F|||20240102020000+0100\r",
            2000 + n % 500,
            n % 10,
            40 + n % 50,
            n % 10,
        );
        if body.len() + obx.len() > most {
            break;
        }
        body.push_str(&obx);
    }
    let limits = PluginLimits {
        deadline_ms: stage.deadline_ms,
        ..PluginLimits::default()
    };
    let version = support::load(&support::engine(), "hl7-to-fhir");
    let mut worker = support::worker(version, limits, "{}");
    let message = InboundMessage::parse(body.as_bytes()).unwrap().message;
    let outcome = worker.transform(message, support::metadata("demo"));
    let StageOutcome::Forward(outputs) = outcome else {
        panic!("{} bytes: {outcome:?}", body.len());
    };
    let bundle: serde_json::Value = serde_json::from_str(&outputs[0].body).unwrap();
    assert!(bundle["entry"].as_array().unwrap().len() > 10_000);
}
