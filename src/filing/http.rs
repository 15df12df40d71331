//! Transport B: a broker's (or service provider's) ACE gateway, JSON over
//! HTTPS, through reqwest.
//!
//! The protocol (`s321d ace-sim` serves the same):
//! - `POST /v1/entries` with the entry as JSON (`filing::entry::Entry`: a
//!   type 11 lists every house bill in `bills` and each line's `house_bill`
//!   and `ch99` headings), `Authorization: Bearer <token>` and
//!   `Idempotency-Key: <entry number>`: `200` with
//!   `{entry_number, status: accepted|rejected|held, condition, code,
//!   narrative, warnings}`; the same key again returns the same answer.
//! - `GET /v1/entries/<entry number>`: that answer, with the latest release
//!   status; `404` if the gateway never received the entry.
//! - `GET /v1/bills/<issuer>/<house bill>` (`-` for no issuer, as on air
//!   bills): `{entry_number, filer_code, entry_type}` of the entry ACE holds
//!   the bill on, `404` when none. Asked before numbering an entry whose
//!   bills this ledger does not know, so a second state store never files a
//!   bill twice.
//! - `POST /v1/entry-summaries` with an entry summary's AE records as text
//!   and `Idempotency-Key: <entry number>`: `200` `{entry_number, status:
//!   accepted, code, narrative, conditions}` or `422` with `status:
//!   rejected` and the first fatal condition; `GET
//!   /v1/entry-summaries/<entry number>`: that answer, `404` if never
//!   received ([`super::summary_filing`]).
//! - `GET /v1/notifications?after=<seq>`: status notifications (SO60
//!   dispositions) in order, `{notifications: [{seq, entry_number, code,
//!   narrative}], next}`.
//!
//! Timeouts, dropped connections, `429` and `5xx` are retried with jittered
//! exponential backoff; any other `4xx` is a rejection of the entry, recorded
//! and never retried — except `401`/`403`, which say the token is wrong: the
//! run stops (entries stay `pending`, reconciled once the token is fixed).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::{Mutex, Semaphore};
use tracing::{debug, warn};

use super::entry::Entry;
use super::{Response, release_state};
use crate::app::App;
use crate::retry::RetryPolicy;
use crate::state::ledger::FilingState;
use crate::state::types::Cursor;

/// The gateway could not be reached after the retries (refused or dropped
/// connections, timeouts, `429`, `5xx`): filing is degraded, not wrong.
#[derive(Debug, thiserror::Error)]
#[error("the ACE gateway {url} is unreachable: {why}")]
pub struct Unreachable {
    pub url: String,
    /// The last transport error, e.g. "cannot connect: ... Connection refused".
    pub why: String,
}

/// What [`send_all`] could not get answered.
#[derive(Debug, Default)]
pub struct Unsent {
    /// Entries with no answer after the retries (they stay pending).
    pub count: usize,
    /// The last transport error among them.
    pub why: Option<String>,
}

/// The gateway's answer about one entry.
#[derive(Debug, Clone, Deserialize)]
pub struct Answer {
    pub entry_number: String,
    pub status: String,
    #[serde(default)]
    pub condition: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub narrative: String,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Latest release disposition (`GET` only).
    #[serde(default)]
    pub release: Option<String>,
}

/// The entry a house bill is on at ACE (`GET /v1/bills/...`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct BillHolder {
    pub entry_number: String,
    #[serde(default)]
    pub filer_code: String,
    #[serde(default)]
    pub entry_type: String,
}

/// What ACE holds of an entry's house bills that this ledger does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtAce {
    /// None of them: file it.
    Nothing,
    /// Every house bill of the entry, all on this one entry: adopt its number.
    Entry(BillHolder),
    /// Some of them (this bill on this entry), not all on one entry: a house
    /// bill is never on two entries, so it is not filed.
    Partly(String, BillHolder),
}

impl AtAce {
    /// From the bills asked about (`asked` of the entry's `total`) and the
    /// holders found.
    fn from_found(total: usize, asked: usize, mut found: Vec<(String, BillHolder)>) -> AtAce {
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let Some(first) = found.first().cloned() else {
            return AtAce::Nothing;
        };
        if asked == total
            && found.len() == total
            && found
                .iter()
                .all(|(_, h)| h.entry_number == first.1.entry_number)
        {
            AtAce::Entry(first.1)
        } else {
            AtAce::Partly(first.0, first.1)
        }
    }
}

