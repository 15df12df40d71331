//! `manifest::read` of ndjson manifests: see `props::check_manifest`.
#![no_main]

#[path = "../props.rs"]
mod props;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    props::check_manifest(props::Reader::Ndjson, data);
});
