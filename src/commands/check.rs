//! `s321d check`: validate config, policy and every job file, listing all
//! problems at once.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::CheckArgs;
use crate::config::Config;
use crate::job::Job;
use crate::policy::Policy;
use crate::problem::{Problem, Problems};

pub fn run(config: Option<&Path>, args: CheckArgs) -> ExitCode {
    let mut problems = Vec::new();
    let cfg = match Config::load_unchecked(config) {
        Ok(c) => {
            if let Err(p) = c.validate() {
                problems.extend(p.0);
            }
            Some(c)
        }
        Err(p) => {
            problems.extend(p.0);
            None
        }
    };
    // Sources whose settings cannot work (S3 without credentials), found without connecting.
    for (c, name) in cfg
        .iter()
        .flat_map(|c| c.source_names().map(move |n| (c, n)))
    {
        let file = c
            .loaded_from
            .as_ref()
            .map_or("config".into(), |p| p.display().to_string());
        if let Some(message) = c
            .source(name)
            .and_then(|sc| crate::sources::config_problem(name, &sc))
        {
            problems.push(Problem {
                file,
                key: format!("sources.{name}"),
                message,
            });
        }
    }
    let policy_path = args
        .policy
        .clone()
        .or_else(|| cfg.as_ref().and_then(Config::policy_path));
    let policy = match &policy_path {
        Some(p) => Policy::load(p),
        None => Ok(Policy::builtin()),
    };
    if let Err(p) = &policy {
        problems.extend(p.0.clone());
    }
    let loaded = match (&cfg, args.jobs.is_empty()) {
        // Every job in the jobs folder, with the sources they name.
        (Some(cfg), true) => {
            let jobs = crate::job::files::load_jobs(cfg, &mut problems);
            let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
            jobs.len() + crate::job::files::load_report_jobs(cfg, &names, &mut problems).len()
        }
        _ => {
            let jobs = if args.jobs.is_empty() {
                crate::job::files::job_files(Path::new("jobs")).unwrap_or_default()
            } else {
                args.jobs.clone()
            };
            let mut names = std::collections::BTreeMap::new();
            let mut n = 0;
            for path in &jobs {
                if crate::job::report::is_report_job_file(path) {
                    // Report jobs name groups and jobs of a configuration: checked with it.
                    continue;
                }
                match Job::load(path) {
                    Ok(job) => {
                        n += 1;
                        if let Some(other) = names.insert(job.name.clone(), path.clone()) {
                            problems.push(Problem {
                                file: path.display().to_string(),
                                key: "name".into(),
                                message: format!(
                                    "{:?} is also the name of {}",
                                    job.name,
                                    other.display()
                                ),
                            });
                        }
                    }
                    Err(p) => problems.extend(p.0),
                }
            }
            n
        }
    };
    if !problems.is_empty() {
        eprintln!("s321d check: {} problem(s)", problems.len());
        return super::report_problems(&Problems(problems));
    }
    let policy = policy.expect("checked above");
    println!(
        "s321d check: ok: config ({}), policy {} ({} regimes, {} ports, sha256 {}), {loaded} job file(s)",
        cfg.as_ref()
            .and_then(|c| c.loaded_from.as_ref())
            .map_or("built-in defaults".into(), |p| p.display().to_string()),
        policy.source,
        policy.regimes.len(),
        policy.ports.len(),
        &policy.digest[..12],
    );
    print_duty(&policy);
    ExitCode::SUCCESS
}

/// How far a policy's newest HTS revision may trail `duty.reviewed_through`
/// before `check` warns that the rates may be stale.
const STALE_REVISION_DAYS: i64 = 120;

/// Each HTS revision's coverage, the layers and fee years, and a warning when
/// the newest revision is old (contract v2 section 3, issue 9).
fn print_duty(policy: &Policy) {
    let duty = &policy.duty;
    if !policy.v2 {
        println!(
            "  duty: none (a v1 policy: no [duty], [fees] or [entries]; no entries are priced)"
        );
        return;
    }
    println!(
        "  entries: over_limit = {}, {} AD/CVD prefix(es)",
        policy.over_limit.as_str(),
        policy.adcvd_prefixes.len()
    );
    for (from, file, rev) in &duty.revisions {
        let c = rev.coverage();
        println!(
            "  HTS revision from {from}: {file}: {} rows, {} 10-digit codes, {} rated rows",
            c.rows, c.ten_digit_codes, c.rated_rows
        );
    }
    println!(
        "  chapter 99 layers: {}; fee years: {}; rates reviewed through {}",
        duty.layers.len(),
        duty.fees.years(),
        duty.reviewed_through
            .map_or("(not set)".to_owned(), |d| d.to_string())
    );
    if let (Some((newest, file, _)), Some(reviewed)) =
        (duty.revisions.last(), duty.reviewed_through)
    {
        let age = (reviewed - *newest).num_days();
        if age > STALE_REVISION_DAYS {
            println!(
                "  warning: the newest HTS revision ({file}, from {newest}) starts {age} days before duty.reviewed_through {reviewed}: USITC publishes revisions every few weeks; download the current one and add a [[duty.hts]] row"
            );
            tracing::warn!(hts.file = %file, age_days = age, "The newest HTS revision starts {age} days before duty.reviewed_through.");
        }
    }
}
