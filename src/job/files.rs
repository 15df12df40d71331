//! Finding and loading the job files of the jobs folder: every `*.toml` in
//! it, intake jobs ([`load_jobs`]) and report jobs ([`load_report_jobs`]),
//! with the checks that span files (unique names, configured sources). What
//! one file holds is `job`'s and `job::report`'s.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Job;
use super::report::{self, ReportJob};
use crate::config::Config;
use crate::problem::Problem;

/// Every `*.toml` in a folder, sorted.
pub fn job_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Loads every `*.toml` in the jobs folder, checking that the sources they
/// name exist and that names are unique.
pub fn load_jobs(config: &Config, problems: &mut Vec<Problem>) -> Vec<Arc<Job>> {
    let dir = &config.paths.jobs_dir;
    let files = match job_files(dir) {
        Ok(f) => f,
        Err(e) => {
            problems.push(Problem {
                file: dir.display().to_string(),
                key: String::new(),
                message: format!("cannot list job files: {e}"),
            });
            return Vec::new();
        }
    };
    let mut jobs: Vec<Arc<Job>> = Vec::new();
    for path in files {
        if report::is_report_job_file(&path) {
            continue; // loaded by load_report_jobs
        }
        match Job::load(&path) {
            Ok(job) => {
                let file = path.display().to_string();
                if let Some(other) = jobs.iter().find(|j| j.name == job.name) {
                    problems.push(Problem {
                        file: file.clone(),
                        key: "name".into(),
                        message: format!(
                            "{:?} is also the name of {}",
                            job.name,
                            other.path.display()
                        ),
                    });
                }
                if let Some(intake) = &job.intake
                    && config.source(&intake.source).is_none()
                {
                    problems.push(Problem {
                        file: file.clone(),
                        key: "source.name".into(),
                        message: format!("{:?} is not a configured source", intake.source),
                    });
                }
                if config.source(&job.output.source).is_none() {
                    problems.push(Problem {
                        file,
                        key: "output.source".into(),
                        message: format!("{:?} is not a configured source", job.output.source),
                    });
                }
                jobs.push(Arc::new(job));
            }
            Err(p) => problems.extend(p.0),
        }
    }
    jobs
}

/// Loads every report job in the jobs folder (files with a `[report]` table).
pub fn load_report_jobs(
    config: &Config,
    intake_jobs: &[&str],
    problems: &mut Vec<Problem>,
) -> Vec<Arc<ReportJob>> {
    let dir = &config.paths.jobs_dir;
    let Ok(files) = job_files(dir) else {
        return Vec::new();
    };
    let groups: Vec<&str> = config.email.groups.keys().map(String::as_str).collect();
    let mut out: Vec<Arc<ReportJob>> = Vec::new();
    for path in files.iter().filter(|p| report::is_report_job_file(p)) {
        match report::load(path, intake_jobs, &groups) {
            Ok(j) => {
                if intake_jobs.contains(&j.name.as_str()) || out.iter().any(|o| o.name == j.name) {
                    problems.push(Problem {
                        file: path.display().to_string(),
                        key: "name".into(),
                        message: format!("{:?} is also the name of another job", j.name),
                    });
                }
                out.push(Arc::new(j));
            }
            Err(p) => problems.extend(p.0),
        }
    }
    out
}
