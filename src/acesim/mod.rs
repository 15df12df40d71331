//! `s321d ace-sim`: a local simulator of CBP's ACE cargo release, for tests,
//! demos and carrier onboarding. Real ACE is reached only by certified ABI
//! software over a VAN or MQ; this component stands in for it, serving both
//! transports s321d files through:
//!
//! - an HTTP gateway (the protocol in `filing::http`), and
//! - a pair of folders: it takes CATAIR batches (`*.sei`) from `inbound`
//!   and answers with `<batch>.sx` acknowledgements and `*.so` status
//!   notifications in `outbound`.
//!
//! It enforces what ACE enforces (`rules`): the batch envelope and 80-column
//! records, authorised filer codes, the entry-number check digit, no reused
//! entry number (a fatal reject), required fields, 10-digit HTS, ISO
//! countries, Schedule D ports, type 86 refused from 2025-08-29 and limited
//! to one bill, type 11 over $2,500 refused, an IOR on every entry but type
//! 86, chapter 99 numbers before the HTS number, and warnings for vague
//! descriptions. A type 11 may carry several house bills (one bill of lading
//! grouping each in CATAIR, `bills` in JSON). After acceptance it
//! releases entries later, asynchronously (SO60 98), holds a configurable share
//! (90, 99, 04), answers CN/HK type 86 from 2025-05-02 with 33 and a consignee's
//! same-day type 86 total over $800 with 34 (the entry that crosses it) or 30
//! (later ones).
//!
//! It can fail like the real thing (`[faults]`): 5xx answers, answers slower
//! than the client waits (after the entry was taken), dropped connections
//! (after the entry was taken), slow answers, and duplicate or out-of-order
//! notifications. Its state lives in memory: a restart forgets what was filed.

pub mod rules;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use tracing::{info, warn};

use crate::filing::catair::{self, Record};
use crate::filing::entry::Entry;
use crate::policy::Policy;
use rules::{Problem, Rules, Submission};

fn default_listen() -> String {
    "127.0.0.1:9400".into()
}
fn default_poll() -> u64 {
    200
}
fn default_delay() -> u64 {
    500
}
fn default_held() -> f64 {
    0.1
}
fn default_timeout_ms() -> u64 {
    15_000
}

/// `[batch]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Where filers drop batches (their outbound).
    pub inbound: PathBuf,
    /// Where acknowledgements and notifications go (their inbound).
    pub outbound: PathBuf,
    #[serde(default = "default_poll")]
    pub poll_ms: u64,
}

/// `[release]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseConfig {
    /// Notifications follow acceptance after this long.
    #[serde(default = "default_delay")]
    pub delay_ms: u64,
    /// Share of accepted entries held (90, 99 or 04) instead of released.
    #[serde(default = "default_held")]
    pub held_share: f64,
    #[serde(default)]
    pub seed: u64,
}

impl Default for ReleaseConfig {
    fn default() -> ReleaseConfig {
        ReleaseConfig { delay_ms: default_delay(), held_share: default_held(), seed: 0 }
    }
}

/// `[faults]`: shares are probabilities per request or notification.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    /// Answer 500 before looking at the entry.
    #[serde(default)]
    pub error_rate: f64,
    /// Take the entry, then answer only after `timeout_ms`.
    #[serde(default)]
    pub timeout_rate: f64,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Take the entry, then drop the connection without an answer.
    #[serde(default)]
    pub drop_rate: f64,
    /// Added to every answer.
    #[serde(default)]
    pub slow_ms: u64,
    /// Send a notification twice.
    #[serde(default)]
    pub duplicate_notifications: f64,
    /// Deliver each round of notifications in reverse order.
    #[serde(default)]
    pub reorder_notifications: bool,
}

/// The simulator's configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Filer codes allowed to file.
    pub filer_codes: Vec<String>,
    #[serde(default = "default_listen")]
    pub listen: String,
    /// When set, gateway requests must carry `Authorization: Bearer <token>`.
    pub token_file: Option<PathBuf>,
    /// An s321d policy file for the reference lists (default: the shipped one).
    pub policy: Option<PathBuf>,
    pub batch: Option<BatchConfig>,
    #[serde(default)]
    pub release: ReleaseConfig,
    #[serde(default)]
    pub faults: FaultConfig,
}

