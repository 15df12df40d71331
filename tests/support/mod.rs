//! Test harness: run the real binary in an isolated folder; real servers.

#![allow(dead_code)]

pub mod acesim;
pub mod servers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (data-samples/, jobs/, config/).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An isolated working folder with a `Command` for the real binary.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `s321d ARGS` run in the sandbox, with quiet logs and never the
    /// machine's `/etc/s321d/s321d.toml`: without `--config` in ARGS, an empty
    /// file of the sandbox's stands in for it (built-in defaults only).
    pub fn s321d(&self, args: &[&str]) -> Output {
        self.s321d_with(args, &[])
    }

    /// [`Sandbox::s321d`] with environment variables set (`S321D__STATE__URL`, ...).
    pub fn s321d_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_s321d"));
        cmd.envs(env.iter().copied());
        cmd.args(args)
            .current_dir(self.path())
            .env("RUST_LOG", "warn");
        if args.contains(&"--config") {
            cmd.env_remove("S321D_CONFIG");
        } else {
            let empty = self.path().join(".no-system-config.toml");
            if !empty.exists() {
                std::fs::write(&empty, "").expect("write an empty config");
            }
            cmd.env("S321D_CONFIG", &empty);
        }
        cmd.output().expect("s321d runs")
    }

    pub fn write(&self, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path().join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
}

/// Stdout and stderr of a run, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A canonical-shape job that reads `*.csv`.
pub const CANONICAL_JOB: &str = "name = \"canon\"\npattern = \"*.csv\"\n[format]\nkind = \"csv\"\n";

pub const CANONICAL_HEADER: &str = "carrier,master_bill,house_bill,line_no,arrival_date,port_of_entry,shipper_name,shipper_country,consignee_name,consignee_address,consignee_city,consignee_state,consignee_zip,description,hts_code,country_of_origin,quantity,declared_value,currency,weight_kg,seller_name";

/// A clean canonical line for house bill `hb`.
pub fn clean_line(hb: &str) -> String {
    format!(
        "DHLX,M1,{hb},1,2025-04-01,4701,Acme,VN,Jane Doe,12 Main Street,Brooklyn,NY,11201,Cotton T-shirt,6109.10.0012,VN,1,20.00,USD,0.5,S1"
    )
}
