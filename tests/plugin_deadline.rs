//! Ensures that an infinite loop in a plugin is stopped by the epoch
//! deadline within twice the deadline, and that the same worker then
//! processes the next message normally; and that a sleep, which the
//! deadline could not stop inside a host call, cannot hold a worker.

mod support;

use std::time::{Duration, Instant};

use hl7wasm::plugin::{Disposition, FailureCause, PluginLimits, PluginWorker, StageOutcome};
use support::{adt_a01, engine, load, metadata, worker};

const DEADLINE: Duration = Duration::from_millis(100);

/// A started worker of the hostile fixture with [`DEADLINE`].
fn hostile_worker() -> PluginWorker {
    let limits = PluginLimits {
        deadline_ms: DEADLINE.as_millis() as u64,
        ..PluginLimits::default()
    };
    let mut worker = worker(load(&engine(), "hostile"), limits, "{}");
    worker.warm_up().expect("hostile plugin starts");
    worker
}

#[test]
fn infinite_loop_is_stopped_within_twice_the_deadline() {
    let mut worker = hostile_worker();

    let started = Instant::now();
    let outcome = worker.transform(adt_a01("LOOP-1", "HOSTILE:loop"), metadata("LOOP-1"));
    let elapsed = started.elapsed();
    let StageOutcome::Failed(failure) = outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    assert_eq!(failure.cause, FailureCause::Timeout);
    assert_eq!(failure.disposition, Disposition::Reject);
    assert!(elapsed < 2 * DEADLINE, "stopped after {elapsed:?}");
    assert!(
        elapsed >= DEADLINE - Duration::from_millis(10),
        "stopped too early: {elapsed:?}"
    );

    let message = adt_a01("NORMAL-1", "");
    let outcome = worker.transform(message.clone(), metadata("NORMAL-1"));
    assert_eq!(outcome, StageOutcome::Forward(vec![message]));
}

/// Ensures that a plugin cannot wait out its deadline in a host call: a
/// sleep (WASI's monotonic clock and poll) ends at once instead of holding
/// the worker for an hour, and the wall clock reads the message's
/// received-at, before and after the sleep.
#[test]
fn a_sleep_ends_at_once_and_the_clock_reads_the_messages_time() {
    let mut worker = hostile_worker();
    let received_at = metadata("SLEEP-1").received_at_unix_ms;

    let started = Instant::now();
    let outcome = worker.transform(adt_a01("SLEEP-1", "HOSTILE:sleep"), metadata("SLEEP-1"));
    let elapsed = started.elapsed();
    assert!(elapsed < 2 * DEADLINE, "held the worker for {elapsed:?}");
    let StageOutcome::Forward(outputs) = outcome else {
        panic!("expected the plugin to go on, got {outcome:?}");
    };
    assert_eq!(outputs[0].body, format!("woke at {received_at}"));

    let mut later = metadata("CLOCK-1");
    later.received_at_unix_ms += 60_000;
    let outcome = worker.transform(adt_a01("CLOCK-1", "HOSTILE:clock"), later);
    let StageOutcome::Forward(outputs) = outcome else {
        panic!("expected the time, got {outcome:?}");
    };
    assert_eq!(outputs[0].body, (received_at + 60_000).to_string());
}
