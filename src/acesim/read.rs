//! The simulator's reader of incoming CATAIR batches: the envelope (A, B,
//! transactions, Y, Z), record lengths, characters, fillers, known record
//! identifiers, record order and loop limits, against the simulator's own
//! table ([`super::layouts`]).
//!
//! What it finds here is a batch-level fault: the whole batch is rejected
//! with X0/X1 records and none of its transactions is processed
//! (catair.md section 2, "Batch reject"; section 4: a syntax fault produces
//! no SE90). Field content inside a transaction (blank M fields, classes,
//! code lists) is left to [`super::rules`], which answers per transaction
//! with SE90 records, as ACE answers data faults.

use std::collections::BTreeSet;

use super::layouts::{self, Class, Field, Layout, Need, WIDTH};

/// The batch-level conditions of the B&B chapter the simulator raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum XCondition {
    X03,
    X04,
    X05,
    X06,
    X07,
    X08,
    X09,
    X10,
    X11,
    X12,
    X14,
    X15,
    X16,
    X17,
    X19,
    X32,
    X33,
    X34,
    X35,
    X36,
    X37,
    X39,
    X40,
    X42,
}

impl XCondition {
    /// The condition code of X1 positions 5-7.
    pub fn code(self) -> &'static str {
        match self {
            XCondition::X03 => "X03",
            XCondition::X04 => "X04",
            XCondition::X05 => "X05",
            XCondition::X06 => "X06",
            XCondition::X07 => "X07",
            XCondition::X08 => "X08",
            XCondition::X09 => "X09",
            XCondition::X10 => "X10",
            XCondition::X11 => "X11",
            XCondition::X12 => "X12",
            XCondition::X14 => "X14",
            XCondition::X15 => "X15",
            XCondition::X16 => "X16",
            XCondition::X17 => "X17",
            XCondition::X19 => "X19",
            XCondition::X32 => "X32",
            XCondition::X33 => "X33",
            XCondition::X34 => "X34",
            XCondition::X35 => "X35",
            XCondition::X36 => "X36",
            XCondition::X37 => "X37",
            XCondition::X39 => "X39",
            XCondition::X40 => "X40",
            XCondition::X42 => "X42",
        }
    }

    /// The narrative: catair.md's wording of the condition, upper case.
    /// Only X12 and X42 are quoted there verbatim; the others are its short
    /// descriptions.
    pub fn narrative(self) -> &'static str {
        match self {
            XCondition::X03 => "BATCH CONTROL B-RECORD MISSING",
            XCondition::X04 => "TRANSACTION DETAIL MISSING",
            XCondition::X05 => "BATCH CONTROL Y-RECORD MISSING",
            XCondition::X06 => "BATCH CONTROL Z-RECORD MISSING",
            XCondition::X07 => "SENDER SITE CODE MISSING",
            XCondition::X08 => "SENDER ID CODE MISSING",
            XCondition::X09 => "SENDER NOT AUTHORIZED",
            XCondition::X10 => "TRANSMISSION DATE UNKNOWN",
            XCondition::X11 => "APPLICATION ID CODE MISSING",
            XCondition::X12 => "NOT A KNOWN ACE APPLICATION ID CODE",
            XCondition::X14 => "Z-RECORD DOES NOT MATCH A-RECORD",
            XCondition::X15 => "PROCESSING PORT MISSING",
            XCondition::X16 => "PROCESSING FILER CODE MISSING",
            XCondition::X17 => "FILER NOT AUTHORIZED",
            XCondition::X19 => "BLOCK/BATCH APPLICATION ID CONFLICT",
            XCondition::X32 => "Y-RECORD DOES NOT MATCH B-RECORD",
            XCondition::X33 => "TRANSACTION HEADER MISSING",
            XCondition::X34 => "UNKNOWN RECORD ID IN GROUPING",
            XCondition::X35 => "OUT-OF-SEQUENCE RECORD",
            XCondition::X36 => "LOOP EXCEEDED",
            XCondition::X37 => "MISSING DATA RECORD",
            XCondition::X39 => "DATA FOUND IN FILLER",
            XCondition::X40 => "NON-STANDARD DATA FOUND",
            XCondition::X42 => "LAST RECORD LESS THAN 80-CHAR LENGTH",
        }
    }
}

