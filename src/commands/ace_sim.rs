//! `s321d ace-sim --config SIM.toml`: the ACE simulator (see `acesim`).

use std::path::Path;
use std::process::ExitCode;

pub fn run(config: &Path) -> ExitCode {
    crate::telemetry::init(crate::config::LogFormat::Text, "info");
    let cfg = match crate::acesim::SimConfig::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(crate::acesim::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(super::EXIT_FAILED)
        }
    }
}
