//! Waiting for what the pipeline and the delivery workers record, for the
//! ACK modes that answer later than the commit.

use tokio::sync::Notify;
use tokio::time::Instant;

/// Asks `decide` until it gives an answer, again whenever `first` or
/// `second` is signalled; `None` once `deadline` passes first.
pub(crate) async fn until<T>(
    first: &Notify,
    second: Option<&Notify>,
    deadline: Instant,
    mut decide: impl FnMut() -> Option<T>,
) -> Option<T> {
    loop {
        // Registered before `decide` looks, so a result recorded in between
        // still wakes this wait.
        let first_signal = std::pin::pin!(first.notified());
        let mut first_signal = first_signal;
        first_signal.as_mut().enable();
        let mut second_signal = std::pin::pin!(second.map(Notify::notified));
        if let Some(signal) = second_signal.as_mut().as_pin_mut() {
            signal.enable();
        }
        if let Some(answer) = decide() {
            return Some(answer);
        }
        let either = async {
            tokio::select! {
                () = first_signal => {}
                () = async {
                    match second_signal.as_pin_mut() {
                        Some(signal) => signal.await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        };
        if tokio::time::timeout_at(deadline, either).await.is_err() {
            return None;
        }
    }
}