impl SimConfig {
    pub fn load(path: &Path) -> anyhow::Result<SimConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not a simulator configuration", path.display()))
    }
}

/// SplitMix64, seeded: fault and hold decisions are reproducible.
struct Rng(u64);

impl Rng {
    fn chance(&mut self, p: f64) -> bool {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
}

/// Which transport an entry came by (notifications go back the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Http,
    Batch,
}

struct PendingRelease {
    due: Instant,
    entry: Entry,
    via: Via,
}

/// A status notification for the gateway.
#[derive(Debug, Clone)]
struct Note {
    seq: u64,
    entry_number: String,
    code: String,
    narrative: String,
}

#[derive(Default)]
struct SimState {
    /// Every entry number seen, with the answer given (idempotent replays).
    answers: HashMap<String, (StatusCode, serde_json::Value)>,
    releases: HashMap<String, String>,
    day_totals: HashMap<(String, chrono::NaiveDate), u64>,
    pending: Vec<PendingRelease>,
    notes: Vec<Note>,
    seq: u64,
    /// Batch SO notifications waiting to be written.
    batch_notes: Vec<(Entry, String, String)>,
    /// Every entry number each (carrier, house bill) arrived under: the
    /// inspection endpoint's answer to "was anything filed twice?".
    received: BTreeMap<(String, String), BTreeSet<String>>,
}

/// The running simulator.
pub struct Sim {
    rules: Rules,
    cfg: SimConfig,
    token: Option<String>,
    state: Mutex<SimState>,
    rng: Mutex<Rng>,
}

/// The marker a dropped connection panics with (silenced in the panic hook).
struct DroppedConnection;

