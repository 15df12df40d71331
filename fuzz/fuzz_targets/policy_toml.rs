//! `Policy::from_toml`: see `props::check_policy`.
#![no_main]

use std::sync::LazyLock;

#[path = "../props.rs"]
mod props;

static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(props::policy_dir);

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    props::check_policy(data, DIR.path());
});
