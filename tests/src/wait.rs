//! Polling until something holds, instead of sleeping for a guessed time.

use std::time::{Duration, Instant};

/// How often the helpers ask.
const POLL: Duration = Duration::from_millis(100);

/// Polls `probe` every 100 ms until it gives a value or `limit` passes; `None` when it timed out.
pub fn poll<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// Polls `done` every 100 ms until it holds or `limit` passes; false when it timed out.
pub fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    poll(limit, || done().then_some(())).is_some()
}

/// Polls `probe` until it gives a value, and returns it; panics naming `what` when `limit`
/// passes first.
pub fn wait_until<T>(what: &str, limit: Duration, probe: impl FnMut() -> Option<T>) -> T {
    poll(limit, probe).unwrap_or_else(|| panic!("timed out after {limit:?} waiting for {what}"))
}
