//! One conformance suite, run against each kind of source: a local folder,
//! OpenSSH's sshd (internal-sftp) and moto's S3 server, all real and on
//! loopback. First the source operations, then the whole life of a file
//! through `s321d run-job`: settle rules, archive, outputs, processed/,
//! quarantine/ with a note, duplicates by content.

use std::path::{Path, PathBuf};

use s321d::sources::{Source, SourceConfig, SourceError};

use crate::support::servers;
use crate::support::*;

/// A backend under test: its config (TOML for the daemon, and parsed).
struct Backend {
    toml: String,
    config: SourceConfig,
}

fn local(root: &Path) -> Backend {
    let toml = format!(
        "kind = \"local\"\nroot = {:?}\n",
        root.display().to_string()
    );
    Backend {
        config: toml::from_str(&toml).unwrap(),
        toml,
    }
}

fn sftp(test: &str) -> Backend {
    let s = servers::sftp();
    let root = s
        .dir
        .join("roots")
        .join(format!("{test}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&root).unwrap();
    let toml = format!(
        "kind = \"sftp\"\nhost = \"127.0.0.1\"\nport = {}\nuser = {:?}\nroot = {:?}\nknown_hosts = {:?}\nprivate_key_file = {:?}\ntimeout_secs = 10\n",
        s.port,
        s.user,
        root.display().to_string(),
        s.known_hosts.display().to_string(),
        s.client_key.display().to_string()
    );
    Backend {
        config: toml::from_str(&toml).unwrap(),
        toml,
    }
}

fn s3(test: &str) -> Backend {
    let s = servers::s3();
    let bucket = format!(
        "t-{}-{}",
        test.replace('_', "-"),
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    s.create_bucket(&bucket);
    let dir = std::env::temp_dir().join(format!("s321d-s3creds-{bucket}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("key_id"), "testing\n").unwrap();
    std::fs::write(dir.join("secret"), "testing\n").unwrap();
    let toml = format!(
        "kind = \"s3\"\nbucket = {bucket:?}\nprefix = \"carrier-x\"\nendpoint = {:?}\npath_style = true\nallow_http = true\n\
         access_key_id_file = {:?}\nsecret_access_key_file = {:?}\n",
        s.endpoint,
        dir.join("key_id").display().to_string(),
        dir.join("secret").display().to_string()
    );
    Backend {
        config: toml::from_str(&toml).unwrap(),
        toml,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------- operations

fn operations(backend: Backend) {
    let rt = runtime();
    let source = Source::from_config("under-test", &backend.config).unwrap();
    rt.block_on(async {
        assert!(
            source.list("inbox").await.unwrap().is_empty(),
            "a missing folder lists empty"
        );
        source.put("inbox/a.csv", b"hello").await.unwrap();
        source.put("inbox/b.csv", b"world!").await.unwrap();
        source.put("inbox/sub/c.csv", b"nested").await.unwrap();
        let listed = source.list("inbox").await.unwrap();
        let names: Vec<(&str, &str, u64)> = listed
            .iter()
            .map(|e| (e.path.as_str(), e.name.as_str(), e.size))
            .collect();
        assert_eq!(
            names,
            [("inbox/a.csv", "a.csv", 5), ("inbox/b.csv", "b.csv", 6)],
            "files only, not folders"
        );
        assert!(listed.iter().all(|e| e.modified.is_some()));
        assert_eq!(source.get("inbox/a.csv").await.unwrap(), b"hello");
        let dir = tempfile::tempdir().unwrap();
        let (size, sha) = source
            .download("inbox/b.csv", &dir.path().join("b"))
            .await
            .unwrap();
        assert_eq!(size, 6);
        assert_eq!(
            sha,
            "711e9609339e92b03ddc0a211827dba421f38f9ed8b9d806e1ffdd8c15ffa03d"
        );
        source.put("inbox/a.csv", b"replaced").await.unwrap();
        assert_eq!(
            source.get("inbox/a.csv").await.unwrap(),
            b"replaced",
            "put replaces atomically"
        );
        source
            .rename("inbox/a.csv", "processed/a.csv")
            .await
            .unwrap();
        assert!(!source.exists("inbox/a.csv").await.unwrap());
        assert!(source.exists("processed/a.csv").await.unwrap());
        source.delete("processed/a.csv").await.unwrap();
        assert!(matches!(
            source.delete("processed/a.csv").await,
            Err(SourceError::NotFound { .. })
        ));
        assert!(matches!(
            source.get("nope.csv").await,
            Err(SourceError::NotFound { .. })
        ));
        let names: Vec<String> = source
            .list("inbox")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["b.csv"], "no temporary files are left: {names:?}");
    });
}

#[test]
fn local_operations() {
    let dir = tempfile::tempdir().unwrap();
    operations(local(dir.path()));
}

#[test]
fn sftp_operations() {
    operations(sftp("ops"));
}

#[test]
fn s3_operations() {
    operations(s3("ops"));
}

// ----------------------------------------------------------- life of a file

const GOOD: &str = "carrier,house_bill,line_no,arrival_date,port_of_entry,shipper_country,consignee_name,consignee_address,consignee_zip,description,hts_code,country_of_origin,declared_value,currency,weight_kg\n\
DHLX,H1,1,2025-04-01,4701,VN,Jane Doe,12 Main Street,11201,Cotton T-shirt,6109.10.0012,VN,20.00,USD,0.5\n\
DHLX,H2,1,2025-04-01,4701,VN,Bob Ray,3 Elm Road,90210,Wool hat,6505.00.9040,VN,15.00,USD,0.2\n";

/// Writes a config and job for `backend` into a sandbox; returns the config path.
fn setup(s: &Sandbox, backend: &Backend) -> PathBuf {
    let config = format!(
        "[paths]\ndata_dir = {:?}\njobs_dir = {:?}\n[log]\nlevel = \"warn\"\nformat = \"text\"\n\
         [archive]\nsource = \"drop\"\npath = \"archive\"\n[sources.drop]\n{}",
        s.path().join("data").display().to_string(),
        s.path().join("jobs").display().to_string(),
        backend.toml
    );
    s.write(
        "jobs/demo.toml",
        "name = \"demo\"\npattern = \"*.csv\"\n[source]\nname = \"drop\"\nsettle_secs = 1\n[output]\nsource = \"drop\"\npath = \"runs/demo\"\n[format]\nkind = \"csv\"\n",
    );
    s.write("s321d.toml", config)
}

fn run_job(s: &Sandbox, config: &Path) -> std::process::Output {
    s.s321d(&["--config", &config.display().to_string(), "run-job", "demo"])
}

fn file_life(backend: Backend) {
    let s = Sandbox::new();
    let config = setup(&s, &backend);
    let rt = runtime();
    let source = Source::from_config("drop", &backend.config).unwrap();
    let names = |dir: &'static str| {
        let source = &source;
        rt.block_on(async move {
            source
                .list(dir)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
        })
    };
    rt.block_on(async {
        source.put("inbox/good.csv", GOOD.as_bytes()).await.unwrap();
        source
            .put("inbox/good-again.csv", GOOD.as_bytes())
            .await
            .unwrap(); // the same bytes, another name
        source
            .put("inbox/bad.csv", b"\x1f\x8b\x08\x00 a gzip file, not a CSV")
            .await
            .unwrap();
        source
            .put("inbox/late.csv.part", b"still uploading")
            .await
            .unwrap();
        source
            .put("inbox/notes.txt", b"not a manifest")
            .await
            .unwrap();
    });
    std::thread::sleep(std::time::Duration::from_millis(1500)); // settle_secs = 1

    let out = run_job(&s, &config);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 file(s) processed, 1 quarantined, 1 duplicate"),
        "{stdout}"
    );

    assert_eq!(
        names("inbox"),
        ["late.csv.part", "notes.txt"],
        "temporary and unmatched files stay"
    );
    let mut processed = names("processed");
    processed.sort();
    assert_eq!(processed, ["good-again.csv", "good.csv"]);
    assert_eq!(names("quarantine"), ["bad.csv", "bad.csv.error.txt"]);
    let note = String::from_utf8(
        rt.block_on(source.get("quarantine/bad.csv.error.txt"))
            .unwrap(),
    )
    .unwrap();
    assert!(
        note.contains("could not be read")
            && note.contains("reason: the file is binary (NUL byte at offset 3)"),
        "{note}"
    );

    // The archive holds each distinct file once, byte for byte.
    let day = chrono::Utc::now().format("%Y/%m/%d").to_string();
    let archived = rt
        .block_on(source.list(&format!("archive/raw/{day}")))
        .unwrap();
    assert_eq!(archived.len(), 2, "{archived:?}");
    for e in &archived {
        let bytes = rt.block_on(source.get(&e.path)).unwrap();
        assert!(
            bytes == GOOD.as_bytes() || bytes.starts_with(b"\x1f\x8b"),
            "{}",
            e.path
        );
    }

    // One run folder with every output, the summary last.
    let runs: Vec<String> = {
        let db = rusqlite::Connection::open(s.path().join("data/state.db")).unwrap();
        let mut stmt = db
            .prepare("SELECT run_id FROM runs WHERE status = 'succeeded'")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(runs.len(), 1);
    let folder = format!("runs/demo/{}", runs[0]);
    let mut outputs: Vec<String> = rt
        .block_on(source.list(&folder))
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    outputs.sort();
    assert_eq!(
        outputs,
        [
            "dispositions.csv",
            "findings.csv",
            "findings.parquet",
            "summary.json"
        ]
    );
    let summary: serde_json::Value = serde_json::from_slice(
        &rt.block_on(source.get(&format!("{folder}/summary.json")))
            .unwrap(),
    )
    .unwrap();
    let statuses: Vec<(String, String)> = summary["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // Files are taken in name order: good-again.csv first, so good.csv is the duplicate.
    assert_eq!(
        statuses,
        [
            ("bad.csv".to_owned(), "quarantined".to_owned()),
            ("good-again.csv".to_owned(), "processed".to_owned())
        ]
    );
    assert_eq!(summary["lines"], 2);
    let dispositions = String::from_utf8(
        rt.block_on(source.get(&format!("{folder}/dispositions.csv")))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        dispositions
            .lines()
            .filter(|l| l.split(',').nth(7) == Some("86"))
            .count(),
        2,
        "{dispositions}"
    );

    // Nothing new: a second run takes nothing and writes no run.
    let out = run_job(&s, &config);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 run(s)"));

    // The upload completes (renamed into place): the next run takes it.
    rt.block_on(source.rename("inbox/late.csv.part", "inbox/late.csv"))
        .unwrap();
    rt.block_on(source.put(
        "inbox/late.csv",
        GOOD.replace("H1", "H3").replace("H2", "H4").as_bytes(),
    ))
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let out = run_job(&s, &config);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 file(s) processed"),
        "{}",
        show(&out)
    );
    assert!(names("processed").contains(&"late.csv".to_owned()));
    assert_eq!(names("inbox"), ["notes.txt"]);
}

#[test]
fn local_file_life() {
    let dir = tempfile::tempdir().unwrap();
    file_life(local(dir.path()));
}

#[test]
fn sftp_file_life() {
    file_life(sftp("life"));
}

#[test]
fn s3_file_life() {
    file_life(s3("life"));
}

// ------------------------------------------------------------ SFTP host keys

#[test]
fn sftp_refuses_an_unknown_host_key_unless_told_and_a_wrong_key_always() {
    let rt = runtime();
    let servers::Sftp {
        port,
        user,
        client_key,
        dir,
        ..
    } = servers::sftp();
    let empty = dir.join("known_hosts_empty");
    std::fs::write(&empty, "").unwrap();
    let cfg = |known: &Path, accept: bool| -> SourceConfig {
        toml::from_str(&format!(
            "kind = \"sftp\"\nhost = \"127.0.0.1\"\nport = {port}\nuser = {user:?}\nroot = {:?}\nknown_hosts = {:?}\n\
             accept_unknown_host_key = {accept}\nprivate_key_file = {:?}\ntimeout_secs = 5\n",
            dir.display().to_string(),
            known.display().to_string(),
            client_key.display().to_string()
        ))
        .unwrap()
    };
    let err = rt
        .block_on(
            Source::from_config("partner", &cfg(&empty, false))
                .unwrap()
                .list("."),
        )
        .unwrap_err();
    assert!(!err.is_retriable(), "{err}");
    assert!(
        err.to_string().contains("is not in") && err.to_string().contains("source partner"),
        "{err}"
    );
    rt.block_on(
        Source::from_config("partner", &cfg(&empty, true))
            .unwrap()
            .list("."),
    )
    .unwrap();

    // A recorded key that does not match is refused even when unknown keys are accepted.
    let wrong = dir.join("known_hosts_wrong");
    let other = dir.join("other_key");
    let _ = std::fs::remove_file(&other);
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    let pubkey = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let mut parts = pubkey.split_whitespace();
    std::fs::write(
        &wrong,
        format!(
            "[127.0.0.1]:{port} {} {}\n",
            parts.next().unwrap(),
            parts.next().unwrap()
        ),
    )
    .unwrap();
    let err = rt
        .block_on(
            Source::from_config("partner", &cfg(&wrong, true))
                .unwrap()
                .list("."),
        )
        .unwrap_err();
    assert!(err.to_string().contains("differs"), "{err}");
    assert!(!err.is_retriable());
}

#[test]
fn sftp_with_a_wrong_key_is_a_permanent_error() {
    let rt = runtime();
    let servers::Sftp {
        port,
        user,
        known_hosts,
        dir,
        ..
    } = servers::sftp();
    let stranger = dir.join("stranger_key");
    let _ = std::fs::remove_file(&stranger);
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .unwrap();
    let cfg: SourceConfig = toml::from_str(&format!(
        "kind = \"sftp\"\nhost = \"127.0.0.1\"\nport = {port}\nuser = {user:?}\nknown_hosts = {:?}\nprivate_key_file = {:?}\ntimeout_secs = 5\n",
        known_hosts.display().to_string(),
        stranger.display().to_string()
    ))
    .unwrap();
    let err = rt
        .block_on(Source::from_config("partner", &cfg).unwrap().list("."))
        .unwrap_err();
    assert!(err.to_string().contains("authentication"), "{err}");
    assert!(!err.is_retriable());
}