impl Sim {
    pub fn new(cfg: SimConfig) -> anyhow::Result<Sim> {
        let policy = match &cfg.policy {
            Some(p) => Policy::load(p).map_err(|e| anyhow::anyhow!("{e}"))?,
            None => Policy::builtin(),
        };
        let token = match &cfg.token_file {
            Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?.trim().to_owned()),
            None => None,
        };
        let rules = Rules { filer_codes: cfg.filer_codes.iter().map(|c| c.to_ascii_uppercase()).collect(), policy };
        let seed = cfg.release.seed;
        Ok(Sim { rules, token, state: Mutex::new(SimState::default()), rng: Mutex::new(Rng(seed)), cfg })
    }

    fn chance(&self, p: f64) -> bool {
        self.rng.lock().expect("rng").chance(p)
    }

    /// Judges a submission: the answer and, if accepted, a release to come.
    fn judge(&self, s: Submission, via: Via) -> (StatusCode, serde_json::Value, Vec<Problem>) {
        let mut state = self.state.lock().expect("sim state");
        let number = s.entry.entry_number.clone();
        let reused = state.answers.contains_key(&number);
        if !number.is_empty() {
            for b in s.entry.all_bills() {
                state.received.entry((s.entry.carrier.clone(), b.house_bill)).or_default().insert(number.clone());
            }
        }
        let problems = self.rules.check(&s, reused);
        let errors: Vec<&Problem> = problems.iter().filter(|p| !p.condition.is_warning()).collect();
        let (status, body) = if let Some(first) = errors.first() {
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"entry_number": number, "status": "rejected", "condition": "01", "code": first.condition.code(), "narrative": first.narrative}),
            )
        } else {
            let warnings: Vec<String> = problems.iter().map(|p| format!("{} {}", p.condition.code(), p.narrative)).collect();
            let condition = if warnings.is_empty() { "02" } else { "03" };
            state.pending.push(PendingRelease {
                due: Instant::now() + Duration::from_millis(self.cfg.release.delay_ms),
                entry: s.entry.clone(),
                via,
            });
            (StatusCode::OK, json!({"entry_number": number, "status": "accepted", "condition": condition, "code": "", "narrative": "ENTRY ACCEPTED", "warnings": warnings}))
        };
        // A reused number keeps its first answer; only new numbers are recorded.
        if !reused && !number.is_empty() {
            state.answers.insert(number, (status, body.clone()));
        }
        (status, body, problems)
    }

    /// The release disposition ACE gives an accepted entry.
    fn decide(&self, e: &Entry, state: &mut SimState) -> (String, String) {
        if e.entry_type == "86" {
            let cn_hk = e.lines.iter().any(|l| l.origin == "CN" || l.origin == "HK");
            if cn_hk && e.arrival_date >= rules::cn_hk_end() {
                return ("33".into(), "ET86 INELIGIBLE COUNTRY; CANNOT RELEASE".into());
            }
            let person = format!(
                "{}|{}",
                crate::engine::normalize::norm(&e.consignee.name),
                crate::engine::normalize::zip5(&e.consignee.postal_code)
            );
            let total = state.day_totals.entry((person, e.arrival_date)).or_insert(0);
            let before = *total;
            *total += e.entry_value_usd;
            if *total > 800 {
                return if before <= 800 {
                    ("34".into(), "ENTRY RELEASE WITHHELD - DE MINIMIS MET".into())
                } else {
                    ("30".into(), "DE MINIMIS MAY BE MET USE ALT ENTRY TYPE".into())
                };
            }
        }
        if self.chance(self.cfg.release.held_share) {
            let pick = (state.seq % 3) as usize;
            let (code, text) = [("90", "UNDER CBP REVIEW"), ("99", "RELEASE SUSPENDED"), ("04", "ENTRY DETAINED")][pick];
            return (code.into(), text.into());
        }
        ("98".into(), "RELEASED".into())
    }

    /// Turns due releases into notifications.
    fn tick(&self) {
        let mut state = self.state.lock().expect("sim state");
        let now = Instant::now();
        let due: Vec<PendingRelease> = {
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut state.pending).into_iter().partition(|p| p.due <= now);
            state.pending = later;
            due
        };
        let mut round = Vec::new();
        for p in due {
            let (code, narrative) = self.decide(&p.entry, &mut state);
            state.releases.insert(p.entry.entry_number.clone(), code.clone());
            let copies = if self.chance(self.cfg.faults.duplicate_notifications) { 2 } else { 1 };
            for _ in 0..copies {
                round.push((p.via, p.entry.clone(), code.clone(), narrative.clone()));
            }
        }
        if self.cfg.faults.reorder_notifications {
            round.reverse();
        }
        for (via, entry, code, narrative) in round {
            match via {
                Via::Http => {
                    state.seq += 1;
                    let seq = state.seq;
                    state.notes.push(Note { seq, entry_number: entry.entry_number.clone(), code, narrative });
                }
                Via::Batch => state.batch_notes.push((entry, code, narrative)),
            }
        }
    }
}

// ------------------------------------------------------------------ gateway

fn authorised(sim: &Sim, headers: &HeaderMap) -> bool {
    match &sim.token {
        None => true,
        Some(t) => headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {t}")),
    }
}

async fn post_entry(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: String) -> Response {
    if !authorised(&sim, &headers) {
        return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
    }
    let f = sim.cfg.faults.clone();
    if sim.chance(f.error_rate) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "simulated ACE gateway error").into_response();
    }
    let entry: Entry = match serde_json::from_str(&body) {
        Ok(e) => e,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, axum::Json(json!({"status": "rejected", "condition": "01", "code": "E04", "narrative": format!("ENTRY NOT READABLE: {e}")})))
                .into_response();
        }
    };
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let replay = {
        let state = sim.state.lock().expect("sim state");
        state.answers.get(&entry.entry_number).filter(|_| key == entry.entry_number).cloned()
    };
    let (status, answer) = match replay {
        Some(stored) => stored,
        None => {
            let (status, body, _) = sim.judge(entry.into(), Via::Http);
            (status, body)
        }
    };
    if f.slow_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.slow_ms)).await;
    }
    if sim.chance(f.drop_rate) {
        std::panic::panic_any(DroppedConnection);
    }
    if sim.chance(f.timeout_rate) {
        tokio::time::sleep(Duration::from_millis(f.timeout_ms)).await;
    }
    (status, axum::Json(answer)).into_response()
}

