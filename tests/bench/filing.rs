//! Benchmark of ACE filing through both transports against `s321d ace-sim` on
//! loopback (issue targets: at least 1,000 entries/s over HTTP; a CATAIR
//! batch of 10,000 entries written and fully acknowledged within 10 s; the
//! ledger's bookkeeping never the bottleneck).
//!
//! ```text
//! cargo bench --bench filing                          # 10,000 entries
//! cargo bench --bench filing -- --entries 2000 --concurrency 8,32
//! ```
//! One `run-job` (no filing) evaluates a manifest of N clean shipments; its
//! data folder is then copied fresh for every measurement, and each
//! measurement gets a fresh simulator (entry numbers are never reused).
//!
//! - HTTP, per concurrency: wall time of `s321d file --run RUN --transport
//!   http` (entries built from the archive, numbered and recorded in the
//!   ledger, POSTed, every answer recorded). Baseline, same run and
//!   concurrency: the same entry JSON POSTed by a bare reqwest client with no
//!   ledger at all.
//! - CATAIR: from the start of `s321d file --run RUN --transport catair` until
//!   every entry is acknowledged in the ledger (the batch written, taken by
//!   the simulator, its SX read back and applied by `s321d file --poll`).
//!   Baseline: the simulator alone answering the same batch file.
//!
//! The last column splits s321d's own time (from its log): building the
//! entries from the archive, recording the intents, sending and recording
//! the answers, reading the release notifications.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HEADER: &str = "carrier,master_bill,house_bill,line_no,arrival_date,port_of_entry,shipper_name,shipper_country,consignee_name,consignee_address,consignee_city,consignee_state,consignee_zip,description,hts_code,country_of_origin,quantity,declared_value,currency,weight_kg,seller_name,ior_number";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_s321d")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    assert!(
        Command::new("cp")
            .arg("-a")
            .arg(from)
            .arg(to)
            .status()
            .unwrap()
            .success()
    );
}

/// N clean shipments (one line each, a consignee each, an importer of record
/// each): 9 in 10 are type 86 (2025-04-01, under $800), 1 in 10 over $800
/// and so on a type 11 entry of its own.
fn manifest(n: usize) -> String {
    let mut t = format!("{HEADER}\n");
    for i in 0..n {
        let value = if i % 10 == 0 { "950.00" } else { "42.50" };
        t.push_str(&format!(
            "DHLX,MAWB{},HB{i:07},1,2025-04-01,4701,Hanoi Textiles,VN,Person {i},{} Main Street,Brooklyn,NY,11201,Cotton T-shirt,6109.10.0012,VN,1,{value},USD,0.5,Shop,12-345678900\n",
            i / 500,
            i % 997 + 1
        ));
    }
    t
}

struct Sim {
    child: Child,
    port: u16,
}

