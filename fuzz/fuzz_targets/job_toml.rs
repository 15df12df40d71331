//! `Job::from_toml`: see `props::check_job`.
#![no_main]

#[path = "../props.rs"]
mod props;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    props::check_job(data);
});
