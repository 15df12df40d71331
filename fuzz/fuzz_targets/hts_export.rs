//! `HtsRevision::from_csv` / `from_json`: see `props::check_hts`.
#![no_main]

#[path = "../props.rs"]
mod props;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    props::check_hts(data);
});
