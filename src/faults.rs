//! Fault injection and pause hooks for the crash, poison-file and
//! concurrency tests, driven by environment variables (`S321D_CRASH_AT`,
//! `S321D_CRASH_ON_FILE`, `S321D_PAUSE_AT`). Unset in production, where each
//! hook is one cached check. It owns no state of the daemon.

/// Fault injection for the crash tests: when `S321D_CRASH_AT` names this
/// point, the process aborts right here, as abruptly as a SIGKILL (no
/// destructors, no flushing). The points sit between every two recorded steps
/// of a file's life. Unset in production, where this is one cached check.
pub fn crash_point(point: &str) {
    static AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if AT
        .get_or_init(|| std::env::var("S321D_CRASH_AT").ok())
        .as_deref()
        == Some(point)
    {
        eprintln!("s321d: crash point {point} reached (S321D_CRASH_AT); aborting");
        std::process::abort();
    }
}

/// Fault injection for the poison-file tests: when `S321D_CRASH_ON_FILE`
/// names a file handed to the engine, the process aborts (as an input that
/// exhausts memory would get it killed). Unset in production.
pub fn crash_on_file(name: &str) {
    static ON: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if ON
        .get_or_init(|| std::env::var("S321D_CRASH_ON_FILE").ok())
        .as_deref()
        == Some(name)
    {
        eprintln!(
            "s321d: evaluating {} (S321D_CRASH_ON_FILE); aborting",
            crate::paths::Escaped(name)
        );
        std::process::abort();
    }
}

/// Test hook for the concurrency tests: when `S321D_PAUSE_AT` is
/// `<point>:<millis>`, sleeps that long at `point`, so a second process can
/// reach the same step meanwhile. Unset in production: a no-op.
pub fn pause_for_tests(point: &str) {
    static AT: std::sync::OnceLock<Option<(String, u64)>> = std::sync::OnceLock::new();
    let at = AT.get_or_init(|| {
        let v = std::env::var("S321D_PAUSE_AT").ok()?;
        let (p, ms) = v.split_once(':')?;
        Some((p.to_owned(), ms.parse().ok()?))
    });
    if let Some((p, ms)) = at
        && p == point
    {
        std::thread::sleep(std::time::Duration::from_millis(*ms));
    }
}