async fn get_entry(State(sim): State<Arc<Sim>>, headers: HeaderMap, UrlPath(number): UrlPath<String>) -> Response {
    if !authorised(&sim, &headers) {
        return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
    }
    let state = sim.state.lock().expect("sim state");
    match state.answers.get(&number) {
        None => (StatusCode::NOT_FOUND, "no such entry").into_response(),
        Some((_, answer)) => {
            let mut answer = answer.clone();
            if let Some(code) = state.releases.get(&number) {
                answer["release"] = json!(code);
            }
            (StatusCode::OK, axum::Json(answer)).into_response()
        }
    }
}

#[derive(Deserialize)]
struct After {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    limit: Option<usize>,
}

async fn notifications(State(sim): State<Arc<Sim>>, headers: HeaderMap, Query(q): Query<After>) -> Response {
    if !authorised(&sim, &headers) {
        return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
    }
    let state = sim.state.lock().expect("sim state");
    let notes: Vec<serde_json::Value> = state
        .notes
        .iter()
        .filter(|n| n.seq > q.after)
        .take(q.limit.unwrap_or(1000))
        .map(|n| json!({"seq": n.seq, "entry_number": n.entry_number, "code": n.code, "narrative": n.narrative}))
        .collect();
    let next = notes.last().and_then(|n| n["seq"].as_u64()).unwrap_or(q.after);
    (StatusCode::OK, axum::Json(json!({"notifications": notes, "next": next}))).into_response()
}

/// `GET /sim/received`: not part of any ACE protocol. The simulator's own
/// inspection endpoint, for tests and onboarding: every (carrier, house
/// bill) received and the entry numbers it came under (more than one means
/// the filer filed a shipment twice).
async fn received(State(sim): State<Arc<Sim>>) -> Response {
    let state = sim.state.lock().expect("sim state");
    let shipments: Vec<serde_json::Value> = state
        .received
        .iter()
        .map(|((carrier, house_bill), numbers)| json!({"carrier": carrier, "house_bill": house_bill, "entry_numbers": numbers}))
        .collect();
    (StatusCode::OK, axum::Json(json!({"shipments": shipments}))).into_response()
}

pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/sim/received", get(received))
        .route("/v1/entries", post(post_entry))
        .route("/v1/entries/{number}", get(get_entry))
        .route("/v1/notifications", get(notifications))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(sim)
}

// ------------------------------------------------------------------ batches

fn se90(message_type: &str, condition: &str, narrative: &str) -> String {
    let mut r = Record::new(&catair::SE90);
    let _ = r.set("message_type", message_type);
    let _ = r.set("condition", condition);
    let _ = r.text("narrative", narrative);
    r.line()
}