/// Where a batch fault is (an X0 reference), or nowhere in particular.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    Batch,
    /// The block's occurrence in the batch (1-based) and its B record.
    Block {
        occurrence: usize,
        b: String,
    },
    /// The transaction's occurrence in its block (0 before any), the
    /// record's number in the batch and the fault's first position (0 =
    /// the whole record).
    Record {
        occurrence: usize,
        record: usize,
        position: usize,
    },
}

/// One batch-level fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFault {
    pub condition: XCondition,
    pub at: Where,
}

/// A rejected batch: what the X0/X1 answer needs.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// The input A record when there was one (echoed in the output A).
    pub a: Option<Line>,
    pub faults: Vec<BatchFault>,
}

/// One record of the batch, with its layout and its number in the batch.
#[derive(Debug, Clone)]
pub struct Line {
    pub number: usize,
    pub text: String,
    pub layout: &'static Layout,
}

impl PartialEq for Line {
    fn eq(&self, other: &Line) -> bool {
        self.number == other.number
            && self.text == other.text
            && std::ptr::eq(self.layout, other.layout)
    }
}
impl Eq for Line {}

impl Line {
    /// A field's text without trailing spaces (leading spaces kept: they
    /// matter for (S)N and are a fault elsewhere).
    pub fn get(&self, name: &str) -> &str {
        layouts::raw(&self.text, self.layout.field(name)).trim_end()
    }

    pub fn id(&self) -> &'static str {
        self.layout.id
    }
}

/// The application of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Application {
    /// ACE Cargo Release, answered in SX.
    Se,
    /// Entry Summary, answered in AX.
    Ae,
}

impl Application {
    pub fn response(self) -> &'static str {
        match self {
            Application::Se => "SX",
            Application::Ae => "AX",
        }
    }
}

/// One transaction: an SE header grouping (SE10 first) or an entry summary
/// (10 first).
#[derive(Debug, Clone)]
pub struct Transaction {
    pub records: Vec<Line>,
}

#[derive(Debug, Clone)]
pub struct Block {
    pub b: Line,
    pub y: Line,
    pub transactions: Vec<Transaction>,
}

/// A batch that passed the batch-level checks.
#[derive(Debug, Clone)]
pub struct Batch {
    pub application: Application,
    pub a: Line,
    pub z: Line,
    pub blocks: Vec<Block>,
}

/// What the envelope is checked against.
pub struct Envelope<'a> {
    /// Filer codes allowed to file (B 8-10).
    pub filer_codes: &'a BTreeSet<String>,
    /// The communication password A 9-14 must carry, when one is configured.
    pub password: Option<&'a str>,
}

/// A fault of one field's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldFault {
    /// An M field left blank.
    Blank,
    /// A value outside the field's class (within the character set).
    Class,
    /// A value not in the field's code list.
    Code,
    /// Data in a filler.
    Filler,
    /// A character outside every class (lower case, control, non-ASCII).
    NonStandard,
}

/// Judges every field of an 80-character record against its layout.
pub fn scan(line: &str, layout: &'static Layout) -> Vec<(&'static Field, FieldFault)> {
    let mut out = Vec::new();
    for field in layout.fields {
        let raw = layouts::raw(line, field);
        if let Some(fault) = judge_field(raw, field) {
            out.push((field, fault));
        }
    }
    out
}

