//! Ensures that a file source reads single-message, multi-message and batch
//! files (a real batch from the corpus among them; never a symbolic link)
//! into the store and on through the pipeline, moves each file to the done
//! directory only once its messages are stored, sends a file with a refused
//! message to the error directory with a report naming the message and the
//! breach (and raises the `refused_files` alert), that a fixed file dropped
//! in again stores only what was missing, and that a stopped channel leaves
//! new files alone until it starts; and that a file of many messages, or
//! many files of one message, read in runs that share an fsync, are stored
//! in order, once each, every file moved on by its own outcome.

#[path = "support/admin.rs"]
mod admin;
#[path = "support/engine.rs"]
mod engine;

use std::path::{Path, PathBuf};
use std::time::Duration;

use engine::{eventually, stored_control_ids};
use hl7wasm::config;
use hl7wasm::ingest::file_reference;
use hl7wasm::metrics::{channel, channel_and, count};
use hl7wasm::server::Server;
use reqwest::StatusCode;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

fn adt(control_id: &str, patient_id: &str) -> String {
    format!(
        "MSH|^~\\&|REG|HOSP|EHR|HOSP|20240101120000||ADT^A01^ADT_A01|{control_id}|P|2.5.1\r\
         PID|1||{patient_id}^^^HOSP^MR||DOE^JANE\r"
    )
}

/// Writes `text` to `dir/name` the way a careful writer does: under a
/// hidden name first, then renamed.
fn drop_file(dir: &Path, name: &str, text: &[u8]) {
    let hidden = dir.join(format!(".{name}.part"));
    std::fs::write(&hidden, text).unwrap();
    std::fs::rename(hidden, dir.join(name)).unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// An engine with a file channel `files` reading `<dir>/in` every 50 ms,
/// whose profile requires PID-3.1; returns it and the directory.
async fn start_needing_ids(dir: &Path) -> (Server, PathBuf) {
    let inbox = dir.join("in");
    let text = format!(
        "[storage]\ndir = {store:?}\n\n\
         [profiles.needs_id]\nfields = [{{ path = \"PID-3.1\", required = true }}]\n\n\
         [[channels]]\nname = \"files\"\nvalidation_profile = \"needs_id\"\n\
         [channels.source]\ntype = \"file\"\ndir = {inbox:?}\n\
         poll_interval_ms = 50\nmin_age_ms = 0\n",
        store = dir.join("store"),
    );
    let server = Server::start(config::parse(&text, "test").unwrap())
        .await
        .unwrap();
    (server, inbox)
}

fn corpus_batch() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../shared/corpus/hl7v2/cdc-trusted-intermediary/Test/Results/\
         005_AL_ORU_R01_NBS_Simplified_0_initial_message.hl7",
    )
}