/// For each entry, what ACE already holds of its house bills on entries
/// this ledger does not know (filed from another or a lost state store),
/// asked with at most `concurrency` requests in flight. Bills the ledger has
/// are not asked about: the ledger's own once-only key handles them.
pub async fn held_elsewhere(
    ctx: &App,
    entries: &[super::entry::Prepared],
) -> anyhow::Result<Vec<AtAce>> {
    let gateway = Arc::new(Gateway::new(ctx)?);
    let permits = Arc::new(Semaphore::new(ctx.config.filing.http.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut asked = vec![0usize; entries.len()];
    for (i, p) in entries.iter().enumerate() {
        let air = matches!(p.entry.mode_of_transport.as_str(), "40" | "41");
        for (carrier, hb) in &p.bills {
            if ctx.db(|s| s.filing_for(carrier, hb))?.is_some() {
                continue;
            }
            asked[i] += 1;
            let issuer = if air {
                "-".to_owned()
            } else {
                super::release::bill_number(carrier)
            };
            let bill = super::release::bill_number(hb);
            let (gateway, permits, hb) = (gateway.clone(), permits.clone(), hb.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("semaphore open");
                (i, hb, gateway.bill_holder(&issuer, &bill).await)
            });
        }
    }
    let any = !tasks.is_empty();
    let mut found: Vec<Vec<(String, BillHolder)>> = vec![Vec::new(); entries.len()];
    while let Some(joined) = tasks.join_next().await {
        let (i, hb, holder) = joined.context("a gateway task panicked")?;
        match holder {
            Ok(Some(h)) => found[i].push((hb, h)),
            Ok(None) => {}
            Err(e) => {
                super::gateway_failed(ctx, &e);
                return Err(e);
            }
        }
    }
    if any {
        super::gateway_seen(ctx, None);
    }
    Ok(found
        .into_iter()
        .enumerate()
        .map(|(i, f)| AtAce::from_found(entries[i].bills.len(), asked[i], f))
        .collect())
}

#[derive(Debug, Deserialize)]
struct Notifications {
    notifications: Vec<Note>,
    next: u64,
}

#[derive(Debug, Deserialize)]
struct Note {
    entry_number: String,
    code: String,
    #[serde(default)]
    narrative: String,
    seq: u64,
}

/// A configured gateway client.
pub struct Gateway {
    client: reqwest::Client,
    base: String,
    token: SecretString,
    retry: RetryPolicy,
    pacer: Pacer,
}

/// The rate limit: requests start at least `interval` apart, whatever the
/// concurrency.
struct Pacer {
    /// Next moment a request may start.
    next_slot: Mutex<Instant>,
    interval: Option<Duration>,
}

impl Pacer {
    fn new(rate_per_sec: u32) -> Pacer {
        Pacer {
            next_slot: Mutex::new(Instant::now()),
            interval: (rate_per_sec > 0)
                .then(|| Duration::from_secs_f64(1.0 / f64::from(rate_per_sec))),
        }
    }

    /// Waits for this request's slot.
    async fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let at = {
            let mut next = self.next_slot.lock().await;
            let at = (*next).max(Instant::now());
            *next = at + interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// Why a send did not get an answer.
#[derive(Debug)]
enum SendError {
    /// Worth retrying (timeouts, 429, 5xx, connection trouble).
    Transient(String),
    /// The token is refused: stop.
    Unauthorized(String),
}

impl Gateway {
    pub fn new(ctx: &App) -> anyhow::Result<Gateway> {
        let h = &ctx.config.filing.http;
        let token = if h.token_file.is_empty() {
            SecretString::from(String::new())
        } else {
            let text = std::fs::read_to_string(&h.token_file)
                .with_context(|| format!("cannot read the gateway token from {}", h.token_file))?;
            SecretString::from(text.trim().to_owned())
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(h.timeout_secs))
            .connect_timeout(Duration::from_secs(h.timeout_secs))
            .pool_max_idle_per_host(h.concurrency)
            .build()?;
        Ok(Gateway {
            client,
            base: h.url.trim_end_matches('/').to_owned(),
            token,
            retry: RetryPolicy {
                attempts: h.retry_attempts.max(1),
                initial: Duration::from_millis(h.retry_initial_ms),
            },
            pacer: Pacer::new(h.rate_per_sec),
        })
    }

    fn auth(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if self.token.expose_secret().is_empty() {
            req
        } else {
            req.bearer_auth(self.token.expose_secret())
        }
    }

    /// One POST: `Ok(answer)` for an answer about the entry (accepted,
    /// rejected — a 4xx is an answer), `Err` when no answer came.
    async fn post_once(&self, entry_json: &str, number: &str) -> Result<Answer, SendError> {
        self.pacer.wait().await;
        let req = self
            .client
            .post(format!("{}/v1/entries", self.base))
            .header("Idempotency-Key", number)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(entry_json.to_owned());
        let resp = self
            .auth(req)
            .send()
            .await
            .map_err(|e| SendError::Transient(describe(&e)))?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| SendError::Transient(describe(&e)))?;
        if status.is_success()
            || (status.is_client_error() && !matches!(status.as_u16(), 401 | 403 | 429))
        {
            let mut answer: Answer = serde_json::from_str(&body).unwrap_or(Answer {
                entry_number: number.into(),
                status: if status.is_success() {
                    "accepted".into()
                } else {
                    "rejected".into()
                },
                condition: String::new(),
                code: status.as_u16().to_string(),
                narrative: body.chars().take(200).collect(),
                warnings: Vec::new(),
                release: None,
            });
            if !status.is_success() {
                answer.status = "rejected".into();
                if answer.code.is_empty() {
                    answer.code = status.as_u16().to_string();
                }
            }
            return Ok(answer);
        }
        if matches!(status.as_u16(), 401 | 403) {
            return Err(SendError::Unauthorized(format!(
                "the gateway refused the token ({status})"
            )));
        }
        Err(SendError::Transient(format!(
            "{status}: {}",
            body.chars().take(200).collect::<String>()
        )))
    }

    /// POST with retries on timeouts, 429 and 5xx.
    async fn post(&self, entry_json: &str, number: &str) -> Result<Answer, SendError> {
        let mut attempt = 1;
        loop {
            match self.post_once(entry_json, number).await {
                Err(SendError::Transient(why)) if attempt < self.retry.attempts => {
                    let delay = self.retry.delay(attempt);
                    // Per retry only at debug: an outage is alerted once (super::gateway_seen).
                    debug!(entry = %number, attempt, delay_ms = delay.as_millis() as u64, "Retrying entry {number} at the gateway: {why}");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// `GET /v1/bills/<issuer>/<bill>`: the entry ACE already holds that
    /// house bill on, whoever filed it (`-` for no issuer, as air bills
    /// have none); `Ok(None)` when none.
    pub async fn bill_holder(
        &self,
        issuer: &str,
        bill: &str,
    ) -> anyhow::Result<Option<BillHolder>> {
        let mut attempt = 1;
        loop {
            let result = self
                .auth(
                    self.client
                        .get(format!("{}/v1/bills/{issuer}/{bill}", self.base)),
                )
                .send()
                .await;
            match result {
                Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => return Ok(None),
                Ok(r) if r.status().is_success() => return Ok(Some(r.json().await?)),
                Ok(r) if matches!(r.status().as_u16(), 401 | 403) => {
                    anyhow::bail!(
                        "the gateway refused the token ({}); filing stopped, nothing numbered",
                        r.status()
                    )
                }
                Ok(r) if attempt >= self.retry.attempts => {
                    return Err(self
                        .unreachable(format!(
                            "it answered {} about house bill {bill}",
                            r.status()
                        ))
                        .into());
                }
                Err(e) if attempt >= self.retry.attempts => {
                    return Err(self.unreachable(describe(&e)).into());
                }
                _ => {
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    fn unreachable(&self, why: String) -> Unreachable {
        Unreachable {
            url: self.base.clone(),
            why,
        }
    }

    /// `GET /v1/entries/<n>`: `Ok(None)` if the gateway never received it.
    async fn get(&self, number: &str) -> anyhow::Result<Option<Answer>> {
        let mut attempt = 1;
        loop {
            let result = self
                .auth(
                    self.client
                        .get(format!("{}/v1/entries/{number}", self.base)),
                )
                .send()
                .await;
            match result {
                Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => return Ok(None),
                Ok(r) if r.status().is_success() => return Ok(Some(r.json().await?)),
                Ok(r) if attempt >= self.retry.attempts => {
                    return Err(self
                        .unreachable(format!("it answered {} about {number}", r.status()))
                        .into());
                }
                Err(e) if attempt >= self.retry.attempts => {
                    return Err(self.unreachable(describe(&e)).into());
                }
                _ => {
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }
}

/// The gateway's answer about an entry summary (`POST` or `GET
/// /v1/entry-summaries`): `status` `accepted` or `rejected`, the first
/// condition (`code`, `narrative`) and every condition as `CODE NARRATIVE`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SummaryAnswer {
    pub entry_number: String,
    pub status: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub narrative: String,
    #[serde(default)]
    pub conditions: Vec<String>,
}

impl Gateway {
    /// `POST /v1/entry-summaries` with the AE transaction as text and the
    /// entry number as idempotency key, retried on timeouts, 429 and 5xx: the
    /// answer, or an [`Unreachable`] error (the summary stays pending).
    pub async fn post_summary(&self, text: &str, number: &str) -> anyhow::Result<SummaryAnswer> {
        let mut attempt = 1;
        loop {
            self.pacer.wait().await;
            let req = self
                .client
                .post(format!("{}/v1/entry-summaries", self.base))
                .header("Idempotency-Key", number)
                .header(reqwest::header::CONTENT_TYPE, "text/plain")
                .body(text.to_owned());
            let why = match self.auth(req).send().await {
                Ok(r) if matches!(r.status().as_u16(), 401 | 403) => {
                    anyhow::bail!(
                        "the gateway refused the token ({}); entry summaries stay pending",
                        r.status()
                    )
                }
                Ok(r)
                    if r.status().is_success()
                        || (r.status().is_client_error() && r.status().as_u16() != 429) =>
                {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    return Ok(serde_json::from_str(&body).unwrap_or(SummaryAnswer {
                        entry_number: number.to_owned(),
                        status: if status.is_success() {
                            "accepted".into()
                        } else {
                            "rejected".into()
                        },
                        code: status.as_u16().to_string(),
                        narrative: body.chars().take(200).collect(),
                        conditions: Vec::new(),
                    }));
                }
                Ok(r) => format!(
                    "it answered {} for the entry summary of {number}",
                    r.status()
                ),
                Err(e) => describe(&e),
            };
            if attempt >= self.retry.attempts {
                return Err(self.unreachable(why).into());
            }
            debug!(entry = %number, attempt, "Retrying the entry summary of {number} at the gateway: {why}");
            tokio::time::sleep(self.retry.delay(attempt)).await;
            attempt += 1;
        }
    }

    /// `GET /v1/entry-summaries/<n>`: the answer given, `Ok(None)` if the
    /// gateway never received the summary.
    pub async fn get_summary(&self, number: &str) -> anyhow::Result<Option<SummaryAnswer>> {
        let mut attempt = 1;
        loop {
            let result = self
                .auth(
                    self.client
                        .get(format!("{}/v1/entry-summaries/{number}", self.base)),
                )
                .send()
                .await;
            match result {
                Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => return Ok(None),
                Ok(r) if r.status().is_success() => return Ok(Some(r.json().await?)),
                Ok(r) if attempt >= self.retry.attempts => {
                    return Err(self
                        .unreachable(format!(
                            "it answered {} about the summary of {number}",
                            r.status()
                        ))
                        .into());
                }
                Err(e) if attempt >= self.retry.attempts => {
                    return Err(self.unreachable(describe(&e)).into());
                }
                _ => {
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }
}

/// A transport error with its causes ("connection refused" is a cause,
/// not in reqwest's own message).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else {
        e.to_string()
    };
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text.push_str(": ");
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    text
}

/// The ledger transitions an answer means.
fn responses(answer: &Answer, via: &str) -> Vec<Response> {
    let message = format!(
        "{via}: status {} condition {} code {} {}{}",
        answer.status,
        answer.condition,
        answer.code,
        answer.narrative,
        if answer.warnings.is_empty() {
            String::new()
        } else {
            format!(" (warnings: {})", answer.warnings.join("; "))
        }
    );
    let mut out = Vec::new();
    let first = match answer.status.as_str() {
        "accepted" => Some(FilingState::Accepted),
        "rejected" => Some(FilingState::Rejected),
        "held" => Some(FilingState::Held),
        "released" => Some(FilingState::Released),
        "detained" => Some(FilingState::Detained),
        "cancelled" => Some(FilingState::Cancelled),
        _ => None,
    };
    if let Some(state) = first {
        let code = if answer.code.is_empty() {
            answer.condition.clone()
        } else {
            answer.code.clone()
        };
        out.push(Response {
            entry_number: answer.entry_number.clone(),
            state,
            code,
            narrative: answer.narrative.clone(),
            message: message.clone(),
        });
    }
    if let Some(release) = &answer.release
        && let Some(state) = release_state(release)
    {
        out.push(Response {
            entry_number: answer.entry_number.clone(),
            state,
            code: release.clone(),
            narrative: String::new(),
            message: format!("{via}: release disposition {release}"),
        });
    }
    out
}

/// Sends entries (already `pending` in the ledger) with bounded concurrency.
/// Returns what got no answer (it stays pending, reconciled later) and why.
pub async fn send_all(ctx: &App, entries: &[Entry]) -> anyhow::Result<Unsent> {
    if entries.is_empty() {
        return Ok(Unsent::default());
    }
    let gateway = Arc::new(Gateway::new(ctx)?);
    let permits = Arc::new(Semaphore::new(ctx.config.filing.http.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for e in entries {
        let json = serde_json::to_string(e)?;
        let number = e.entry_number.clone();
        let (gateway, permits) = (gateway.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            let result = gateway.post(&json, &number).await;
            (number, result)
        });
    }
    // Answers are recorded in batches (one ledger transaction each): an
    // answer not yet recorded when the process dies leaves its entry pending,
    // and reconciling asks the gateway, which answers from its record.
    let mut unsent = Unsent::default();
    let mut unauthorized = None;
    let mut answered: Vec<(String, Answer)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (number, result) = joined.context("a gateway task panicked")?;
        match result {
            Ok(answer) => {
                crate::faults::crash_point("filing-answered");
                answered.push((number, answer));
                if answered.len() >= RECORD_BATCH {
                    record_answers(ctx, &mut answered, "POST /v1/entries answered")?;
                }
            }
            Err(SendError::Transient(why)) => {
                unsent.count += 1;
                debug!(entry = %number, "No answer from the gateway for {number} after retries ({why}); it stays pending.");
                unsent.why = Some(why);
            }
            Err(SendError::Unauthorized(why)) => unauthorized = Some(why),
        }
    }
    record_answers(ctx, &mut answered, "POST /v1/entries answered")?;
    if let Some(why) = unauthorized {
        anyhow::bail!("{why}; filing stopped, entries stay pending");
    }
    // Some answer came: the gateway is up, whatever a few entries met.
    super::gateway_seen(
        ctx,
        if unsent.count < entries.len() {
            None
        } else {
            unsent.why.as_deref()
        },
    );
    Ok(unsent)
}

/// Answers recorded per ledger transaction.
const RECORD_BATCH: usize = 256;

/// Records gateway answers: each entry submitted, then what the answer says.
fn record_answers(
    ctx: &App,
    answered: &mut Vec<(String, Answer)>,
    message: &str,
) -> anyhow::Result<()> {
    if answered.is_empty() {
        return Ok(());
    }
    super::mark_submitted(ctx, answered.iter().map(|(n, _)| n.as_str()), message)?;
    let responses: Vec<Response> = answered
        .iter()
        .flat_map(|(_, a)| responses(a, "gateway"))
        .collect();
    super::apply(ctx, &responses)?;
    answered.clear();
    Ok(())
}

/// Reconciles `pending` HTTP filings: asks the gateway about each; sends the
/// ones it never received (same entry number: the idempotency key). Returns
/// what is still unanswered; an unreachable gateway is an [`Unreachable`]
/// error.
pub async fn reconcile(ctx: &App) -> anyhow::Result<Unsent> {
    // A filing certified by its entry summary is the summary's to reconcile
    // (super::summary_filing): sending it as an entry would be a second request.
    let pending: Vec<_> = ctx
        .db(|s| s.filings_in(&[FilingState::Pending]))?
        .into_iter()
        .filter(|f| f.transport == "http" && !super::summary_filing::is_certified(f))
        .collect();
    if pending.is_empty() {
        return Ok(Unsent::default());
    }
    let gateway = Gateway::new(ctx)?;
    let mut resend = Vec::new();
    let mut known = Vec::new();
    for f in pending {
        let answer = match gateway.get(&f.entry_number).await {
            Ok(a) => a,
            Err(e) => {
                super::gateway_failed(ctx, &e);
                return Err(e);
            }
        };
        match answer {
            Some(answer) => known.push((f.entry_number, answer)),
            None => resend.push(
                serde_json::from_str::<Entry>(&f.payload)
                    .context("a pending filing's payload is not an entry")?,
            ),
        }
        if known.len() >= RECORD_BATCH {
            record_answers(ctx, &mut known, "reconciled: the gateway has it")?;
        }
    }
    record_answers(ctx, &mut known, "reconciled: the gateway has it")?;
    super::gateway_seen(ctx, None);
    if !resend.is_empty() {
        warn!(
            entries = resend.len(),
            "Re-sending {} pending entr(ies) the gateway never received.",
            resend.len()
        );
        return send_all(ctx, &resend).await;
    }
    Ok(Unsent::default())
}

/// Reads the status notifications since the last one read and applies them,
/// page by page; the cursor (kept in the store) moves only after a page is
/// applied.
pub async fn read_notifications(ctx: &App) -> anyhow::Result<()> {
    let open = ctx
        .db(|s| {
            s.filings_in(&[
                FilingState::Submitted,
                FilingState::Accepted,
                FilingState::Held,
                FilingState::Detained,
            ])
        })?
        .into_iter()
        .any(|f| f.transport == "http");
    if !open {
        return Ok(());
    }
    let gateway = Gateway::new(ctx)?;
    let mut after: u64 = ctx.db(|s| s.cursor(Cursor::HttpNotifications))?;
    loop {
        let resp = gateway
            .auth(gateway.client.get(format!(
                "{}/v1/notifications?after={after}&limit=5000",
                gateway.base
            )))
            .send()
            .await;
        // A failure here is the outage alerted once (super::gateway_seen),
        // not a warning per poll.
        let page: Notifications = match resp {
            Ok(r) if r.status().is_success() => {
                super::gateway_seen(ctx, None);
                r.json().await?
            }
            Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => {
                super::gateway_seen(
                    ctx,
                    Some(&format!("it answered {} for notifications", r.status())),
                );
                break;
            }
            Ok(r) => {
                warn!(
                    "The gateway answered {} for notifications; trying again next run.",
                    r.status()
                );
                break;
            }
            Err(e) => {
                super::gateway_seen(ctx, Some(&describe(&e)));
                break;
            }
        };
        if page.notifications.is_empty() {
            break;
        }
        let responses: Vec<Response> = page
            .notifications
            .into_iter()
            .filter_map(|n| {
                Some(Response {
                    state: release_state(&n.code)?,
                    message: format!(
                        "gateway notification {}: SO60 {} {}",
                        n.seq, n.code, n.narrative
                    ),
                    entry_number: n.entry_number,
                    code: n.code,
                    narrative: n.narrative,
                })
            })
            .collect();
        super::apply(ctx, &responses)?;
        after = page.next.max(after);
        ctx.db(|s| s.advance_cursor(Cursor::HttpNotifications, after))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_adopted_only_when_ace_holds_every_bill_of_it_on_one_entry() {
        let on = |n: &str| BillHolder {
            entry_number: n.into(),
            filer_code: "S32".into(),
            entry_type: "11".into(),
        };
        let hb = |b: &str, n: &str| (b.to_owned(), on(n));
        assert_eq!(AtAce::from_found(2, 2, vec![]), AtAce::Nothing);
        assert_eq!(
            AtAce::from_found(2, 2, vec![hb("B", "N1"), hb("A", "N1")]),
            AtAce::Entry(on("N1"))
        );
        // Two entries at ACE, one bill not held, or one bill known here: listed.
        assert_eq!(
            AtAce::from_found(2, 2, vec![hb("B", "N2"), hb("A", "N1")]),
            AtAce::Partly("A".into(), on("N1"))
        );
        assert_eq!(
            AtAce::from_found(2, 2, vec![hb("B", "N1")]),
            AtAce::Partly("B".into(), on("N1"))
        );
        assert_eq!(
            AtAce::from_found(2, 1, vec![hb("B", "N1")]),
            AtAce::Partly("B".into(), on("N1"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_limit_spaces_requests_whatever_the_concurrency() {
        let pacer = std::sync::Arc::new(Pacer::new(20));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let p = pacer.clone();
            tasks.spawn(async move {
                p.wait().await;
                Instant::now()
            });
        }
        let mut at: Vec<Duration> = Vec::new();
        while let Some(t) = tasks.join_next().await {
            at.push(t.unwrap() - start);
        }
        at.sort();
        // 20 per second: 50 ms apart, the first at once.
        let expected: Vec<Duration> = (0..10).map(|i| Duration::from_millis(50 * i)).collect();
        assert_eq!(at, expected);
        // No limit: nobody waits.
        let free = Pacer::new(0);
        let t = Instant::now();
        free.wait().await;
        assert_eq!(Instant::now(), t);
    }
}