fn judge_field(raw: &str, field: &Field) -> Option<FieldFault> {
    if field.class == Class::Unread {
        return None;
    }
    if raw.chars().any(|ch| !layouts::fits(Class::X, ch)) {
        return Some(FieldFault::NonStandard);
    }
    let blank = raw.trim().is_empty();
    if field.class == Class::S {
        return (!blank).then_some(FieldFault::Filler);
    }
    if blank {
        return (field.need == Need::M).then_some(FieldFault::Blank);
    }
    let ok = match field.class {
        Class::A | Class::AN | Class::X => {
            !raw.starts_with(' ') && raw.chars().all(|ch| layouts::fits(field.class, ch))
        }
        Class::N => raw.bytes().all(|b| b.is_ascii_digit()),
        Class::SN => {
            let digits = raw.trim_start_matches(' ');
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
        Class::D => raw.len() == 6 && chrono::NaiveDate::parse_from_str(raw, "%m%d%y").is_ok(),
        Class::S | Class::Unread => true,
    };
    if !ok {
        return Some(FieldFault::Class);
    }
    if !field.codes.is_empty() && !field.codes.contains(&raw.trim()) {
        return Some(FieldFault::Code);
    }
    None
}

/// Reads a batch: either its blocks and transactions, or the faults that
/// reject it as a whole.
pub fn read(text: &str, env: &Envelope) -> Result<Batch, Rejected> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    let mut faults = Vec::new();
    let fault =
        |faults: &mut Vec<BatchFault>, condition, at| faults.push(BatchFault { condition, at });
    // Records of the wrong length or with characters CATAIR never carries
    // make the rest unreadable: answer at once.
    let count = lines.len();
    for (i, l) in lines.iter().enumerate() {
        let at = Where::Record {
            occurrence: 0,
            record: i + 1,
            position: 0,
        };
        if l.chars().any(|ch| !layouts::fits(Class::X, ch)) {
            fault(&mut faults, XCondition::X40, at);
        } else if l.len() != WIDTH {
            fault(
                &mut faults,
                if i + 1 == count && l.len() < WIDTH {
                    XCondition::X42
                } else {
                    XCondition::X40
                },
                at,
            );
        }
    }
    let first_a = lines
        .first()
        .filter(|l| l.starts_with('A') && l.len() == WIDTH)
        .map(|l| Line {
            number: 1,
            text: (*l).to_owned(),
            layout: &layouts::IN_A,
        });
    if count == 0 {
        fault(&mut faults, XCondition::X07, Where::Batch);
    }
    if !faults.is_empty() {
        return Err(Rejected { a: first_a, faults });
    }
    let mut walk = Walk {
        lines: &lines,
        at: 0,
        faults: Vec::new(),
    };
    let batch = walk.batch(env);
    match batch {
        Some(b) if walk.faults.is_empty() => Ok(b),
        _ => {
            let mut faults = walk.faults;
            faults.dedup();
            Err(Rejected { a: first_a, faults })
        }
    }
}

struct Walk<'a> {
    lines: &'a [&'a str],
    at: usize,
    faults: Vec<BatchFault>,
}

