//! The simulator's answers in the published layouts ([`super::layouts`]):
//! the output envelope around SX, AX and SO batches, the X0/X1 batch reject
//! with ACE's generated B/Y/Z, SE90 and E1 conditions, and the SO10, SO40,
//! SO50 and SO60 records of a status notification.

use super::layouts::{self, Out};
use super::read::{Batch, Line, Rejected, Where};

/// One block of an answer: the input B it answers and its records.
pub struct BlockAnswer<'a> {
    pub b: &'a Line,
    pub records: Vec<String>,
}

/// The output A: the input A without its password, with the response id.
fn out_a(a: Option<&Line>, response: &str) -> String {
    let mut out = Out::new(&layouts::OUT_A);
    if let Some(a) = a {
        out.set("site", a.get("site"))
            .set("sender", a.get("sender"))
            .set("date", a.get("date"))
            .set("office", a.get("office"));
        out.set("user_data", a.get("user_data"));
    }
    out.set("response", response);
    out.line()
}

fn out_z(z: &Line) -> String {
    layouts::Out::from_line(&layouts::OUT_Z, &z.text).line()
}

/// An answer batch: output A, per block an output B, its records and an
/// output Y with the image count, then the output Z.
pub fn envelope(batch: &Batch, blocks: &[BlockAnswer]) -> String {
    let response = batch.application.response();
    let mut lines = vec![out_a(Some(&batch.a), response)];
    for block in blocks {
        let b = block.b;
        let mut out_b = Out::new(&layouts::OUT_B);
        out_b
            .set("port", b.get("port"))
            .set("filer", b.get("filer"))
            .set("response", response)
            .set("office", b.get("office"));
        out_b
            .set("preparer_port", b.get("preparer_port"))
            .set("preparer_filer", b.get("preparer_filer"));
        out_b
            .set("preparer_office", b.get("preparer_office"))
            .set("preparer", b.get("preparer"))
            .set("user_data", b.get("user_data"));
        lines.push(out_b.line());
        lines.extend(block.records.iter().cloned());
        let mut y = Out::new(&layouts::OUT_Y);
        y.set("port", b.get("port"))
            .set("filer", b.get("filer"))
            .set("response", response)
            .set("office", b.get("office"));
        y.set("count", &block.records.len().to_string());
        lines.push(y.line());
    }
    lines.push(out_z(&batch.z));
    lines.join("\n") + "\n"
}

/// Places `text` at 1-based position `at` of a 55-character X0 reference.
fn place(buf: &mut [u8; 55], at: usize, text: &str) {
    for (i, b) in text.bytes().enumerate() {
        if let Some(slot) = buf.get_mut(at - 26 + i) {
            *slot = b;
        }
    }
}

/// The X0 reference of a fault (B&B-29..37), if it has a place.
fn x0(at: &Where) -> Option<String> {
    let mut text = [b' '; 55];
    let (kind, occurrence) = match at {
        Where::Batch => return None,
        Where::Block { occurrence, b } => {
            let field = |name: &str| layouts::raw(b, layouts::IN_B.field(name)).to_owned();
            place(&mut text, 26, &field("port"));
            place(&mut text, 31, &field("filer"));
            place(&mut text, 35, &field("office"));
            place(&mut text, 38, &field("application"));
            place(&mut text, 41, &field("user_data"));
            place(&mut text, 63, &field("preparer_port"));
            place(&mut text, 67, &field("preparer_filer"));
            place(&mut text, 70, &field("preparer_office"));
            place(&mut text, 72, &field("preparer"));
            ("BLOCK", *occurrence)
        }
        Where::Record {
            occurrence,
            record,
            position,
        } => {
            place(&mut text, 26, &format!("{record:07}"));
            place(&mut text, 34, &format!("{:02}", position.min(&99)));
            ("TRNACT", *occurrence)
        }
    };
    let mut out = Out::new(&layouts::X0);
    out.set("reference", kind)
        .set("occurrence", &occurrence.to_string())
        .set("label", "REF ID:");
    let mut line = out.line().into_bytes();
    line[25..80].copy_from_slice(&text);
    Some(String::from_utf8_lossy(&line).into_owned())
}

fn x1(disposition: &str, condition: &str, narrative: &str) -> String {
    let mut out = Out::new(&layouts::X1);
    out.set("disposition", disposition)
        .set("severity", "F")
        .set("condition", condition)
        .set("narrative", narrative);
    out.line()
}

/// The answer to a rejected batch (B&B-29..37): output A with spaces for
/// the response id, ACE's B, an X0 and an X1 per fault, the final
/// `X1RF999 BATCH REJECTED`, ACE's Y with the image count, ACE's Z.
pub fn rejected(rej: &Rejected) -> String {
    let mut body = Vec::new();
    for f in &rej.faults {
        if let Some(reference) = x0(&f.at) {
            body.push(reference);
        }
        body.push(x1(" ", f.condition.code(), f.condition.narrative()));
    }
    body.push(x1("R", "999", "BATCH REJECTED"));
    let mut lines = vec![out_a(rej.a.as_ref(), ""), format!("B{}B", " ".repeat(78))];
    let count = body.len();
    lines.extend(body);
    lines.push(format!("Y{}{count:05}{}Y", " ".repeat(11), " ".repeat(62)));
    lines.push(format!("Z{}Z", " ".repeat(78)));
    lines.join("\n") + "\n"
}