impl Sim {
    fn start(dir: &Path, batch: Option<(&Path, &Path)>) -> Sim {
        let port = free_port();
        let mut cfg = format!(
            "filer_codes = [\"S32\"]\nlisten = \"127.0.0.1:{port}\"\n[release]\ndelay_ms = 0\nheld_share = 0.0\n"
        );
        if let Some((inbound, outbound)) = batch {
            cfg.push_str(&format!(
                "[batch]\ninbound = {:?}\noutbound = {:?}\npoll_ms = 20\n",
                inbound.display().to_string(),
                outbound.display().to_string()
            ));
        }
        let path = dir.join(format!("sim-{port}.toml"));
        std::fs::write(&path, cfg).unwrap();
        let child = Command::new(bin())
            .args(["ace-sim", "--config", &path.display().to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        Sim { child, port }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(dir: &Path, data: &Path, sim_port: u16, concurrency: usize) -> PathBuf {
    let path = dir.join("s321d.toml");
    std::fs::write(
        &path,
        format!(
            "[paths]\ndata_dir = {:?}\njobs_dir = {:?}\n[log]\nlevel = \"warn\"\n[daemon]\nlisten = \"127.0.0.1:{}\"\n\
             [filing]\nfiler_code = \"S32\"\n[filing.http]\nurl = \"http://127.0.0.1:{sim_port}\"\nconcurrency = {concurrency}\n",
            data.display().to_string(),
            dir.join("jobs").display().to_string(),
            free_port()
        ),
    )
    .unwrap();
    path
}

/// Runs s321d; returns its log (stderr, at info).
fn s321d(config: &Path, args: &[&str]) -> String {
    let out = Command::new(bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "s321d {args:?}: {}{log}",
        String::from_utf8_lossy(&out.stdout)
    );
    log
}

/// The phase times `file --run` logs: (built, recorded, sent, total) in ms,
/// each counted from the start of the filing step.
fn phases(log: &str) -> (u64, u64, u64, u64) {
    let line = log
        .lines()
        .find(|l| l.contains("built_ms="))
        .expect("the filing summary line");
    let field = |name: &str| -> u64 {
        let at = line
            .find(&format!("{name}="))
            .unwrap_or_else(|| panic!("{name} in {line}"))
            + name.len()
            + 1;
        line[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (
        field("built_ms"),
        field("recorded_ms"),
        field("sent_ms"),
        field("duration_ms"),
    )
}

fn ledger_count(data: &Path, states: &str) -> i64 {
    let db = rusqlite::Connection::open(data.join("state.db")).unwrap();
    db.query_row(
        &format!("SELECT count(*) FROM filings WHERE state IN ({states})"),
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// The entries of the run as the gateway receives them, for the baseline.
fn entry_bodies(data: &Path, n: usize) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(data.join("state.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT entry_number, payload FROM filings ORDER BY id")
        .unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), n);
    rows
}

/// POSTs every body with `concurrency` in flight; no ledger.
fn bare_post(port: u16, bodies: &[(String, String)], concurrency: usize) -> f64 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/v1/entries");
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (number, body) in bodies.iter().cloned() {
            let (client, url, permits) = (client.clone(), url.clone(), permits.clone());
            tasks.spawn(async move {
                let _p = permits.acquire_owned().await.unwrap();
                let r = client
                    .post(url)
                    .header("Idempotency-Key", number)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                r.bytes().await.unwrap();
            });
        }
        while let Some(t) = tasks.join_next().await {
            t.unwrap();
        }
        started.elapsed().as_secs_f64()
    })
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .map(|i| args[i + 1].clone())
    };
    let n: usize = arg("--entries").map_or(10_000, |v| v.parse().expect("--entries N"));
    let levels: Vec<usize> = arg("--concurrency").map_or(vec![4, 16, 64], |v| {
        v.split(',')
            .map(|c| c.parse().expect("--concurrency N,N"))
            .collect()
    });
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-filing-{n}"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("jobs")).unwrap();

    // One evaluated run, kept as a template data folder.
    let template = tmp.join("template");
    std::fs::write(
        tmp.join("jobs/intake.toml"),
        "name = \"intake\"\npattern = \"*.csv\"\n[source]\nname = \"data\"\ninbox = \"inbox\"\nsettle_secs = 0\n[output]\npath = \"runs\"\n[format]\nkind = \"csv\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(template.join("inbox")).unwrap();
    std::fs::write(template.join("inbox/bench.csv"), manifest(n)).unwrap();
    let cfg = config(&tmp, &template, 9, 1);
    s321d(&cfg, &["run-job", "intake"]);
    let run = std::fs::read_dir(template.join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();

    let mut report = String::from(
        "| transport | concurrency | s321d (s) | entries/s | baseline (s) | baseline entries/s | s321d / baseline | build / record intents / send+record answers / read notifications (ms) |\n\
         |---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    let mut best = (0.0f64, 0usize);
    for &c in &levels {
        let data = tmp.join(format!("http-{c}"));
        copy_dir(&template, &data);
        let sim = Sim::start(&tmp, None);
        let cfg = config(&tmp, &data, sim.port, c);
        let started = Instant::now();
        let log = s321d(&cfg, &["file", "--run", &run, "--transport", "http"]);
        let ours = started.elapsed().as_secs_f64();
        let (built, recorded, sent, total) = phases(&log);
        assert_eq!(
            ledger_count(&data, "'pending','submitted'"),
            0,
            "every entry answered"
        );
        drop(sim);
        let bodies = entry_bodies(&data, n);
        let sim = Sim::start(&tmp, None);
        let base = bare_post(sim.port, &bodies, c);
        drop(sim);
        let rate = n as f64 / ours;
        if rate > best.0 {
            best = (rate, c);
        }
        report.push_str(&format!(
            "| HTTP | {c} | {ours:.2} | {rate:.0} | {base:.2} | {:.0} | {:.2}x | {built} / {} / {} / {} |\n",
            n as f64 / base,
            ours / base,
            recorded - built,
            sent - recorded,
            total - sent
        ));
    }

    // CATAIR: one batch of n entries, until every one is acknowledged.
    let data = tmp.join("catair");
    copy_dir(&template, &data);
    let (outbound, inbound) = (data.join("ace/outbound"), data.join("ace/inbound"));
    let sim = Sim::start(&tmp, Some((&outbound, &inbound)));
    let cfg = config(&tmp, &data, sim.port, 1);
    let started = Instant::now();
    let log = s321d(&cfg, &["file", "--run", &run, "--transport", "catair"]);
    let written = started.elapsed().as_secs_f64();
    let (built, recorded, sent, total) = phases(&log);
    while ledger_count(&data, "'pending','submitted'") > 0 {
        std::thread::sleep(Duration::from_millis(20));
        s321d(&cfg, &["file", "--poll"]);
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the batch was never acknowledged"
        );
    }
    let acknowledged = started.elapsed().as_secs_f64();
    drop(sim);
    // Baseline: the simulator alone answering the same batch.
    let batch = std::fs::read_dir(outbound.join("processed"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let base_dir = tmp.join("catair-baseline");
    let (b_in, b_out) = (base_dir.join("in"), base_dir.join("out"));
    std::fs::create_dir_all(&b_in).unwrap();
    std::fs::create_dir_all(&b_out).unwrap();
    let sim = Sim::start(&tmp, Some((&b_in, &b_out)));
    let name = batch.file_name().unwrap().to_string_lossy().into_owned();
    let started = Instant::now();
    std::fs::copy(&batch, b_in.join(format!("{name}.part"))).unwrap();
    std::fs::rename(b_in.join(format!("{name}.part")), b_in.join(&name)).unwrap();
    while !b_out.join(format!("{name}.sx")).exists() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let base = started.elapsed().as_secs_f64();
    drop(sim);
    report.push_str(&format!(
        "| CATAIR (batch written in {written:.2} s) | 1 batch | {acknowledged:.2} | {:.0} | {base:.2} | {:.0} | {:.2}x | {built} / {} / {} / {} |\n",
        n as f64 / acknowledged,
        n as f64 / base,
        acknowledged / base,
        recorded - built,
        sent - recorded,
        total - sent
    ));
    let text = format!(
        "{n} entries.\n\n{report}\nBest HTTP figure: {:.0} entries/s at concurrency {}.\n",
        best.0, best.1
    );
    println!("{text}");
    std::fs::write(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-filing.md"),
        text,
    )
    .unwrap();
}