impl Walk<'_> {
    fn fault(&mut self, condition: XCondition, at: Where) {
        self.faults.push(BatchFault { condition, at });
    }

    fn peek(&self) -> Option<&str> {
        self.lines.get(self.at).copied()
    }

    fn take(&mut self, layout: &'static Layout) -> Line {
        let line = Line {
            number: self.at + 1,
            text: self.lines[self.at].to_owned(),
            layout,
        };
        self.at += 1;
        line
    }

    fn record_at(&self, line: &Line, occurrence: usize, field: &Field) -> Where {
        Where::Record {
            occurrence,
            record: line.number,
            position: field.start,
        }
    }

    /// Fillers and stray characters of an envelope record, plus its field
    /// faults mapped onto the envelope's own conditions.
    fn envelope_fields(
        &mut self,
        line: &Line,
        map: &dyn Fn(&str, FieldFault) -> Option<XCondition>,
    ) {
        for (field, f) in scan(&line.text, line.layout) {
            let condition = match f {
                FieldFault::Filler => Some(XCondition::X39),
                FieldFault::NonStandard => Some(XCondition::X40),
                other => map(field.name, other).or(Some(XCondition::X40)),
            };
            if let Some(condition) = condition {
                let at = self.record_at(line, 0, field);
                self.fault(condition, at);
            }
        }
    }

    fn batch(&mut self, env: &Envelope) -> Option<Batch> {
        if !self.peek()?.starts_with('A') {
            self.fault(
                XCondition::X35,
                Where::Record {
                    occurrence: 0,
                    record: 1,
                    position: 0,
                },
            );
            return None;
        }
        let a = self.take(&layouts::IN_A);
        self.envelope_fields(&a, &|name, f| match (name, f) {
            ("site", FieldFault::Blank) => Some(XCondition::X07),
            ("sender", FieldFault::Blank) => Some(XCondition::X08),
            ("password", FieldFault::Blank) => Some(XCondition::X09),
            ("date", _) => Some(XCondition::X10),
            ("application", FieldFault::Blank) => Some(XCondition::X11),
            ("application", _) => Some(XCondition::X12),
            _ => None,
        });
        if let Some(expected) = env.password
            && a.get("password") != expected
            && !a.get("password").is_empty()
        {
            self.fault(
                XCondition::X09,
                Where::Record {
                    occurrence: 0,
                    record: 1,
                    position: 9,
                },
            );
        }
        let application = match a.get("application") {
            "SE" => Some(Application::Se),
            "AE" => Some(Application::Ae),
            _ => None,
        };
        let mut blocks = Vec::new();
        loop {
            match self.peek() {
                Some(l) if l.starts_with('B') => {
                    let occurrence = blocks.len() + 1;
                    if let Some(block) = self.block(occurrence, &a, application, env) {
                        blocks.push(block);
                    }
                }
                Some(l) if l.starts_with('Z') => break,
                Some(_) => {
                    self.fault(
                        XCondition::X03,
                        Where::Record {
                            occurrence: 0,
                            record: self.at + 1,
                            position: 0,
                        },
                    );
                    return None;
                }
                None => {
                    if blocks.is_empty() {
                        self.fault(XCondition::X03, Where::Batch);
                    }
                    self.fault(XCondition::X06, Where::Batch);
                    return None;
                }
            }
        }
        if blocks.is_empty() {
            self.fault(XCondition::X03, Where::Batch);
        }
        let z = self.take(&layouts::IN_Z);
        self.envelope_fields(&z, &|name, f| match (name, f) {
            ("site" | "sender", FieldFault::Blank) => Some(XCondition::X14),
            ("date", _) => Some(XCondition::X10),
            _ => None,
        });
        if z.get("site") != a.get("site")
            || z.get("sender") != a.get("sender")
            || z.get("office") != a.get("office")
        {
            self.fault(
                XCondition::X14,
                Where::Record {
                    occurrence: 0,
                    record: z.number,
                    position: 2,
                },
            );
        }
        if self.peek().is_some() {
            self.fault(
                XCondition::X35,
                Where::Record {
                    occurrence: 0,
                    record: self.at + 1,
                    position: 0,
                },
            );
        }
        Some(Batch {
            application: application?,
            a,
            z,
            blocks,
        })
    }

    fn block(
        &mut self,
        occurrence: usize,
        a: &Line,
        application: Option<Application>,
        env: &Envelope,
    ) -> Option<Block> {
        let b = self.take(&layouts::IN_B);
        let here = Where::Block {
            occurrence,
            b: b.text.clone(),
        };
        let before = self.faults.len();
        self.envelope_fields(&b, &|name, f| match (name, f) {
            ("port", FieldFault::Blank) => Some(XCondition::X15),
            ("filer", FieldFault::Blank) => Some(XCondition::X16),
            ("application", FieldFault::Blank) => Some(XCondition::X11),
            ("application", _) => Some(XCondition::X19),
            _ => None,
        });
        if !b.get("filer").is_empty() && !env.filer_codes.contains(b.get("filer")) {
            self.fault(XCondition::X17, here.clone());
        }
        if b.get("application") != a.get("application") {
            self.fault(XCondition::X19, here.clone());
        }
        for f in &mut self.faults[before..] {
            if f.condition != XCondition::X39 && f.condition != XCondition::X40 {
                f.at = here.clone();
            }
        }
        let mut transactions: Vec<Transaction> = Vec::new();
        let mut order = Order::default();
        loop {
            let Some(l) = self.peek() else {
                self.fault(XCondition::X05, here.clone());
                return None;
            };
            if l.starts_with('Y') {
                break;
            }
            if l.starts_with('A') || l.starts_with('B') || l.starts_with('Z') {
                self.fault(XCondition::X05, here.clone());
                return None;
            }
            let layout = match application {
                Some(Application::Se) => layouts::se_layout(l),
                Some(Application::Ae) => layouts::ae_layout(l),
                None => None,
            };
            let Some(layout) = layout else {
                if application.is_none() {
                    // The batch names no application this ACE serves (X11/X12
                    // already say so): its records cannot be read.
                    self.at += 1;
                    continue;
                }
                let at = Where::Record {
                    occurrence: transactions.len(),
                    record: self.at + 1,
                    position: 1,
                };
                self.fault(XCondition::X34, at);
                self.at += 1;
                continue;
            };
            let line = self.take(layout);
            let starts = matches!(layout.id, "SE10" | "10");
            if starts {
                if let Some(t) = transactions.last() {
                    self.close(&order, t, transactions.len());
                }
                transactions.push(Transaction {
                    records: Vec::new(),
                });
                order = Order::default();
            }
            let occurrence = transactions.len();
            let Some(t) = transactions.last_mut() else {
                self.fault(
                    XCondition::X33,
                    Where::Record {
                        occurrence: 0,
                        record: line.number,
                        position: 1,
                    },
                );
                continue;
            };
            let verdict = match application {
                Some(Application::Ae) => order.ae(layout.id),
                _ => order.se(layout.id, &line),
            };
            if let Some(condition) = verdict {
                self.fault(
                    condition,
                    Where::Record {
                        occurrence,
                        record: line.number,
                        position: 1,
                    },
                );
            }
            // Fillers and stray characters are syntax: they reject the batch.
            for (field, f) in scan(&line.text, layout) {
                match f {
                    FieldFault::Filler => self.fault(
                        XCondition::X39,
                        Where::Record {
                            occurrence,
                            record: line.number,
                            position: field.start,
                        },
                    ),
                    FieldFault::NonStandard => self.fault(
                        XCondition::X40,
                        Where::Record {
                            occurrence,
                            record: line.number,
                            position: field.start,
                        },
                    ),
                    _ => {}
                }
            }
            t.records.push(line);
        }
        if let Some(t) = transactions.last() {
            self.close(&order, t, transactions.len());
        }
        let y = self.take(&layouts::IN_Y);
        self.envelope_fields(&y, &|_, _| Some(XCondition::X32));
        for name in ["port", "filer", "application", "office"] {
            if y.get(name) != b.get(name) {
                self.fault(
                    XCondition::X32,
                    Where::Record {
                        occurrence: 0,
                        record: y.number,
                        position: y.layout.field(name).start,
                    },
                );
            }
        }
        if transactions.is_empty() {
            self.fault(XCondition::X04, here.clone());
        }
        if transactions.len() > 999 {
            self.fault(XCondition::X36, here);
        }
        Some(Block { b, y, transactions })
    }

    /// Groupings a transaction must contain (checked once it ends).
    fn close(&mut self, order: &Order, t: &Transaction, occurrence: usize) {
        let Some(head) = t.records.first() else {
            return;
        };
        let at = Where::Record {
            occurrence,
            record: head.number,
            position: 0,
        };
        match head.id() {
            // An add or replace needs line groupings, each with an HTS grouping.
            "SE10"
                if matches!(head.get("action"), "A" | "R")
                    && (order.lines == 0 || order.line_without_hts) =>
            {
                self.fault(XCondition::X37, at);
            }
            "10" if matches!(head.get("action"), "A" | "R")
                && (order.lines == 0 || order.line_without_hts) =>
            {
                self.fault(XCondition::X37, at)
            }
            _ => {}
        }
    }
}