#[tokio::test]
async fn files_are_read_moved_on_and_refusals_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, out) = (dir.path().join("in"), dir.path().join("out"));
    let text = format!(
        "[storage]\ndir = {store:?}\n\n[admin]\nlisten = \"127.0.0.1:0\"\n\n\
         [alerts]\ninterval_secs = 1\n\n\
         [profiles.needs_id]\nfields = [{{ path = \"PID-3.1\", required = true }}]\n\n\
         [[channels]]\nname = \"files\"\nvalidation_profile = \"needs_id\"\n\
         [channels.source]\ntype = \"file\"\ndir = {inbox:?}\npattern = \"*.hl7\"\n\
         poll_interval_ms = 50\nmin_age_ms = 100\n\
         [[channels.destinations]]\nname = \"out\"\nto = {{ type = \"file\", dir = {out:?} }}\n",
        store = dir.path().join("store"),
    );
    let server = Server::start(config::parse(&text, "test").unwrap())
        .await
        .unwrap();
    let (done, error) = (inbox.join("done"), inbox.join("error"));
    let stored = || server.store.messages().count();
    let delivered = || std::fs::read_dir(&out).map_or(0, Iterator::count);

    // A two-message file, a real batch with its FHS/BHS envelope, a file
    // the pattern leaves alone, and a file still being written.
    drop_file(
        &inbox,
        "two.hl7",
        format!("{}{}", adt("T-1", "1"), adt("T-2", "2")).as_bytes(),
    );
    drop_file(&inbox, "batch.hl7", &std::fs::read(corpus_batch()).unwrap());
    std::fs::write(inbox.join("notes.txt"), "not for the engine").unwrap();
    std::fs::write(inbox.join(".writing.hl7"), adt("W-1", "9")).unwrap();
    let outside = dir.path().join("outside.hl7");
    std::fs::write(&outside, adt("S-1", "8")).unwrap();
    std::os::unix::fs::symlink(&outside, inbox.join("link.hl7")).unwrap();
    eventually(WAIT, "both files read and moved on", || {
        names(&done).len() == 2
    })
    .await;
    assert_eq!(names(&done), ["batch.hl7", "two.hl7"]);
    assert_eq!(stored(), 3);
    eventually(WAIT, "three outputs delivered", || delivered() == 3).await;
    assert_eq!(
        names(&inbox),
        [".writing.hl7", "done", "error", "link.hl7", "notes.txt"],
        "hidden files, symbolic links and other names are left alone"
    );

    // One good message and one without a patient ID: the file goes to the
    // error directory with a report; the good message is stored.
    let mixed = format!("{}{}", adt("M-1", "3"), adt("M-2", ""));
    drop_file(&inbox, "mixed.hl7", mixed.as_bytes());
    eventually(WAIT, "the mixed file in the error directory", || {
        names(&error).len() == 2
    })
    .await;
    assert_eq!(names(&error), ["mixed.hl7", "mixed.hl7.errors.txt"]);
    let report = std::fs::read_to_string(error.join("mixed.hl7.errors.txt")).unwrap();
    assert_eq!(
        report,
        format!(
            "message 2 (MSH-10 M-2): AR\n  E 101 PID-3.1: required but empty\n\nThe audit log names this file {}.\n",
            file_reference("mixed.hl7")
        )
    );
    assert_eq!(stored(), 4);
    eventually(WAIT, "the refused file raises an alert", || {
        server
            .alerts
            .active()
            .iter()
            .any(|alert| alert.kind == "refused_files" && alert.channel == "files")
    })
    .await;

    // The fixed file comes back: only the missing message is stored, and
    // the done directory keeps both files named two.hl7 apart.
    let fixed = format!("{}{}", adt("M-1", "3"), adt("M-2", "4"));
    drop_file(&inbox, "mixed.hl7", fixed.as_bytes());
    drop_file(
        &inbox,
        "two.hl7",
        format!("{}{}", adt("T-1", "1"), adt("T-2", "2")).as_bytes(),
    );
    eventually(WAIT, "the fixed file read", || names(&done).len() == 4).await;
    assert_eq!(
        names(&done),
        ["batch.hl7", "mixed.hl7", "two.hl7", "two.hl7.1"]
    );
    assert_eq!(
        stored(),
        5,
        "resent messages are recognised, not stored twice"
    );
    eventually(WAIT, "five outputs delivered", || delivered() == 5).await;

    // A file that is not HL7 at all.
    drop_file(&inbox, "junk.hl7", b"hello");
    eventually(WAIT, "the junk file refused", || names(&error).len() == 4).await;
    let report = std::fs::read_to_string(error.join("junk.hl7.errors.txt")).unwrap();
    assert!(report.starts_with("The file is not HL7 v2:"), "{report}");

    let outcome = |name: &str| {
        count(
            &server.metrics.files_read,
            &channel_and("files", "outcome", name),
        )
    };
    assert_eq!((outcome("done"), outcome("error")), (4, 2));

    // A stopped channel leaves new files alone until it starts again.
    let api = admin::Api::at(server.admin_address().unwrap());
    let (status, _) = api
        .post("/api/v1/channels/files/stop", "", &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    drop_file(&inbox, "later.hl7", adt("L-1", "5").as_bytes());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(inbox.join("later.hl7").exists(), "read while stopped");
    let (status, _) = api
        .post("/api/v1/channels/files/start", "", &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    eventually(WAIT, "the file read once started", || {
        names(&done).len() == 5
    })
    .await;
    assert_eq!(stored(), 6);
    let received = count(&server.metrics.frames_received, &channel("files"));
    assert_eq!(received, 10, "every message read from a file");
    server.shutdown().await;
}

/// Ensures that a file longer than one run of begun messages (the reader
/// begins up to 256 before waiting for the first) is stored whole and in
/// the file's order, that a resend inside the same run is recognised
/// though its original was not yet durable when it was begun, and that a
/// refused message in the middle of a run costs only itself.
#[tokio::test]
async fn a_long_file_is_stored_in_order_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let (server, inbox) = start_needing_ids(dir.path()).await;
    // 700 messages: every 100th resends the one before it, and message
    // 350 has no patient ID.
    let mut file = String::new();
    let mut expected = Vec::new();
    for n in 1..=700 {
        let original = if n % 100 == 0 { n - 1 } else { n };
        let control_id = format!("L-{original}");
        let patient_id = if n == 350 {
            String::new()
        } else {
            original.to_string()
        };
        file.push_str(&adt(&control_id, &patient_id));
        if n % 100 != 0 && n != 350 {
            expected.push(control_id);
        }
    }
    drop_file(&inbox, "long.hl7", file.as_bytes());
    let error = inbox.join("error");
    eventually(WAIT, "the file read and moved on", || {
        error.join("long.hl7").exists()
    })
    .await;

    let stored = stored_control_ids(&server);
    assert_eq!(stored, expected, "every message once, in the file's order");
    let report = std::fs::read_to_string(error.join("long.hl7.errors.txt")).unwrap();
    assert_eq!(
        report,
        format!(
            "message 350 (MSH-10 L-350): AR\n  E 101 PID-3.1: required but empty\n\nThe audit log names this file {}.\n",
            file_reference("long.hl7")
        )
    );
    let received = count(&server.metrics.frames_received, &channel("files"));
    assert_eq!(received, 700);
    server.shutdown().await;
}

