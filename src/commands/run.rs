//! `s321d run`: the daemon (see `daemon`).

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;

pub fn run(config: Option<&Path>) -> ExitCode {
    let cfg = match Config::load(config) {
        Ok(c) => c,
        Err(p) => return super::report_problems(&p),
    };
    crate::telemetry::init(cfg.log.format, &cfg.log.level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("s321d")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(super::EXIT_FAILED);
        }
    };
    match runtime.block_on(crate::daemon::run(config.map(Path::to_owned))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("s321d stopped: {e:#}");
            eprintln!("error: {e:#}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}
