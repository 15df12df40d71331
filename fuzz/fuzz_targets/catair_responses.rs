//! `filing::batch::read_sx` / `read_so`: see `props::check_catair`.
#![no_main]

#[path = "../props.rs"]
mod props;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    props::check_catair(data);
});