/// An SE90 record.
pub fn se90(message_type: &str, condition: &str, narrative: &str) -> String {
    let mut out = Out::new(&layouts::SE90);
    out.set("message_type", message_type)
        .set("condition", condition)
        .set("narrative", narrative);
    out.line()
}

/// An AX E1 condition or disposition (positions from the ES transcription:
/// UNVERIFIED). `disposition` is space for a condition, `A` accepted, `R`
/// rejected.
pub fn e1(
    disposition: &str,
    severity: &str,
    condition: &str,
    reason: &str,
    narrative: &str,
    filer: &str,
    entry: &str,
) -> String {
    let mut out = Out::new(&layouts::E1);
    out.set("disposition", disposition)
        .set("severity", severity)
        .set("condition", condition)
        .set("reason", reason);
    out.set("narrative", narrative);
    out.set("filer", filer).set("entry_number", entry);
    out.line()
}

/// Where a notification goes: the receiver's site and id (from its batch A)
/// and the block's port and filer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub site: String,
    pub sender: String,
    pub port: String,
    pub filer: String,
}

/// One entry's status notification.
pub struct Notice<'a> {
    pub route: &'a Route,
    pub filer: &'a str,
    /// The 8 characters of SE10 11-18.
    pub entry: &'a str,
    pub entry_type: &'a str,
    pub port: &'a str,
    pub ior: &'a str,
    pub arrival: &'a str,
    /// (bill type, issuer, bill number) as filed.
    pub bills: Vec<(String, String, String)>,
    pub code: &'a str,
    pub narrative: &'a str,
}

/// An SO batch (catair.md section 5): output envelope with application id
/// SO, a block per receiver port and filer; per entry SO10, an SO40 and its
/// SO50 per bill, and the SO60 disposition. `now` is MMDDYY and HHMM.
pub fn so_batch(notices: &[Notice], date: &str, time: &str) -> String {
    let mut lines = Vec::new();
    let mut routes: Vec<&Route> = notices.iter().map(|n| n.route).collect();
    routes.sort();
    routes.dedup();
    let mut by_site: Vec<(&str, &str)> = routes
        .iter()
        .map(|r| (r.site.as_str(), r.sender.as_str()))
        .collect();
    by_site.dedup();
    for (site, sender) in by_site {
        let mut a = Out::new(&layouts::OUT_A);
        a.set("site", site)
            .set("sender", sender)
            .set("date", date)
            .set("response", "SO");
        lines.push(a.line());
        for route in routes
            .iter()
            .filter(|r| r.site == site && r.sender == sender)
        {
            let mut b = Out::new(&layouts::OUT_B);
            b.set("port", &route.port)
                .set("filer", &route.filer)
                .set("response", "SO");
            lines.push(b.line());
            let mut count = 0;
            for n in notices.iter().filter(|n| n.route == *route) {
                let mut so10 = Out::new(&layouts::SO10);
                so10.set("port", n.port)
                    .set("filer", n.filer)
                    .set("entry_number", n.entry)
                    .set("entry_type", n.entry_type);
                so10.set("ior_number", n.ior).set("arrival", n.arrival);
                let mut records = vec![so10.line()];
                for (kind, issuer, bill) in &n.bills {
                    let mut so40 = Out::new(&layouts::SO40);
                    so40.set("bill_type", kind)
                        .set("issuer", issuer)
                        .set("bill", bill);
                    let mut so50 = Out::new(&layouts::SO50);
                    so50.set("date", date)
                        .set("time", time)
                        .set("code", "95")
                        .set("narrative", "BILL ARRIVED")
                        .set("split", "N");
                    records.push(so40.line());
                    records.push(so50.line());
                }
                let mut so60 = Out::new(&layouts::SO60);
                so60.set("date", date)
                    .set("time", time)
                    .set("code", n.code)
                    .set("narrative", n.narrative);
                if matches!(n.code, "98" | "22") {
                    // Release origin 03: actual arrival.
                    so60.set("release_date", date).set("release_origin", "03");
                }
                records.push(so60.line());
                count += records.len();
                lines.extend(records);
            }
            let mut y = Out::new(&layouts::OUT_Y);
            y.set("port", &route.port)
                .set("filer", &route.filer)
                .set("response", "SO")
                .set("count", &count.to_string());
            lines.push(y.line());
        }
        let mut z = Out::new(&layouts::OUT_Z);
        z.set("site", site).set("sender", sender).set("date", date);
        lines.push(z.line());
    }
    lines.join("\n") + "\n"
}
