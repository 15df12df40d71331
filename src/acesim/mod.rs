//! `s321d ace-sim`: a local simulator of CBP's ACE cargo release, for tests,
//! demos and carrier onboarding. Real ACE is reached only by certified ABI
//! software over a VAN or MQ; this component stands in for it, serving both
//! transports s321d files through:
//!
//! - an HTTP gateway (the JSON protocol of `filing::http`, read into the
//!   simulator's own request struct, [`model::Filing`]), and
//! - a pair of folders: it takes CATAIR batches (`*.sei`) from `inbound`
//!   and answers each with `<batch>.sx` in `outbound` (an SX batch, or an AX
//!   batch for an entry summary, or an X0/X1 batch reject), and writes
//!   unsolicited `*.so` status notification batches there.
//!
//! It reads CATAIR with its own layout table ([`layouts`], from
//! ../shared/catair.md) and nothing of the writer's (`crate::filing`), so it
//! can catch the writer's mistakes: [`read`] rejects a batch whose envelope,
//! record lengths, characters, fillers, record ids, order or loops are wrong
//! (X0/X1, as ACE does); [`rules`] judges each transaction's fields (blank M
//! fields, classes, code lists, the chapter's conditional rules) and its
//! data (authorised filer codes, check digit, no reused entry number, HTS,
//! countries, ports, type 86 limits, IOR, bond, chapter 99 order) and
//! answers with SE90 records (or AX E1 records for an AE entry summary). A
//! house bill already on another accepted entry is refused, whichever state
//! store the filer numbered it from, and `GET /v1/bills/{issuer}/{bill}`
//! tells a filer which entry a bill is on. `POST /v1/entry-summaries` takes
//! an AE transaction over HTTP and judges it as an AE batch.
//!
//! After acceptance it releases entries later, asynchronously (SO60 98),
//! holds a configurable share (90, 99, 04), answers CN/HK type 86 from
//! 2025-05-02 with 33 and a consignee's same-day type 86 total over $800
//! with 34 (the entry that crosses it) or 30 (later ones).
//!
//! It can fail like the real thing (`[faults]`): 5xx answers, answers slower
//! than the client waits (after the entry was taken), dropped connections
//! (after the entry was taken), slow answers, and duplicate or out-of-order
//! notifications. Its state lives in memory: a restart forgets what was filed.

pub mod answer;
pub mod layouts;
pub mod model;
pub mod read;
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

use crate::policy::Policy;
use answer::{BlockAnswer, Notice, Route};
use model::Filing;
use read::{Application, Envelope, Transaction};
use rules::{Condition, Problem, Rules, Source};

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
    /// A file holding the communication password every batch's A record
    /// must carry (A 9-14); another password rejects the batch (X09). Unset:
    /// any password is taken.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
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
        ReleaseConfig {
            delay_ms: default_delay(),
            held_share: default_held(),
            seed: 0,
        }
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
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("{} is not a simulator configuration", path.display()))
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
#[derive(Debug, Clone, PartialEq, Eq)]
enum Via {
    Http,
    Batch(Route),
}

/// What an SO notification repeats of a CATAIR filing beyond [`Filing`].
#[derive(Debug, Clone, Default)]
struct Filed {
    /// SE10 11-18: serial and check digit.
    entry8: String,
    /// (bill type, issuer, bill number) of each SE15.
    bills: Vec<(String, String, String)>,
    /// The SE15 record (index in the transaction) of each of
    /// `Filing::all_bills`, for the record-level answer.
    bill_records: Vec<usize>,
}

struct PendingRelease {
    due: Instant,
    filing: Filing,
    filed: Filed,
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

/// The accepted entry a house bill is on.
#[derive(Debug, Clone)]
struct Holder {
    /// The bill's issuer or carrier, empty when the filing did not say
    /// (air bills carry no issuer code in SE15).
    issuer: String,
    entry_number: String,
    filer_code: String,
    entry_type: String,
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
    batch_notes: Vec<(Route, Filing, Filed, String, String)>,
    /// Every entry number each (carrier, house bill) arrived under: the
    /// inspection endpoint's answer to "was anything filed twice?".
    received: BTreeMap<(String, String), BTreeSet<String>>,
    /// Accepted entries by bill number (upper case letters and digits).
    bills: HashMap<String, Vec<Holder>>,
    /// Entry numbers with an accepted entry summary.
    summaries: BTreeSet<String>,
    /// The gateway's answer to each entry summary posted (idempotent replays).
    summary_answers: HashMap<String, (StatusCode, serde_json::Value)>,
}

/// The accepted entry `key` is on, for a filing whose bill issuer is `issuer`.
/// Issuers must agree only where both sides name one (`-` names none).
fn holder<'a>(
    bills: &'a HashMap<String, Vec<Holder>>,
    key: &str,
    issuer: &str,
) -> Option<&'a Holder> {
    let issuer = if issuer == "-" { "" } else { issuer };
    bills
        .get(key)?
        .iter()
        .find(|h| h.issuer.is_empty() || issuer.is_empty() || h.issuer.eq_ignore_ascii_case(issuer))
}

/// The running simulator.
pub struct Sim {
    rules: Rules,
    cfg: SimConfig,
    token: Option<String>,
    /// The batch password (A 9-14), from `[batch] password_file`.
    password: Option<String>,
    state: Mutex<SimState>,
    rng: Mutex<Rng>,
}