/// The order and loop counts of one transaction (catair.md section 3, the
/// input map; section 7 for the AE, whose order is checked more loosely).
#[derive(Default)]
struct Order {
    prev: &'static str,
    action: String,
    /// SE15 in the current bill of lading grouping and the previous type.
    bills_in_group: usize,
    last_bill: String,
    groups: usize,
    se16: usize,
    se17: usize,
    se20: usize,
    header_entities: usize,
    line_entities: usize,
    addresses: usize,
    gbi: usize,
    lines: usize,
    hts: usize,
    line_without_hts: bool,
    in_lines: bool,
    ae_totals: bool,
}

impl Order {
    /// The condition an SE record raises where it stands, if any.
    fn se(&mut self, id: &'static str, line: &Line) -> Option<XCondition> {
        let prev = self.prev;
        self.prev = id;
        let header_end = [
            "SE10", "SE11", "SE13", "SE15", "SE16", "SE17", "SE20", "SE30", "SE31", "SE35", "SE36",
        ];
        let after = |ok: &[&str]| ok.contains(&prev);
        let allowed_for_action = match self.action.as_str() {
            "D" => matches!(id, "SE10" | "SE13" | "SE20"),
            "U" => matches!(
                id,
                "SE10" | "SE11" | "SE13" | "SE15" | "SE16" | "SE17" | "SE20"
            ),
            _ => true,
        };
        if !allowed_for_action {
            return Some(XCondition::X35);
        }
        let in_order = match id {
            "SE10" => {
                self.action = line.get("action").to_owned();
                prev.is_empty()
            }
            "SE11" => after(&["SE10"]),
            "SE13" => after(&["SE10", "SE11"]),
            "SE15" => {
                let t = line.get("bill_type").to_owned();
                // A grouping is [R], [T], [M], [M,H], [I,R], [I,M], [I,M,H].
                let continues = prev == "SE15"
                    && matches!(
                        (self.last_bill.as_str(), t.as_str()),
                        ("M", "H") | ("I", "R") | ("I", "M")
                    );
                if continues {
                    self.bills_in_group += 1;
                } else {
                    self.bills_in_group = 1;
                    self.groups += 1;
                    self.se16 = 0;
                    self.se17 = 0;
                }
                let ok_start = continues || t != "H";
                self.last_bill = t;
                ok_start && after(&["SE10", "SE11", "SE13", "SE15", "SE16", "SE17"])
            }
            "SE16" => {
                self.se16 += 1;
                after(&["SE15", "SE16"])
            }
            "SE17" => {
                self.se17 += 1;
                after(&["SE15", "SE16", "SE17"])
            }
            "SE20" => {
                self.se20 += 1;
                after(&["SE10", "SE11", "SE13", "SE15", "SE16", "SE17", "SE20"])
            }
            "SE30" => {
                self.header_entities += 1;
                self.addresses = 0;
                self.gbi = 0;
                after(&header_end)
            }
            "SE31" | "SE51" => {
                self.gbi += 1;
                after(&[if id == "SE31" { "SE30" } else { "SE50" }, id])
            }
            "SE35" | "SE55" => {
                self.addresses += 1;
                if id == "SE35" {
                    after(&["SE30", "SE31", "SE35"])
                } else {
                    after(&["SE50", "SE51", "SE55"])
                }
            }
            "SE36" => after(&["SE30", "SE31", "SE35"]),
            "SE56" => after(&["SE50", "SE51", "SE55"]),
            "SE40" => {
                let ok = if self.in_lines {
                    after(&["SE60", "SE61"])
                } else {
                    after(&header_end)
                };
                if self.in_lines && self.hts == 0 {
                    self.line_without_hts = true;
                }
                self.in_lines = true;
                self.lines += 1;
                self.hts = 0;
                self.line_entities = 0;
                ok
            }
            "SE41" => after(&["SE40"]),
            "SE50" => {
                self.line_entities += 1;
                self.addresses = 0;
                self.gbi = 0;
                after(&["SE40", "SE41", "SE50", "SE51", "SE55", "SE56"])
            }
            "SE60" => {
                self.hts += 1;
                after(&[
                    "SE40", "SE41", "SE50", "SE51", "SE55", "SE56", "SE60", "SE61",
                ])
            }
            "SE61" => after(&["SE60"]),
            _ => false,
        };
        if !in_order {
            return Some(XCondition::X35);
        }
        let over = self.bills_in_group > 3
            || self.groups > 999
            || self.se16 > 99
            || self.se17 > 99
            || self.se20 > 99
            || self.header_entities > 12
            || self.line_entities > 11
            || self.addresses > 3
            || self.gbi > 3
            || self.lines > 999
            || self.hts > 32;
        over.then_some(XCondition::X36)
    }

