//! Logging: `tracing` events to stderr, compact text without timestamps (journald
//! adds its own) or JSON lines (`[log] format = "json"` or
//! `S321D_LOG_FORMAT=json`). `RUST_LOG` overrides the configured level.
//! Never log consignee names or addresses, or secrets: log identifiers (file
//! names, run ids, house bills) and counts.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; later calls are no-ops.
pub fn init(format: LogFormat, level: &str) {
    // The scheduler library narrates every tick at INFO; keep it to warnings.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(level))
        .add_directive(
            "tokio_cron_scheduler=warn"
                .parse()
                .expect("static directive"),
        );
    let format = match std::env::var("S321D_LOG_FORMAT").as_deref() {
        Ok("json") => LogFormat::Json,
        Ok("text") => LogFormat::Text,
        _ => format,
    };
    use std::io::IsTerminal as _;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder
            .compact()
            .without_time()
            .with_target(false)
            .try_init(),
    };
}
