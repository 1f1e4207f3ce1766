//! Ensures that an infinite loop in a plugin is stopped by the epoch
//! deadline within twice the deadline, and that the same worker then
//! processes the next message normally.

mod support;

use std::time::{Duration, Instant};

use hl7wasm::plugin::{Disposition, FailureCause, PluginLimits, StageOutcome};
use support::{adt_a01, engine, load, metadata, worker};

const DEADLINE: Duration = Duration::from_millis(100);

#[test]
fn infinite_loop_is_stopped_within_twice_the_deadline() {
    let limits = PluginLimits {
        deadline_ms: DEADLINE.as_millis() as u64,
        ..PluginLimits::default()
    };
    let mut worker = worker(load(&engine(), "hostile"), limits, "{}");
    worker.warm_up().expect("hostile plugin starts");

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