/// Ensures that a directory of one-message files (read in runs that span
/// files: 300 files make two runs) stores the messages in the files' name
/// order, once each, and moves each file by its own outcome: a refused one
/// to the error directory with its report, the others (a resend among
/// them) to the done directory.
#[tokio::test]
async fn many_small_files_are_stored_in_order_and_moved_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let (server, inbox) = start_needing_ids(dir.path()).await;
    // Written aside and moved in together, so that one poll sees them all.
    let staging = dir.path().join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    let mut expected = Vec::new();
    for n in 0..300 {
        let original = if n == 200 { 199 } else { n };
        let control_id = format!("S-{original}");
        let patient_id = if n == 150 {
            String::new()
        } else {
            original.to_string()
        };
        let file = staging.join(format!("m{n:03}.hl7"));
        std::fs::write(file, adt(&control_id, &patient_id)).unwrap();
        if n != 150 && n != 200 {
            expected.push(control_id);
        }
    }
    std::fs::create_dir_all(&inbox).unwrap();
    for n in 0..300 {
        let name = format!("m{n:03}.hl7");
        std::fs::rename(staging.join(&name), inbox.join(&name)).unwrap();
    }
    let (done, error) = (inbox.join("done"), inbox.join("error"));
    eventually(WAIT, "every file moved on", || {
        done.exists() && names(&done).len() == 299 && names(&error).len() == 2
    })
    .await;

    let stored = stored_control_ids(&server);
    assert_eq!(stored, expected, "once each, in the files' name order");
    assert_eq!(names(&error), ["m150.hl7", "m150.hl7.errors.txt"]);
    let report = std::fs::read_to_string(error.join("m150.hl7.errors.txt")).unwrap();
    assert_eq!(
        report,
        format!(
            "message 1 (MSH-10 S-150): AR\n  E 101 PID-3.1: required but empty\n\nThe audit log names this file {}.\n",
            file_reference("m150.hl7")
        )
    );
    assert!(
        names(&done).contains(&"m200.hl7".to_string()),
        "the resend's file"
    );
    server.shutdown().await;
}
