//! The ACE simulator (`s321d ace-sim`) as a test peer: the real binary on a
//! free loopback port, with its CATAIR folders wired to a sandbox's data
//! folder (the filer's `ace/outbound` is the simulator's inbound), killed when
//! the test ends.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::servers::{free_port, http};

pub struct AceSim {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl AceSim {
    /// Starts the simulator for filer code `S32` with `extra` TOML appended
    /// (sections such as `[release]` and `[faults]`).
    pub fn start(dir: &Path, data: &Path, extra: &str) -> AceSim {
        let port = free_port();
        let config = dir.join(format!("ace-sim-{port}.toml"));
        std::fs::write(
            &config,
            format!(
                "filer_codes = [\"S32\"]\nlisten = \"127.0.0.1:{port}\"\n{extra}\n[batch]\ninbound = {:?}\noutbound = {:?}\npoll_ms = 50\n",
                data.join("ace/outbound").display().to_string(),
                data.join("ace/inbound").display().to_string(),
            ),
        )
        .unwrap();
        let log = dir.join(format!("ace-sim-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_s321d"))
            .args(["ace-sim", "--config", &config.display().to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let sim = AceSim { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "ace-sim did not start:\n{}",
                sim.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sim
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What the simulator received: `(carrier, house bill) -> entry numbers`
    /// (from its `/sim/received` inspection endpoint).
    pub fn received(&self) -> Vec<(String, String, Vec<String>)> {
        let (status, body) = http("GET", self.port, "/sim/received", "");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        v["shipments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let numbers = s["entry_numbers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap().to_owned())
                    .collect();
                (
                    s["carrier"].as_str().unwrap().to_owned(),
                    s["house_bill"].as_str().unwrap().to_owned(),
                    numbers,
                )
            })
            .collect()
    }
}

impl Drop for AceSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