    /// The AE's order, loosely: the 10 first, no line record before a 40,
    /// nothing but totals after the first total record.
    fn ae(&mut self, id: &'static str) -> Option<XCondition> {
        let first = self.prev.is_empty();
        self.prev = id;
        let in_order = match id {
            "10" => first,
            "40" => {
                if self.in_lines && self.hts == 0 {
                    self.line_without_hts = true;
                }
                self.in_lines = true;
                self.lines += 1;
                self.hts = 0;
                !self.ae_totals
            }
            "50" => {
                self.hts += 1;
                self.in_lines && !self.ae_totals
            }
            "62" | "SE50" | "SE55" | "SE56" | "SE60" | "SE61" => self.in_lines && !self.ae_totals,
            "89" | "90" => {
                if self.in_lines && self.hts == 0 {
                    self.line_without_hts = true;
                }
                self.ae_totals = true;
                true
            }
            _ => !self.in_lines && !first,
        };
        if !in_order {
            return Some(XCondition::X35);
        }
        (self.hts > 32 || self.lines > 998).then_some(XCondition::X36)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_classes_are_judged_as_the_key_says() {
        let f = |class, need| Field {
            name: "f",
            start: 1,
            len: 4,
            class,
            need,
            codes: &[],
        };
        assert_eq!(
            judge_field("    ", &f(Class::N, Need::M)),
            Some(FieldFault::Blank)
        );
        assert_eq!(
            judge_field("    ", &f(Class::N, Need::C)),
            None,
            "an unused N field is spaces"
        );
        assert_eq!(
            judge_field("12A4", &f(Class::N, Need::M)),
            Some(FieldFault::Class)
        );
        assert_eq!(judge_field("  12", &f(Class::SN, Need::M)), None);
        assert_eq!(
            judge_field("12  ", &f(Class::SN, Need::M)),
            Some(FieldFault::Class)
        );
        assert_eq!(
            judge_field("AB-1", &f(Class::AN, Need::M)),
            Some(FieldFault::Class),
            "AN takes no punctuation"
        );
        assert_eq!(judge_field("AB-1", &f(Class::X, Need::M)), None);
        assert_eq!(
            judge_field(" AB ", &f(Class::X, Need::M)),
            Some(FieldFault::Class),
            "text is never right-justified"
        );
        assert_eq!(
            judge_field("ab  ", &f(Class::X, Need::M)),
            Some(FieldFault::NonStandard)
        );
        assert_eq!(
            judge_field("é   ", &f(Class::X, Need::M)),
            Some(FieldFault::NonStandard)
        );
        assert_eq!(
            judge_field("  x ", &f(Class::S, Need::M)),
            Some(FieldFault::NonStandard)
        );
        assert_eq!(
            judge_field("  X ", &f(Class::S, Need::M)),
            Some(FieldFault::Filler)
        );
        let date = Field {
            name: "d",
            start: 1,
            len: 6,
            class: Class::D,
            need: Need::O,
            codes: &[],
        };
        assert_eq!(judge_field("123126", &date), None);
        assert_eq!(judge_field("133126", &date), Some(FieldFault::Class));
        assert_eq!(judge_field("      ", &date), None);
        let coded = Field {
            name: "c",
            start: 1,
            len: 1,
            class: Class::N,
            need: Need::M,
            codes: &["8", "9"],
        };
        assert_eq!(judge_field("0", &coded), Some(FieldFault::Code));
    }
}
