//! Hostile names and paths (issue 11, part B), end to end: carrier values
//! that would leave the preview folder, `check` bounds on config and job
//! files, log hygiene, and inbox names that are too long or not UTF-8.

use std::path::{Path, PathBuf};

use crate::support::*;

fn config(s: &Sandbox, extra: &str) -> PathBuf {
    s.write(
        "s321d.toml",
        format!(
            "[paths]\ndata_dir = {:?}\njobs_dir = {:?}\n[daemon]\ntimezone = \"UTC\"\n{extra}",
            s.path().join("data").display().to_string(),
            s.path().join("jobs").display().to_string()
        ),
    )
}

fn intake_job(s: &Sandbox, name: &str) {
    s.write(
        &format!("jobs/{name}.toml"),
        format!(
            "name = \"{name}\"\npattern = \"*.csv\"\n[source]\nname = \"data\"\ninbox = \"{name}/inbox\"\nprocessed = \"{name}/processed\"\n\
             quarantine = \"{name}/quarantine\"\nsettle_secs = 0\n[output]\npath = \"runs/{name}\"\n[format]\nkind = \"csv\"\n"
        ),
    );
}

fn drop_bytes(s: &Sandbox, job: &str, name: &std::ffi::OsStr, bytes: &[u8]) -> PathBuf {
    let dir = s.path().join("data").join(job).join("inbox");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".drop.part"), bytes).unwrap();
    std::fs::rename(dir.join(".drop.part"), dir.join(name)).unwrap();
    dir.join(name)
}