/// Judges one batch file's text; returns the SX acknowledgement text.
fn process_batch(sim: &Sim, text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let reject = |why: &str| se90("01", "999", &format!("BATCH REJECTED {why}"));
    let mut records = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        match Record::parse(l, i + 1) {
            Ok(r) => records.push(r),
            Err(e) => return reject(&e.to_string()),
        }
    }
    if records.first().map(Record::id) != Some("A") || records.last().map(Record::id) != Some("Z") {
        return reject("NO A/Z ENVELOPE");
    }
    let filer = records[0].get("filer_code").to_owned();
    if !sim.rules.filer_codes.contains(&filer) {
        return reject(&format!("FILER {filer} NOT AUTHORIZED"));
    }
    let mut out = Vec::new();
    let mut txn: Vec<Record> = Vec::new();
    let flush = |txn: &mut Vec<Record>, out: &mut Vec<String>| {
        if txn.is_empty() {
            return;
        }
        let submission = rules::from_transaction(txn);
        let (_, body, problems) = sim.judge(submission, Via::Batch);
        for r in txn.iter().filter(|r| matches!(r.id(), "SE10" | "SE15")) {
            out.push(r.line());
        }
        for p in &problems {
            if let Some(i) = p.record
                && let Some(r) = txn.get(i).filter(|r| !matches!(r.id(), "SE10" | "SE15"))
            {
                out.push(r.line());
            }
            out.push(se90(if p.condition.is_warning() { "13" } else { "11" }, p.condition.code(), &p.narrative));
        }
        let condition = body["condition"].as_str().unwrap_or("01");
        let code = body["code"].as_str().unwrap_or("");
        let narrative = body["narrative"].as_str().unwrap_or("");
        out.push(se90(condition, if code.is_empty() { condition } else { code }, narrative));
        txn.clear();
    };
    for r in records {
        match r.id() {
            "SE10" => {
                flush(&mut txn, &mut out);
                txn.push(r);
            }
            "A" | "B" | "Y" | "Z" => flush(&mut txn, &mut out),
            id if id.starts_with("SE") => txn.push(r),
            _ => {}
        }
    }
    flush(&mut txn, &mut out);
    out.join("\n") + "\n"
}

fn write_atomic(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    crate::sources::write_atomic(&dir.join(name), |tmp| std::fs::write(tmp, text))
}

/// Takes the batches waiting in `inbound`, answers each, writes due SO files.
fn batch_round(sim: &Sim, cfg: &BatchConfig) -> std::io::Result<()> {
    std::fs::create_dir_all(&cfg.inbound)?;
    std::fs::create_dir_all(&cfg.outbound)?;
    let mut names: Vec<String> = std::fs::read_dir(&cfg.inbound)?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n.ends_with(".sei"))
        .collect();
    names.sort();
    for name in names {
        let path = cfg.inbound.join(&name);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let ack = process_batch(sim, &text);
        write_atomic(&cfg.outbound, &format!("{name}.sx"), &ack)?;
        let done = cfg.inbound.join("processed");
        std::fs::create_dir_all(&done)?;
        std::fs::rename(&path, done.join(&name))?;
        info!(batch = %name, "ACE simulator answered batch {name}.");
    }
    let notes = std::mem::take(&mut sim.state.lock().expect("sim state").batch_notes);
    if !notes.is_empty() {
        let now = Utc::now();
        let mut text = String::new();
        for (e, code, narrative) in &notes {
            let mut so10 = Record::new(&catair::SO10);
            let n = e.entry_number.replace('-', "");
            let _ = so10.text("port", &e.port_of_entry);
            let _ = so10.set("filer_code", &e.filer_code);
            let _ = so10.set("entry_number", n.get(3..).unwrap_or(""));
            let _ = so10.set("entry_type", &e.entry_type);
            let _ = so10.set("eda", &e.arrival_date.format("%m%d%y").to_string());
            let mut so60 = Record::new(&catair::SO60);
            let _ = so60.set("code", code);
            let _ = so60.set("date", &now.format("%m%d%y").to_string());
            let _ = so60.set("time", &now.format("%H%M%S").to_string());
            let _ = so60.text("narrative", narrative);
            text.push_str(&so10.line());
            text.push('\n');
            text.push_str(&so60.line());
            text.push('\n');
        }
        let seq = {
            let mut s = sim.state.lock().expect("sim state");
            s.seq += 1;
            s.seq
        };
        write_atomic(&cfg.outbound, &format!("status-{}-{seq:06}.so", now.format("%Y%m%dT%H%M%S%3f")), &text)?;
    }
    Ok(())
}

