//! `manifest::read` of parquet manifests: see `props::check_manifest`.
#![no_main]

#[path = "../props.rs"]
mod props;

libfuzzer_sys::fuzz_target!(
    init: {
        // manifest::read catches a panic in polars' decoder as F001, as in
        // production; libFuzzer's hook would abort first. A panic of the
        // checks themselves still ends the run (libfuzzer-sys aborts when
        // one unwinds out of the target), and is printed.
        std::panic::set_hook(Box::new(|info| {
            if info.location().is_some_and(|l| l.file().contains("props.rs")) {
                eprintln!("{info}");
            }
        }));
    },
    |data: &[u8]| {
        props::check_manifest(props::Reader::Parquet, data);
    }
);