fn run_with(s: &Sandbox, cfg: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--config", cfg.to_str().unwrap()];
    all.extend_from_slice(args);
    s.s321d(&all)
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn issue_11_report_preview_keeps_carrier_folders_inside_the_preview_dir() {
    let s = Sandbox::new();
    let cfg = config(
        &s,
        "[email]\nfrom = \"s321d <s321d@broker.example>\"\n[email.groups]\ncompliance = [\"compliance@broker.example\"]\n",
    );
    intake_job(&s, "hostile");
    let abs = s.path().join("abs-target");
    let bad = |carrier: &str, hb: &str| {
        clean_line(hb)
            .replacen("DHLX", carrier, 1)
            .replace("6109.10.0012", "bad")
    };
    let text = format!(
        "{CANONICAL_HEADER}\n{}\n{}\n{}\n",
        bad("../../../escaped", "H1"),
        bad(&abs.display().to_string(), "H2"),
        bad("DHLX", "H3")
    );
    drop_bytes(&s, "hostile", "day1.csv".as_ref(), text.as_bytes());
    let out = run_with(&s, &cfg, &["run-job", "hostile"]);
    assert!(out.status.success(), "{}", show(&out));
    let run = std::fs::read_dir(s.path().join("data/runs/hostile"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("summary.json").exists())
        .unwrap();
    let run_id = run.file_name().unwrap().to_str().unwrap().to_owned();
    let preview = s.path().join("deep/er/preview");
    let out = run_with(
        &s,
        &cfg,
        &[
            "report",
            "--run",
            &run_id,
            "--preview",
            preview.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    // Nothing was written next to the preview dir or at the absolute path.
    assert!(!abs.exists(), "absolute carrier wrote to {}", abs.display());
    assert!(!s.path().join("escaped").exists() && !s.path().join("deep/escaped").exists());
    let outside: Vec<PathBuf> = files_under(&s.path().join("deep"))
        .into_iter()
        .filter(|p| !p.starts_with(&preview))
        .collect();
    assert!(outside.is_empty(), "{outside:?}");
    // Three carriers, three folders, each one component directly under DIR.
    let mut subs: Vec<String> = std::fs::read_dir(&preview)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    subs.sort();
    assert_eq!(subs.len(), 3, "{subs:?}");
    assert!(subs.contains(&"DHLX".to_owned()), "{subs:?}");
    for sub in &subs {
        assert!(preview.join(sub).join("message.eml").is_file(), "{sub}");
        assert!(!sub.starts_with('.') && !sub.contains('/'), "{sub}");
    }
}

#[test]
fn issue_11_check_refuses_huge_intervals_escaping_paths_bad_date_formats_and_url_credentials() {
    let s = Sandbox::new();
    let cfg = config(
        &s,
        "graceful_shutdown_secs = 1000000000000\n[filing.http]\nurl = \"https://ace:hunter2@ace.example/\"\n\
         [sources.bucket]\nkind = \"url\"\nurl = \"s3://AKIAKEY:TOPSECRET@bucket/prefix\"\n\
         [sources.drop]\nkind = \"s3\"\nbucket = \"b\"\nendpoint = \"http://minio:minio-secret@127.0.0.1:9000\"\n",
    );
    let cfg_name = cfg.display().to_string();
    s.write(
        "jobs/a.toml",
        "name = \"../../evil\"\n[source]\nname = \"data\"\ninbox = \"/etc\"\nsettle_secs = 1000000000000\n\
         [output]\npath = \"runs/../../../outside\"\n[format]\nkind = \"csv\"\ndate_format = \"%H:%M\"\n",
    );
    let jobs = s.path().join("jobs/a.toml").display().to_string();
    let out = run_with(&s, &cfg, &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (file, key) in [
        (&cfg_name, "daemon.graceful_shutdown_secs"),
        (&cfg_name, "filing.http.url"),
        (&cfg_name, "sources.bucket.url"),
        (&cfg_name, "sources.drop.endpoint"),
        (&jobs, "name"),
        (&jobs, "source.inbox"),
        (&jobs, "source.settle_secs"),
        (&jobs, "output.path"),
        (&jobs, "format.date_format"),
    ] {
        assert!(
            stderr.contains(&format!("{file}: {key}:")),
            "{key}: {stderr}"
        );
    }
    for secret in ["hunter2", "TOPSECRET", "minio-secret"] {
        assert!(
            !stderr.contains(secret) && !String::from_utf8_lossy(&out.stdout).contains(secret),
            "{secret} echoed: {stderr}"
        );
    }
    // u64::MAX does not wrap to "no settling".
    s.write("jobs/a.toml", "name = \"a\"\n[source]\nname = \"data\"\nsettle_secs = 18446744073709551615\n[format]\nkind = \"csv\"\n");
    let out = run_with(&s, &config(&s, ""), &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a.toml"),
        "{}",
        show(&out)
    );
}

#[test]
fn issue_11_check_names_the_environment_variable_it_could_not_use() {
    let s = Sandbox::new();
    let cfg = config(&s, "");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_s321d"))
        .args(["--config", cfg.to_str().unwrap(), "check"])
        .current_dir(s.path())
        .env("S321D__DAEMON__RETRY_ATTEMPTS", "lots")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("environment variable S321D__DAEMON__RETRY_ATTEMPTS:"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&cfg.display().to_string()),
        "names the file, not the variable: {stderr}"
    );
}

/// `s321d --config CFG ARGS` with INFO logs in text.
fn run_logged(s: &Sandbox, cfg: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_s321d"))
        .args(["--config", cfg.to_str().unwrap()])
        .args(args)
        .current_dir(s.path())
        .env("RUST_LOG", "info")
        .env_remove("S321D__LOG__FORMAT")
        .output()
        .unwrap()
}

#[test]
fn issue_11_file_names_cannot_forge_log_lines() {
    let s = Sandbox::new();
    let cfg = config(&s, "");
    intake_job(&s, "logs");
    let name = "a\nERROR s321d: forged line\u{1b}[31m red\u{202e}.csv";
    drop_bytes(
        &s,
        "logs",
        name.as_ref(),
        format!("{CANONICAL_HEADER}\n{}\n", clean_line("H1")).as_bytes(),
    );
    let out = run_logged(&s, &cfg, &["run-job", "logs"]);
    assert!(out.status.success(), "{}", show(&out));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("a\\u{a}ERROR s321d: forged line\\u{1b}[31m red\\u{202e}.csv"),
        "{log}"
    );
    assert!(
        !log.lines().any(|l| l.starts_with("ERROR s321d: forged")),
        "{log}"
    );
    assert!(
        !log.contains('\u{1b}') && !log.contains('\u{202e}'),
        "{log}"
    );
}

#[test]
fn issue_11_long_and_non_utf8_names_are_taken_once_and_special_files_are_logged() {
    use std::os::unix::ffi::OsStrExt;
    let s = Sandbox::new();
    let cfg = config(&s, "");
    intake_job(&s, "names");
    let body = |hb: &str| format!("{CANONICAL_HEADER}\n{}\n", clean_line(hb));
    let long = format!("{}.csv", "L".repeat(251));
    assert_eq!(long.len(), 255);
    drop_bytes(&s, "names", long.as_ref(), body("H1").as_bytes());
    drop_bytes(
        &s,
        "names",
        std::ffi::OsStr::from_bytes(b"caf\xe9.csv"),
        body("H2").as_bytes(),
    );
    let inbox = s.path().join("data/names/inbox");
    std::fs::create_dir_all(inbox.join("folder.csv")).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(inbox.join("pipe.csv"))
            .status()
            .unwrap()
            .success()
    );
    let out = run_logged(&s, &cfg, &["run-job", "names"]);
    assert!(out.status.success(), "{}", show(&out));
    let log = String::from_utf8_lossy(&out.stderr);
    // Both files were taken and processed; only the special files remain.
    let mut left: Vec<String> = std::fs::read_dir(&inbox)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["folder.csv", "pipe.csv"], "{log}");
    let processed: Vec<String> = std::fs::read_dir(s.path().join("data/names/processed"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(processed.contains(&long), "{processed:?}\n{log}");
    assert!(
        processed
            .iter()
            .any(|n| n.starts_with("caf_") && n.ends_with(".csv")),
        "{processed:?}"
    );
    assert!(log.contains("is not UTF-8"), "{log}");
    assert!(
        log.contains("it is a folder") && log.contains("it is a FIFO"),
        "{log}"
    );
    // A second run has nothing to do: nothing was left to retry.
    let out = run_logged(&s, &cfg, &["run-job", "names"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("0 file(s) processed"),
        "{}",
        show(&out)
    );
}
