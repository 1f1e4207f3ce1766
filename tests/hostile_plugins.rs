//! Ensures that a misbehaving plugin is contained: a memory bomb is stopped
//! by the memory cap, a hoard of host resources by the resource cap, a
//! panic surfaces its text, huge output is refused,
//! files and sockets are denied, a stdout flood is bounded, and after each
//! the same worker processes the next message normally. (The deadline has
//! its own test binary, plugin_deadline.rs, so that timing is measured
//! without these tests loading the CPU.)

mod support;

use std::time::Duration;

use hl7wasm::plugin::{
    Disposition, FailureCause, PluginLimits, PluginWorker, StageFailure, StageOutcome,
};
use support::{adt_a01, engine, load, metadata, worker};

/// A deadline that a loaded CI machine cannot hit, so that the limit under
/// test is the one that trips.
const GENEROUS: Duration = Duration::from_secs(5);

/// A worker running the hostile fixture with `deadline`.
fn hostile_worker_with(deadline: Duration) -> PluginWorker {
    let engine = engine();
    let limits = PluginLimits {
        deadline_ms: deadline.as_millis() as u64,
        output_bytes: 1 << 20,
        ..PluginLimits::default()
    };
    let mut worker = worker(
        load(&engine, "hostile"),
        limits,
        r#"{"huge_bytes": 4194304}"#,
    );
    worker.warm_up().expect("hostile plugin starts");
    worker
}

fn hostile_worker() -> PluginWorker {
    hostile_worker_with(GENEROUS)
}

fn run(worker: &mut PluginWorker, marker: &str) -> StageOutcome {
    let message = adt_a01("HOSTILE-1", marker);
    worker.transform(message, metadata("HOSTILE-1"))
}

fn failure(outcome: StageOutcome) -> StageFailure {
    match outcome {
        StageOutcome::Failed(failure) => failure,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// The next ordinary message goes through unchanged.
fn assert_next_message_passes(worker: &mut PluginWorker) {
    let message = adt_a01("NORMAL-1", "");
    let outcome = worker.transform(message.clone(), metadata("NORMAL-1"));
    assert_eq!(outcome, StageOutcome::Forward(vec![message]));
}

#[test]
fn memory_bomb_gets_a_memory_error() {
    let mut worker = hostile_worker();
    let failure = failure(run(&mut worker, "HOSTILE:bomb"));
    assert_eq!(failure.cause, FailureCause::MemoryLimit, "{failure:?}");
    assert!(failure.text.contains("memory limit"), "{}", failure.text);
    assert_next_message_passes(&mut worker);
}

#[test]
fn hoarding_host_resources_is_stopped_at_the_cap() {
    let mut worker = hostile_worker();
    let failure = failure(run(&mut worker, "HOSTILE:hoard"));
    assert_eq!(failure.cause, FailureCause::Trap, "{failure:?}");
    assert!(
        failure.text.contains("resource table has no free keys"),
        "{}",
        failure.text
    );
    assert_next_message_passes(&mut worker);
}

#[test]
fn panic_surfaces_its_message() {
    let mut worker = hostile_worker();
    let failure = failure(run(&mut worker, "HOSTILE:panic"));
    assert_eq!(failure.cause, FailureCause::Trap);
    assert_eq!(failure.disposition, Disposition::Reject);
    assert!(
        failure.text.contains("hostile plugin panics on purpose"),
        "{}",
        failure.text
    );
    assert_next_message_passes(&mut worker);
}

#[test]
fn huge_output_is_refused() {
    let mut worker = hostile_worker();
    let failure = failure(run(&mut worker, "HOSTILE:huge"));
    assert_eq!(failure.cause, FailureCause::OutputTooLarge);
    assert!(
        failure.text.contains("exceeds the limit"),
        "{}",
        failure.text
    );
    assert_next_message_passes(&mut worker);
}

#[test]
fn opening_a_file_is_denied() {
    let mut worker = hostile_worker();
    let failure = failure(run(&mut worker, "HOSTILE:file"));
    assert_eq!(failure.cause, FailureCause::Plugin);
    assert!(failure.text.starts_with("file denied"), "{}", failure.text);
    assert_next_message_passes(&mut worker);
}

#[test]
fn opening_a_socket_is_denied() {
    // A listener the plugin would reach if the sandbox let it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut worker = hostile_worker();
    let message = adt_a01("SOCKET-1", &format!("HOSTILE:socket {port}"));
    let failure = failure(worker.transform(message, metadata("SOCKET-1")));
    assert_eq!(failure.cause, FailureCause::Plugin);
    assert!(
        failure.text.starts_with("socket denied"),
        "{}",
        failure.text
    );
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "the plugin reached the host's listener"
    );
    assert_next_message_passes(&mut worker);
}

#[test]
fn stdout_flood_is_bounded() {
    let mut worker = hostile_worker();
    let outcome = run(&mut worker, "HOSTILE:chatty");
    assert_eq!(outcome, StageOutcome::Filter("flooded stdout".into()));
    assert_next_message_passes(&mut worker);
}