/// The marker a dropped connection panics with (silenced in the panic hook).
struct DroppedConnection;

fn read_secret(path: &Path) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .trim()
        .to_owned())
}

impl Sim {
    pub fn new(cfg: SimConfig) -> anyhow::Result<Sim> {
        let policy = match &cfg.policy {
            Some(p) => Policy::load(p).map_err(|e| anyhow::anyhow!("{e}"))?,
            None => Policy::builtin(),
        };
        let token = cfg.token_file.as_deref().map(read_secret).transpose()?;
        let password = cfg
            .batch
            .as_ref()
            .and_then(|b| b.password_file.as_deref())
            .map(read_secret)
            .transpose()?;
        if let Some(p) = &password
            && (p.is_empty()
                || p.len() > 6
                || !p
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
        {
            anyhow::bail!(
                "[batch] password_file: the password must be 1-6 upper case letters or digits (A 9-14, 6AN)"
            );
        }
        let rules = Rules {
            filer_codes: cfg
                .filer_codes
                .iter()
                .map(|c| c.to_ascii_uppercase())
                .collect(),
            policy,
        };
        let seed = cfg.release.seed;
        Ok(Sim {
            rules,
            token,
            password,
            state: Mutex::new(SimState::default()),
            rng: Mutex::new(Rng(seed)),
            cfg,
        })
    }

    fn chance(&self, p: f64) -> bool {
        self.rng.lock().expect("rng").chance(p)
    }

    /// Judges an entry: the answer and, if accepted, a release to come.
    fn judge(
        &self,
        f: Filing,
        extra: Vec<Problem>,
        source: Source,
        via: Via,
        filed: Filed,
    ) -> (StatusCode, serde_json::Value, Vec<Problem>) {
        let mut state = self.state.lock().expect("sim state");
        let number = f.entry_number.clone();
        let reused = state.answers.contains_key(&number);
        if !number.is_empty() {
            for b in f.all_bills() {
                state
                    .received
                    .entry((f.carrier.clone(), b.house_bill))
                    .or_default()
                    .insert(number.clone());
            }
        }
        let mut problems = extra;
        problems.extend(self.rules.check(&f, reused, source));
        // A bill already on another accepted entry: whatever numbered this
        // one (another state store, a lost ledger) must not file it twice.
        for (i, b) in f.all_bills().iter().enumerate() {
            let key = model::bill_key(if b.house_bill.is_empty() {
                &b.master_bill
            } else {
                &b.house_bill
            });
            if let Some(h) = holder(&state.bills, &key, &f.carrier)
                && h.entry_number != number
            {
                let record = filed.bill_records.get(i).copied();
                problems.push(rules::problem(
                    Condition::BillOnOtherEntry,
                    format!("HOUSE BILL ON ENTRY {}", h.entry_number),
                    record,
                ));
            }
        }
        let first_error = problems.iter().find(|p| !p.condition.is_warning());
        let (status, body) = if let Some(first) = first_error {
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"entry_number": number, "status": "rejected", "condition": "01", "code": first.condition.code(), "narrative": first.narrative}),
            )
        } else {
            let warnings: Vec<String> = problems
                .iter()
                .map(|p| format!("{} {}", p.condition.code(), p.narrative))
                .collect();
            let condition = if warnings.is_empty() { "02" } else { "03" };
            for b in f.all_bills() {
                let key = model::bill_key(if b.house_bill.is_empty() {
                    &b.master_bill
                } else {
                    &b.house_bill
                });
                if !key.is_empty() {
                    let h = Holder {
                        issuer: f.carrier.clone(),
                        entry_number: number.clone(),
                        filer_code: f.filer_code.clone(),
                        entry_type: f.entry_type.clone(),
                    };
                    state.bills.entry(key).or_default().push(h);
                }
            }
            state.pending.push(PendingRelease {
                due: Instant::now() + Duration::from_millis(self.cfg.release.delay_ms),
                filing: f,
                filed,
                via,
            });
            (
                StatusCode::OK,
                json!({"entry_number": number, "status": "accepted", "condition": condition, "code": "", "narrative": "ENTRY ACCEPTED", "warnings": warnings}),
            )
        };
        // A reused number keeps its first answer; only new numbers are recorded.
        if !reused && !number.is_empty() {
            state.answers.insert(number, (status, body.clone()));
        }
        (status, body, problems)
    }

    /// The release disposition ACE gives an accepted entry.
    fn decide(&self, e: &Filing, state: &mut SimState) -> (String, String) {
        let arrival = e.arrival_date.unwrap_or_default();
        if e.entry_type == "86" {
            let cn_hk = e.lines.iter().any(|l| l.origin == "CN" || l.origin == "HK");
            if cn_hk && arrival >= rules::cn_hk_end() {
                return (
                    "33".into(),
                    "ET86 INELIGIBLE COUNTRY; CANNOT RELEASE".into(),
                );
            }
            let person = format!(
                "{}|{}",
                crate::normalize::norm(&e.consignee.name),
                crate::normalize::zip5(&e.consignee.postal_code)
            );
            let total = state.day_totals.entry((person, arrival)).or_insert(0);
            let before = *total;
            *total += e.entry_value_usd;
            if *total > 800 {
                return if before <= 800 {
                    (
                        "34".into(),
                        "ENTRY RELEASE WITHHELD - DE MINIMIS MET".into(),
                    )
                } else {
                    (
                        "30".into(),
                        "DE MINIMIS MAY BE MET USE ALT ENTRY TYPE".into(),
                    )
                };
            }
        }
        if self.chance(self.cfg.release.held_share) {
            let pick = (state.seq % 3) as usize;
            let (code, text) = [
                ("90", "UNDER CBP REVIEW"),
                ("99", "RELEASE SUSPENDED"),
                ("04", "ENTRY DETAINED"),
            ][pick];
            return (code.into(), text.into());
        }
        ("98".into(), "RELEASED".into())
    }

    /// Turns due releases into notifications.
    fn tick(&self) {
        let mut state = self.state.lock().expect("sim state");
        let now = Instant::now();
        let due: Vec<PendingRelease> = {
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut state.pending)
                .into_iter()
                .partition(|p| p.due <= now);
            state.pending = later;
            due
        };
        let mut round = Vec::new();
        for p in due {
            let (code, narrative) = self.decide(&p.filing, &mut state);
            state
                .releases
                .insert(p.filing.entry_number.clone(), code.clone());
            let copies = if self.chance(self.cfg.faults.duplicate_notifications) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                round.push((
                    p.via.clone(),
                    p.filing.clone(),
                    p.filed.clone(),
                    code.clone(),
                    narrative.clone(),
                ));
            }
        }
        if self.cfg.faults.reorder_notifications {
            round.reverse();
        }
        for (via, filing, filed, code, narrative) in round {
            match via {
                Via::Http => {
                    state.seq += 1;
                    let seq = state.seq;
                    state.notes.push(Note {
                        seq,
                        entry_number: filing.entry_number.clone(),
                        code,
                        narrative,
                    });
                }
                Via::Batch(route) => state
                    .batch_notes
                    .push((route, filing, filed, code, narrative)),
            }
        }
    }

    /// The accepted entry a bill is on: (entry number, filer code, entry type).
    pub fn bill_holder(&self, issuer: &str, bill: &str) -> Option<(String, String, String)> {
        let state = self.state.lock().expect("sim state");
        holder(&state.bills, &model::bill_key(bill), issuer).map(|h| {
            (
                h.entry_number.clone(),
                h.filer_code.clone(),
                h.entry_type.clone(),
            )
        })
    }

    /// Answers one CATAIR batch: an SX (SE) or AX (AE) batch, or an X0/X1
    /// batch reject.
    pub fn answer_batch(&self, text: &str) -> String {
        self.answer_batch_via(text, false)
    }

    /// [`Sim::answer_batch`]; `http`: the batch came through the gateway (an
    /// entry summary posted there), so its notifications go back that way.
    fn answer_batch_via(&self, text: &str, http: bool) -> String {
        let env = Envelope {
            filer_codes: &self.rules.filer_codes,
            password: self.password.as_deref(),
        };
        let batch = match read::read(text, &env) {
            Ok(b) => b,
            Err(rejected) => return answer::rejected(&rejected),
        };
        let mut blocks = Vec::new();
        for block in &batch.blocks {
            let route = Route {
                site: batch.a.get("site").to_owned(),
                sender: batch.a.get("sender").to_owned(),
                port: block.b.get("port").to_owned(),
                filer: block.b.get("filer").to_owned(),
            };
            let mut records = Vec::new();
            for t in &block.transactions {
                records.extend(match batch.application {
                    Application::Se => self.answer_se(t, &route),
                    Application::Ae => self.answer_ae(
                        t,
                        &route,
                        if http {
                            Via::Http
                        } else {
                            Via::Batch(route.clone())
                        },
                    ),
                });
            }
            blocks.push(BlockAnswer {
                b: &block.b,
                records,
            });
        }
        answer::envelope(&batch, &blocks)
    }

    /// One SE transaction's SX records: the SE10 and SE15 echoes, every
    /// other record at fault, each followed by its record-level SE90s (at
    /// most 9), and the closing message-level SE90 (catair.md section 4).
    fn answer_se(&self, t: &Transaction, route: &Route) -> Vec<String> {
        let head = &t.records[0];
        let layout_problems = rules::se_problems(&t.records, &route.filer);
        let filing = model::from_se(&t.records);
        let mut filed = Filed {
            entry8: head.get("entry_number").to_owned(),
            ..Filed::default()
        };
        for (i, r) in t
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.id() == "SE15")
        {
            filed.bills.push((
                r.get("bill_type").to_owned(),
                r.get("issuer").to_owned(),
                r.get("bill").to_owned(),
            ));
            if !matches!(r.get("bill_type"), "M" | "I") {
                filed.bill_records.push(i);
            }
        }
        let problems = match head.get("action") {
            "D" => self.cancel(&filing, layout_problems),
            // An update changes bill, manifest or port data only: taken as
            // filed (the simulator keeps no such data to change).
            "U" => layout_problems,
            action => {
                let mut problems = layout_problems;
                if action == "R" {
                    // A replace reuses its own number: drop what the number
                    // was filed with before judging it again.
                    self.forget(&filing.entry_number);
                }
                let (_, _, all) = self.judge(
                    filing,
                    std::mem::take(&mut problems),
                    Source::Catair,
                    Via::Batch(route.clone()),
                    filed,
                );
                all
            }
        };
        let mut per: BTreeMap<usize, Vec<&Problem>> = BTreeMap::new();
        for p in &problems {
            per.entry(p.record.unwrap_or(0)).or_default().push(p);
        }
        let mut out = Vec::new();
        for (i, r) in t.records.iter().enumerate() {
            let found = per.get(&i);
            if matches!(r.id(), "SE10" | "SE15") || found.is_some() {
                out.push(r.text.clone());
            }
            for p in found.into_iter().flatten().take(9) {
                out.push(answer::se90(
                    if p.condition.is_warning() { "13" } else { "11" },
                    p.condition.code(),
                    &p.narrative,
                ));
            }
        }
        let closing = match problems.iter().find(|p| !p.condition.is_warning()) {
            Some(first) => answer::se90("01", first.condition.code(), &first.narrative),
            None if problems.is_empty() => answer::se90("02", "", "ENTRY ACCEPTED"),
            None => answer::se90("03", "", "ENTRY ACCEPTED WITH WARNINGS"),
        };
        out.push(closing);
        out
    }

    /// Forgets an entry number's bills and pending release (a replace or a cancel).
    fn forget(&self, number: &str) {
        let mut state = self.state.lock().expect("sim state");
        for holders in state.bills.values_mut() {
            holders.retain(|h| h.entry_number != number);
        }
        state.pending.retain(|p| p.filing.entry_number != number);
        state.answers.remove(number);
    }

    /// A cancel (action D): refused for an entry number never accepted;
    /// otherwise the entry's bills are free again. The number itself can
    /// never be used again [CR p.19].
    fn cancel(&self, f: &Filing, mut problems: Vec<Problem>) -> Vec<Problem> {
        let known = {
            let state = self.state.lock().expect("sim state");
            state
                .answers
                .get(&f.entry_number)
                .is_some_and(|(s, _)| *s == StatusCode::OK)
        };
        if !known {
            problems.push(rules::problem(
                Condition::Missing,
                "ENTRY NOT ON FILE FOR CANCEL",
                Some(0),
            ));
        }
        if problems.iter().all(|p| p.condition.is_warning()) {
            let mut state = self.state.lock().expect("sim state");
            for holders in state.bills.values_mut() {
                holders.retain(|h| h.entry_number != f.entry_number);
            }
            state
                .pending
                .retain(|p| p.filing.entry_number != f.entry_number);
        }
        problems
    }

    /// One AE entry summary's AX records: the 10 echo, every record at
    /// fault with its E1 conditions, and the final E1 disposition (layouts
    /// from the ES transcription: UNVERIFIED).
    fn answer_ae(&self, t: &Transaction, route: &Route, via: Via) -> Vec<String> {
        let head = &t.records[0];
        let (summary, mut problems) = rules::ae_problems(&t.records, &route.filer, &self.rules);
        let accepted = {
            let mut state = self.state.lock().expect("sim state");
            if summary.action == "A" && state.summaries.contains(&summary.entry_number) {
                problems.push(rules::problem(
                    Condition::SummaryTwice,
                    "ENTRY SUMMARY ALREADY ON FILE",
                    Some(0),
                ));
            }
            let ok = problems.iter().all(|p| p.condition.is_warning());
            if ok {
                if summary.action == "D" {
                    state.summaries.remove(&summary.entry_number);
                } else {
                    state.summaries.insert(summary.entry_number.clone());
                }
            }
            ok
        };
        if accepted && summary.certified && summary.action != "D" {
            // Certified for cargo release: the summary is the release request.
            let filing = Filing {
                entry_number: summary.entry_number.clone(),
                entry_type: summary.entry_type.clone(),
                filer_code: summary.filer.clone(),
                port_of_entry: summary.port.clone(),
                ..Filing::default()
            };
            let filed = Filed {
                entry8: head.get("entry_number").to_owned(),
                ..Filed::default()
            };
            let mut state = self.state.lock().expect("sim state");
            state.pending.push(PendingRelease {
                due: Instant::now() + Duration::from_millis(self.cfg.release.delay_ms),
                filing,
                filed,
                via,
            });
        }
        let mut per: BTreeMap<usize, Vec<&Problem>> = BTreeMap::new();
        for p in &problems {
            per.entry(p.record.unwrap_or(0)).or_default().push(p);
        }
        let (filer, entry) = (head.get("filer"), head.get("entry_number"));
        let mut out = Vec::new();
        for (i, r) in t.records.iter().enumerate() {
            let found = per.get(&i);
            if i == 0 || found.is_some() {
                out.push(r.text.clone());
            }
            for p in found.into_iter().flatten().take(9) {
                let severity = if p.condition.is_warning() { "W" } else { "F" };
                out.push(answer::e1(
                    " ",
                    severity,
                    p.condition.code(),
                    "",
                    &p.narrative,
                    filer,
                    entry,
                ));
            }
        }
        out.push(if accepted {
            let what = if summary.action == "D" {
                "SUMMARY HAS BEEN DELETED"
            } else {
                "SUMMARY HAS BEEN ADDED"
            };
            answer::e1("A", " ", "", "995", what, filer, entry)
        } else {
            answer::e1("R", "F", "999", "", "ENTRY SUMMARY REJECTED", filer, entry)
        });
        out
    }

    /// The SO batch of the notifications waiting, if any.
    fn so_batch(&self) -> Option<String> {
        let notes = std::mem::take(&mut self.state.lock().expect("sim state").batch_notes);
        if notes.is_empty() {
            return None;
        }
        let now = Utc::now();
        let (date, time) = (
            now.format("%m%d%y").to_string(),
            now.format("%H%M").to_string(),
        );
        let arrivals: Vec<String> = notes
            .iter()
            .map(|(_, f, ..)| {
                f.arrival_date
                    .map(|d| d.format("%m%d%y").to_string())
                    .unwrap_or_default()
            })
            .collect();
        let notices: Vec<Notice> = notes
            .iter()
            .zip(&arrivals)
            .map(|((route, f, filed, code, narrative), arrival)| Notice {
                route,
                filer: &f.filer_code,
                entry: &filed.entry8,
                entry_type: &f.entry_type,
                port: if f.port_of_entry.is_empty() {
                    &route.port
                } else {
                    &f.port_of_entry
                },
                ior: &f.ior_number,
                arrival,
                bills: filed.bills.iter().filter(|b| b.0 != "I").cloned().collect(),
                code,
                narrative,
            })
            .collect();
        Some(answer::so_batch(&notices, &date, &time))
    }
}