/// Runs the simulator until SIGTERM/SIGINT.
pub async fn run(cfg: SimConfig) -> anyhow::Result<()> {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<DroppedConnection>().is_none() {
            default_hook(info);
        }
    }));
    let listen = cfg.listen.clone();
    let batch = cfg.batch.clone();
    let sim = Arc::new(Sim::new(cfg)?);
    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    info!(listen = %listen, "ACE simulator listening on http://{listen}/.");
    let server = tokio::spawn(axum::serve(listener, router(sim.clone())).into_future());
    let ticker = {
        let sim = sim.clone();
        tokio::spawn(async move {
            let poll = Duration::from_millis(batch.as_ref().map_or(100, |b| b.poll_ms.min(100)).max(10));
            loop {
                sim.tick();
                if let Some(b) = &batch {
                    let (sim2, b2) = (sim.clone(), b.clone());
                    match tokio::task::spawn_blocking(move || batch_round(&sim2, &b2)).await {
                        Ok(Err(e)) => warn!("ACE simulator batch folder trouble: {e}"),
                        Err(e) => warn!("ACE simulator batch task failed: {e}"),
                        Ok(Ok(())) => {}
                    }
                }
                tokio::time::sleep(poll).await;
            }
        })
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
        r = server => { r??; }
    }
    ticker.abort();
    info!("ACE simulator stopped.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filing::entry::tests_support::sample;

    fn sim(held: f64) -> Sim {
        Sim::new(SimConfig {
            filer_codes: vec!["ABC".into()],
            listen: default_listen(),
            token_file: None,
            policy: None,
            batch: None,
            release: ReleaseConfig { delay_ms: 0, held_share: held, seed: 7 },
            faults: FaultConfig::default(),
        })
        .unwrap()
    }

    fn releases(s: &Sim) -> Vec<(String, String)> {
        s.tick();
        s.state.lock().unwrap().notes.iter().map(|n| (n.entry_number.clone(), n.code.clone())).collect()
    }

    #[test]
    fn accepted_entries_are_released_later_and_numbers_are_never_reused() {
        let s = sim(0.0);
        let (status, body, _) = s.judge(sample().into(), Via::Http);
        assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("accepted")));
        assert_eq!(releases(&s), [("ABC-1234567-6".to_owned(), "98".to_owned())]);
        let (status, body, _) = s.judge(sample().into(), Via::Http);
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("E02")));
    }

    #[test]
    fn de_minimis_answers_33_34_and_30() {
        let s = sim(0.0);
        let mut cn = sample();
        cn.entry_number = crate::filing::entry_number::EntryNumber::new("ABC", 1).unwrap().to_string();
        cn.lines[0].origin = "CN".into();
        cn.arrival_date = rules::cn_hk_end();
        s.judge(cn.into(), Via::Http);
        let day = chrono::NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
        for (serial, value) in [(2, 500), (3, 301), (4, 10)] {
            let mut e = sample();
            e.entry_number = crate::filing::entry_number::EntryNumber::new("ABC", serial).unwrap().to_string();
            e.arrival_date = day;
            e.entry_value_usd = value;
            s.judge(e.into(), Via::Http);
        }
        let codes: Vec<String> = releases(&s).into_iter().map(|(_, c)| c).collect();
        assert_eq!(codes, ["33", "98", "34", "30"]);
    }

    #[test]
    fn batches_are_acknowledged_per_transaction() {
        let s = sim(0.0);
        let mut good = sample();
        good.entry_number = crate::filing::entry_number::EntryNumber::new("ABC", 11).unwrap().to_string();
        let mut bad = sample();
        bad.entry_number = crate::filing::entry_number::EntryNumber::new("ABC", 12).unwrap().to_string();
        bad.lines[0].hts = "6214".into();
        bad.house_bill = "DX1002".into();
        let text = crate::filing::batch::batch_lines("ABC", 1, &[good, bad], 999).unwrap().join("\n");
        let sx = process_batch(&s, &text);
        let r = crate::filing::batch::parse_ack(&sx, "b", &[]).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].state, crate::state::ledger::FilingState::Accepted);
        assert_eq!((r[1].state, r[1].code.as_str()), (crate::state::ledger::FilingState::Rejected, "E07"));
        assert!(sx.lines().all(|l| l.len() == 80));
        let refused = process_batch(&s, &text.replace("AABC", "AXYZ"));
        assert!(refused.contains("BATCH REJECTED"), "{refused}");
        let short = process_batch(&s, "A short line");
        assert!(short.contains("BATCH REJECTED"));
    }
}