// ------------------------------------------------------------------ gateway

fn authorised(sim: &Sim, headers: &HeaderMap) -> bool {
    match &sim.token {
        None => true,
        Some(t) => {
            headers.get("authorization").and_then(|v| v.to_str().ok())
                == Some(&format!("Bearer {t}"))
        }
    }
}

async fn post_entry(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: String) -> Response {
    if !authorised(&sim, &headers) {
        return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
    }
    let f = sim.cfg.faults.clone();
    if sim.chance(f.error_rate) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "simulated ACE gateway error",
        )
            .into_response();
    }
    let entry: Filing = match serde_json::from_str(&body) {
        Ok(e) => e,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, axum::Json(json!({"status": "rejected", "condition": "01", "code": "E04", "narrative": format!("ENTRY NOT READABLE: {e}")})))
                .into_response();
        }
    };
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let replay = {
        let state = sim.state.lock().expect("sim state");
        state
            .answers
            .get(&entry.entry_number)
            .filter(|_| key == entry.entry_number)
            .cloned()
    };
    let (status, answer) = match replay {
        Some(stored) => stored,
        None => {
            let (status, body, _) =
                sim.judge(entry, Vec::new(), Source::Json, Via::Http, Filed::default());
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

async fn get_entry(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    UrlPath(number): UrlPath<String>,
) -> Response {
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

/// `GET /v1/bills/{issuer}/{house_bill}`: the accepted entry a house bill is
/// on (200 `{entry_number, filer_code, entry_type}`), or 404. The bill is
/// compared as ACE files it (letters and digits); the issuer only where both
/// the query and the filing name one (`-` names none: air bills carry no
/// issuer code).
async fn get_bill(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    UrlPath((issuer, bill)): UrlPath<(String, String)>,
) -> Response {
    if !authorised(&sim, &headers) {
        return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
    }
    match sim.bill_holder(&issuer, &bill) {
        None => (StatusCode::NOT_FOUND, "house bill not on any entry").into_response(),
        Some((entry_number, filer_code, entry_type)) => {
            (StatusCode::OK, axum::Json(json!({"entry_number": entry_number, "filer_code": filer_code, "entry_type": entry_type}))).into_response()
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

async fn notifications(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<After>,
) -> Response {
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
    let next = notes
        .last()
        .and_then(|n| n["seq"].as_u64())
        .unwrap_or(q.after);
    (
        StatusCode::OK,
        axum::Json(json!({"notifications": notes, "next": next})),
    )
        .into_response()
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

/// The 80-character record of `fields` (1-based position, text).
fn record_at(fields: &[(usize, &str)]) -> String {
    let mut b = vec![b' '; 80];
    for (pos, v) in fields {
        let v = v.as_bytes();
        let end = (pos - 1 + v.len()).min(80);
        b[pos - 1..end].copy_from_slice(&v[..end - (pos - 1)]);
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// `POST /v1/entry-summaries`: one AE transaction (its 80-character
/// records, no envelope), judged by the same reader and rules as an AE
/// batch: the gateway puts it in an envelope of the 10 record's filer and
/// port and reads the AX answer back. `200 {entry_number, status:
/// accepted, code, narrative, conditions}` or `422` with `status: rejected`
/// and the first fatal condition; `Idempotency-Key: <entry number>` again
/// returns the first answer.
async fn post_summary(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: String) -> Response {
    if !authorised(&sim, &headers) {
        return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
    }
    if sim.chance(sim.cfg.faults.error_rate) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "simulated ACE gateway error",
        )
            .into_response();
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if let Some((status, answer)) = sim
        .state
        .lock()
        .expect("sim state")
        .summary_answers
        .get(&key)
        .cloned()
    {
        return (status, axum::Json(answer)).into_response();
    }
    let head = body.lines().next().unwrap_or("");
    let (filer, entry8, port) = (
        head.get(3..6).unwrap_or(""),
        head.get(8..16).unwrap_or(""),
        head.get(17..21).unwrap_or(""),
    );
    let password = sim.password.clone().unwrap_or_else(|| "HTTP".into());
    let mut lines = vec![
        record_at(&[(1, "A"), (2, port), (6, "GWY"), (9, &password), (26, "AE")]),
        record_at(&[(1, "B"), (4, port), (8, filer), (11, "AE")]),
    ];
    lines.extend(
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned),
    );
    lines.push(record_at(&[(1, "Y"), (4, port), (8, filer), (11, "AE")]));
    lines.push(record_at(&[(1, "Z"), (2, port), (6, "GWY")]));
    let ax = sim.answer_batch_via(&lines.join("\n"), true);
    let number = if entry8.len() == 8 {
        format!("{filer}-{}-{}", &entry8[..7], &entry8[7..])
    } else {
        String::new()
    };
    let field = |l: &str, a: usize, b: usize| l.get(a..b).unwrap_or("").trim().to_owned();
    let mut conditions = Vec::new();
    let (mut status, mut code, mut narrative) = ("rejected", String::new(), String::new());
    for l in ax.lines() {
        if l.starts_with("X1") && field(l, 4, 7) != "999" {
            conditions.push(format!("{} {}", field(l, 4, 7), field(l, 10, 50)));
        } else if l.starts_with("E1") {
            match l.get(2..3) {
                Some("A") => {
                    status = "accepted";
                    (code, narrative) = (field(l, 7, 10), field(l, 10, 50));
                }
                Some("R") => {}
                _ => conditions.push(format!(
                    "{}{} {}",
                    field(l, 3, 4),
                    field(l, 4, 7),
                    field(l, 10, 50)
                )),
            }
        }
    }
    if status == "rejected" {
        let first = conditions
            .iter()
            .find(|c| !c.starts_with('W'))
            .cloned()
            .unwrap_or_else(|| "999 ENTRY SUMMARY REJECTED".into());
        let first = first.strip_prefix('F').unwrap_or(&first).to_owned();
        let (c, n) = first.split_once(' ').unwrap_or((first.as_str(), ""));
        (code, narrative) = (c.to_owned(), n.to_owned());
    }
    let http = if status == "accepted" {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let answer = json!({"entry_number": number, "status": status, "code": code, "narrative": narrative, "conditions": conditions});
    if !number.is_empty() {
        sim.state
            .lock()
            .expect("sim state")
            .summary_answers
            .insert(number, (http, answer.clone()));
    }
    (http, axum::Json(answer)).into_response()
}

/// `GET /v1/entry-summaries/{number}`: the answer given, or 404.
async fn get_summary(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    UrlPath(number): UrlPath<String>,
) -> Response {
    if !authorised(&sim, &headers) {
        return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
    }
    match sim
        .state
        .lock()
        .expect("sim state")
        .summary_answers
        .get(&number)
    {
        None => (StatusCode::NOT_FOUND, "no entry summary for that entry").into_response(),
        Some((_, answer)) => (StatusCode::OK, axum::Json(answer.clone())).into_response(),
    }
}

pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/sim/received", get(received))
        .route("/v1/entries", post(post_entry))
        .route("/v1/entries/{number}", get(get_entry))
        .route("/v1/bills/{issuer}/{house_bill}", get(get_bill))
        .route("/v1/notifications", get(notifications))
        .route("/v1/entry-summaries", post(post_summary))
        .route("/v1/entry-summaries/{number}", get(get_summary))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(sim)
}

// ------------------------------------------------------------------ batches

fn write_atomic(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    crate::fsutil::write_atomic(&dir.join(name), |tmp| std::fs::write(tmp, text))
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
        // Bytes that are not UTF-8 are non-standard data (X40), not a reason to skip the batch.
        let text = String::from_utf8_lossy(&std::fs::read(&path)?).into_owned();
        let ack = sim.answer_batch(&text);
        write_atomic(&cfg.outbound, &format!("{name}.sx"), &ack)?;
        let done = cfg.inbound.join("processed");
        std::fs::create_dir_all(&done)?;
        std::fs::rename(&path, done.join(&name))?;
        info!(batch = %name, "ACE simulator answered batch {name}.");
    }
    if let Some(text) = sim.so_batch() {
        let seq = {
            let mut s = sim.state.lock().expect("sim state");
            s.seq += 1;
            s.seq
        };
        write_atomic(
            &cfg.outbound,
            &format!(
                "status-{}-{seq:06}.so",
                Utc::now().format("%Y%m%dT%H%M%S%3f")
            ),
            &text,
        )?;
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
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    info!(listen = %listen, "ACE simulator listening on http://{listen}/.");
    let server = tokio::spawn(axum::serve(listener, router(sim.clone())).into_future());
    let ticker = {
        let sim = sim.clone();
        tokio::spawn(async move {
            let poll =
                Duration::from_millis(batch.as_ref().map_or(100, |b| b.poll_ms.min(100)).max(10));
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

    fn sim(held: f64) -> Sim {
        Sim::new(SimConfig {
            filer_codes: vec!["ABC".into()],
            listen: default_listen(),
            token_file: None,
            policy: None,
            batch: None,
            release: ReleaseConfig {
                delay_ms: 0,
                held_share: held,
                seed: 7,
            },
            faults: FaultConfig::default(),
        })
        .unwrap()
    }

    /// A type 86 as the gateway's JSON carries it.
    fn entry(serial: u32, bill: &str, value: u64, origin: &str, arrival: &str) -> Filing {
        let digit = model::check_digit("ABC", &format!("{serial:07}")).unwrap();
        let json = format!(
            r#"{{"entry_number":"ABC-{serial:07}-{digit}","entry_type":"86","filer_code":"ABC","carrier":"DHLX",
            "house_bill":"{bill}","arrival_date":"{arrival}","port_of_entry":"4701","entry_value_usd":{value},
            "consignee":{{"name":"Chen Wei","postal_code":"94121","country":"US"}},
            "lines":[{{"line":1,"description":"Silk scarf","hts":"6214101000","origin":"{origin}","value_usd":{value}}}]}}"#
        );
        serde_json::from_str(&json).unwrap()
    }

    fn judge(s: &Sim, f: Filing) -> (StatusCode, serde_json::Value) {
        let (status, body, _) = s.judge(f, Vec::new(), Source::Json, Via::Http, Filed::default());
        (status, body)
    }

    fn releases(s: &Sim) -> Vec<(String, String)> {
        s.tick();
        s.state
            .lock()
            .unwrap()
            .notes
            .iter()
            .map(|n| (n.entry_number.clone(), n.code.clone()))
            .collect()
    }

    #[test]
    fn accepted_entries_are_released_later_and_numbers_are_never_reused() {
        let s = sim(0.0);
        let (status, body) = judge(&s, entry(1234567, "DX1001", 45, "VN", "2025-05-01"));
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::OK, Some("accepted")),
            "{body}"
        );
        assert_eq!(
            releases(&s),
            [("ABC-1234567-6".to_owned(), "98".to_owned())]
        );
        let (status, body) = judge(&s, entry(1234567, "DX1002", 45, "VN", "2025-05-01"));
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("E02"))
        );
    }

    #[test]
    fn a_house_bill_on_another_entry_is_refused_and_found_by_the_query() {
        let s = sim(0.0);
        assert_eq!(
            judge(&s, entry(1, "DX-1001", 45, "VN", "2025-05-01")).0,
            StatusCode::OK
        );
        let (status, body) = judge(&s, entry(2, "DX1001", 45, "VN", "2025-05-01"));
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("S19")),
            "{body}"
        );
        let first = format!(
            "ABC-0000001-{}",
            model::check_digit("ABC", "0000001").unwrap()
        );
        assert_eq!(
            body["narrative"].as_str(),
            Some(format!("HOUSE BILL ON ENTRY {first}").as_str())
        );
        assert_eq!(
            s.bill_holder("DHLX", "DX1001").map(|h| h.0),
            Some(first.clone())
        );
        assert_eq!(
            s.bill_holder("-", "dx-1001").map(|h| h.0),
            Some(first),
            "compared as filed: letters and digits"
        );
        assert_eq!(
            s.bill_holder("UPSN", "DX1001"),
            None,
            "another carrier's bill of the same number"
        );
        assert_eq!(s.bill_holder("-", "DX1002"), None);
    }

    #[test]
    fn de_minimis_answers_33_34_and_30() {
        let s = sim(0.0);
        judge(&s, entry(1, "A1", 45, "CN", "2025-05-02"));
        for (serial, value) in [(2, 500), (3, 301), (4, 10)] {
            judge(
                &s,
                entry(serial, &format!("B{serial}"), value, "VN", "2025-04-01"),
            );
        }
        let codes: Vec<String> = releases(&s).into_iter().map(|(_, c)| c).collect();
        assert_eq!(codes, ["33", "98", "34", "30"]);
    }

    #[test]
    fn type_86_limits_hold_for_json_too() {
        let s = sim(0.0);
        assert_eq!(
            judge(&s, entry(1, "A1", 801, "VN", "2025-05-01")).1["code"],
            "S18"
        );
        assert_eq!(
            judge(&s, entry(2, "A2", 10, "VN", "2025-08-29")).1["code"],
            "E11"
        );
    }
}

#[cfg(test)]
mod config_tests {
    #[test]
    fn the_shipped_configuration_loads() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ace-sim.toml");
        let cfg = super::SimConfig::load(&path).unwrap();
        assert_eq!(cfg.filer_codes, ["S32"]);
        assert_eq!(
            cfg.batch.and_then(|b| b.password_file),
            Some("jobs/ace-demo/envelope-password.txt".into())
        );
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;

    fn sim() -> Sim {
        Sim::new(SimConfig {
            filer_codes: vec!["S32".into()],
            listen: default_listen(),
            token_file: None,
            policy: None,
            batch: None,
            release: ReleaseConfig {
                delay_ms: 0,
                held_share: 0.0,
                seed: 1,
            },
            faults: FaultConfig::default(),
        })
        .unwrap()
    }

    /// An 80-character record with values at 1-based positions.
    fn rec(id: &str, fields: &[(usize, &str)]) -> String {
        let mut b = vec![b' '; 80];
        b[..id.len()].copy_from_slice(id.as_bytes());
        for (pos, v) in fields {
            b[pos - 1..pos - 1 + v.len()].copy_from_slice(v.as_bytes());
        }
        String::from_utf8(b).unwrap()
    }

    fn batch(filer: &str, transactions: &[String]) -> String {
        let mut lines = vec![rec(
            "A",
            &[(2, "4701"), (6, "S32"), (9, "PASSWD"), (26, "SE")],
        )];
        lines.push(rec(
            "B",
            &[(4, "4701"), (8, filer), (11, "SE"), (60, "RUN 5")],
        ));
        lines.extend(transactions.iter().cloned());
        lines.push(rec("Y", &[(4, "4701"), (8, filer), (11, "SE")]));
        lines.push(rec("Z", &[(2, "4701"), (6, "S32")]));
        lines.join("\n")
    }

    /// A type 86 (catair.md sections 3 and 6): planned port, EDA, an air
    /// master and its house bill with its quantity, CN and SE by name, the
    /// line value.
    fn type86(serial: &str, bill: &str) -> Vec<String> {
        let n = format!("{serial}{}", model::check_digit("S32", serial).unwrap());
        vec![
            rec(
                "SE10",
                &[
                    (5, "A"),
                    (6, "S32"),
                    (11, &n),
                    (20, "86"),
                    (37, "40"),
                    (39, "0"),
                    (40, "0000000045"),
                    (50, "4701"),
                ],
            ),
            rec("SE13", &[(5, "JANE DOE"), (45, "3125550100")]),
            rec("SE15", &[(5, "M"), (10, "15712345675"), (73, "N")]),
            rec("SE15", &[(5, "H"), (10, bill), (60, "00000001"), (73, "N")]),
            rec("SE20", &[(5, "EDA"), (8, "050125")]),
            rec("SE30", &[(5, "CN"), (8, "CHEN WEI")]),
            rec("SE35", &[(5, "15"), (7, "88 OCEAN AVENUE")]),
            rec("SE36", &[(5, "SAN FRANCISCO"), (49, "94121"), (64, "US")]),
            rec("SE30", &[(5, "SE"), (8, "HANOI SILK CO")]),
            rec("SE35", &[(5, "15"), (7, "12 HANG GAI")]),
            rec("SE36", &[(5, "HANOI"), (64, "VN")]),
            rec("SE40", &[(5, "001"), (8, "VN"), (11, "SILK SCARF")]),
            rec("SE60", &[(5, "6214101000"), (15, "0000000045")]),
        ]
    }

    fn closing(answer: &str) -> String {
        answer
            .lines()
            .rfind(|l| l.starts_with("SE90"))
            .unwrap_or_else(|| panic!("{answer}"))[4..49]
            .trim_end()
            .to_owned()
    }

    #[test]
    fn a_cancel_frees_the_bill_and_the_number_stays_used() {
        let s = sim();
        let answer = s.answer_batch(&batch("S32", &type86("0000101", "DX0101")));
        assert_eq!(closing(&answer), "02   ENTRY ACCEPTED", "{answer}");
        // A house bill without its master is out of sequence (SE15 Note 1).
        let mut lone = type86("0000103", "DX0103");
        lone.remove(2);
        assert!(s.answer_batch(&batch("S32", &lone)).contains("X1 FX35"));
        assert!(s.bill_holder("-", "DX0101").is_some());
        let t = type86("0000101", "DX0101");
        let cancel = [
            t[0].replacen("SE10A", "SE10D", 1),
            rec("SE13", &[(5, "JANE DOE"), (45, "3125550100"), (60, "01")]),
        ];
        let answer = s.answer_batch(&batch("S32", &cancel));
        assert_eq!(closing(&answer), "02   ENTRY ACCEPTED", "{answer}");
        assert_eq!(s.bill_holder("-", "DX0101"), None, "the bill is free again");
        let again = s.answer_batch(&batch("S32", &type86("0000101", "DX0102")));
        assert!(closing(&again).starts_with("01E02"), "{again}");
        // A cancel may carry no bill: X35 rejects the whole batch.
        let bad = [t[0].replacen("SE10A", "SE10D", 1), t[3].clone()];
        assert!(s.answer_batch(&batch("S32", &bad)).contains("X1 FX35"));
    }

    #[test]
    fn a_filer_not_authorised_is_an_x17_with_its_block_referenced() {
        let answer = sim().answer_batch(&batch("XYZ", &type86("0000102", "DX0102")));
        let x0 = answer
            .lines()
            .find(|l| l.starts_with("X0"))
            .unwrap_or_else(|| panic!("{answer}"));
        assert_eq!(&x0[3..9], "BLOCK ");
        assert_eq!(&x0[10..16], "000001");
        assert_eq!(&x0[17..24], "REF ID:");
        assert_eq!(
            (&x0[25..29], &x0[30..33], &x0[37..39], x0[40..61].trim_end()),
            ("4701", "XYZ", "SE", "RUN 5")
        );
        assert!(
            answer
                .lines()
                .any(|l| l.starts_with("X1 FX17   FILER NOT AUTHORIZED")),
            "{answer}"
        );
    }

    #[test]
    fn the_old_envelope_gets_every_condition_it_breaks() {
        let s = sim();
        let line = |t: &str| format!("{t:<80}");
        let text = [
            line("AS32120226199555"),
            line("BS32SE"),
            line("SE10A"),
            line("Y000042"),
            line("ZS32120226199555000001"),
        ]
        .join("\n");
        let answer = s.answer_batch(&text);
        let mut codes: Vec<&str> = answer
            .lines()
            .filter(|l| l.starts_with("X1"))
            .map(|l| &l[4..7])
            .collect();
        codes.sort();
        codes.dedup();
        assert_eq!(
            codes,
            ["999", "X04", "X10", "X11", "X16", "X32", "X39"],
            "{answer}"
        );
    }
}
