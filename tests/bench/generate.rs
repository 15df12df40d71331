//! Synthetic carrier manifests for the benchmark: N lines over three carrier
//! shapes, realistic enough that every rule has work to do.
//!
//! - `DHLX_*.csv`: the canonical CSV (comma, ISO dates), 50% of lines;
//! - `PCLX_*.txt`: semicolon CSV, other headers, MM/DD/YYYY dates, 30%;
//! - `UPSN_*.ndjson`: NDJSON with its own keys and JSON numbers, 20%.
//!
//! Shipments have 1-4 lines; consignees are drawn so that some receive several
//! house bills a day (L001/L002); arrival dates span the 2025 regime changes
//! (CN/HK suspension on 05-02, global suspension on 08-29). About 3% of lines
//! carry an injected fault (bad HTS, country, value, date, port or currency,
//! an empty field, a vague description, a bad ZIP, a malformed row, a copied
//! row, a conflicting line, a house bill re-sent in a later file).
//!
//! Deterministic: the same N and seed give the same bytes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// SplitMix64: small, fast and good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// true with probability `per_mille`/1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

const FIRST: &[&str] = &[
    "Maria", "James", "Wei", "Aisha", "John", "Sofia", "Liam", "Chen", "Olivia", "Noah", "Emma",
    "Mateo", "Yuki", "Priya", "Lucas", "Amelia", "Jose", "Fatima", "Ethan", "Zoe", "Hiro", "Ana",
    "David", "Grace",
];
const LAST: &[&str] = &[
    "Garcia", "Smith", "Zhang", "Khan", "Johnson", "Rossi", "Brown", "Wang", "Miller", "Davis",
    "Lopez", "Tanaka", "Patel", "Martin", "Wilson", "Nguyen", "Müller", "Kim", "Silva", "O'Brien",
];
const STREETS: &[&str] = &[
    "Main Street",
    "Oak Avenue",
    "Maple Road",
    "Sunset Boulevard",
    "Lake Shore Drive",
    "Cedar Lane",
    "Park Avenue",
    "Elm Street",
    "Pine Road",
    "Washington Street",
    "Hill Drive",
    "River Road",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("Brooklyn", "NY", "112"),
    ("Chicago", "IL", "606"),
    ("Houston", "TX", "770"),
    ("Los Angeles", "CA", "900"),
    ("Miami", "FL", "331"),
    ("Seattle", "WA", "981"),
    ("Atlanta", "GA", "303"),
    ("Denver", "CO", "802"),
    ("Boston", "MA", "021"),
    ("Phoenix", "AZ", "850"),
];
/// (HTS, description, origin, typical value, typical weight kg)
const GOODS: &[(&str, &str, &str, u32, u32)] = &[
    (
        "6109.10.0012",
        "Women's cotton knit T-shirt",
        "CN",
        1800,
        300,
    ),
    ("6110.20.2079", "Cotton pullover sweater", "VN", 3900, 500),
    ("6204.62.4011", "Women's denim trousers", "BD", 4500, 700),
    ("6403.99.9065", "Leather ankle boots", "IT", 12900, 1200),
    ("8518.30.2000", "Wireless earbuds", "CN", 4999, 100),
    ("8517.62.0090", "WiFi mesh router", "TW", 8999, 600),
    ("8471.30.0100", "Laptop computer 14 inch", "CN", 89900, 1800),
    (
        "9503.00.0073",
        "Plastic building block toy set",
        "CN",
        2999,
        900,
    ),
    ("3304.99.5000", "Facial moisturizing cream", "KR", 2500, 200),
    ("4202.92.3131", "Polyester travel backpack", "VN", 3500, 800),
    ("7113.19.5000", "Gold plated silver ring", "IN", 6500, 50),
    ("9102.11.6510", "Quartz wrist watch", "HK", 15000, 150),
    ("2106.90.9998", "Vitamin C gummies", "US", 1999, 300),
    ("6307.90.9891", "Reusable face masks", "CN", 899, 100),
    ("8504.40.9580", "USB-C phone charger", "CN", 1599, 150),
    ("9404.90.2000", "Memory foam pillow", "TR", 3200, 1100),
    ("2204.21.5000", "Red wine 750ml", "FR", 2400, 1300),
    ("6506.99.6030", "Straw sun hat", "MX", 1500, 200),
];
const SHIPPERS: &[(&str, &str)] = &[
    ("Shenzhen Bright Trading Co", "CN"),
    ("Yiwu Global Goods Ltd", "CN"),
    ("Hong Kong Express Fulfilment", "HK"),
    ("Saigon Apparel JSC", "VN"),
    ("Seoul Beauty Co", "KR"),
    ("Milano Moda Srl", "IT"),
    ("Jaipur Crafts Pvt Ltd", "IN"),
    ("Istanbul Home Textiles", "TR"),
    ("Taipei Network Inc", "TW"),
    ("Dhaka Denim Ltd", "BD"),
];
const PORTS: &[&str] = &[
    "4701", "2720", "3901", "5301", "1704", "5206", "3029", "0401",
];
const DATES: &[(u32, u32)] = &[
    (4, 29),
    (4, 30),
    (5, 1),
    (5, 2),
    (5, 5),
    (6, 16),
    (8, 27),
    (8, 28),
    (8, 29),
    (9, 2),
];

/// One shipment line, canonical values.
struct Line {
    carrier: &'static str,
    master: String,
    house: String,
    line_no: u32,
    month: u32,
    day: u32,
    port: &'static str,
    shipper: &'static str,
    shipper_country: &'static str,
    name: String,
    address: String,
    city: &'static str,
    state: &'static str,
    zip: String,
    description: String,
    hts: String,
    origin: String,
    quantity: u32,
    value: String,
    currency: &'static str,
    weight: String,
    seller: String,
}

/// Which manifest layout a file uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Canonical,
    Semicolon,
    Ndjson,
}

impl Shape {
    fn carrier(self) -> &'static str {
        match self {
            Shape::Canonical => "DHLX",
            Shape::Semicolon => "PCLX",
            Shape::Ndjson => "UPSN",
        }
    }
}

fn cents(c: u64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

/// `1234.50` as `$1,234.50` (how many carriers write money).
fn dollars_with_commas(value: &str) -> String {
    let (int, frac) = value.split_once('.').unwrap_or((value, "00"));
    let mut out = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("${out}.{frac}")
}

fn grams(g: u64) -> String {
    format!("{}.{:03}", g / 1000, g % 1000)
}

struct Generator {
    rng: Rng,
    consignees: u64,
    serial: u64,
}

impl Generator {
    fn consignee(&mut self) -> (String, String, &'static str, &'static str, String) {
        // Squaring skews the draw: a few consignees get many parcels.
        let r = self.rng.below(1 << 20);
        let id = (((r * r) >> 20) * self.consignees) >> 20;
        let mut c = Rng::new(id ^ 0xC0FFEE);
        let name = format!("{} {}", c.pick(FIRST), c.pick(LAST));
        let address = format!("{} {}", 1 + c.below(9800), c.pick(STREETS));
        let (city, state, zip3) = *c.pick(CITIES);
        let zip = format!("{zip3}{:02}", c.below(100));
        // Spelling varies between parcels of one consignee: norm() must see through it.
        let variant = self.rng.below(4);
        let (name, address) = match variant {
            0 => (
                name.to_uppercase(),
                address.replace("Street", "St.").replace("Avenue", "Ave"),
            ),
            1 => (name, address.replace("Road", "Rd")),
            _ => (name, address),
        };
        (name, address, city, state, zip)
    }

    fn shipment(&mut self, shape: Shape) -> Vec<Line> {
        self.serial += 1;
        let house = format!("{}{:010}", &shape.carrier()[..2], self.serial);
        let master = format!(
            "{:03}-{:08}",
            100 + self.rng.below(900),
            self.rng.below(100_000_000)
        );
        let (month, day) = *self.rng.pick(DATES);
        let port = *self.rng.pick(PORTS);
        let (shipper, shipper_country) = *self.rng.pick(SHIPPERS);
        let (name, address, city, state, zip) = self.consignee();
        let n = 1 + self.rng.below(4) as u32 * self.rng.below(2) as u32;
        let currency = match self.rng.below(20) {
            0 => "EUR",
            1 => "GBP",
            2 => "CAD",
            _ => "USD",
        };
        (1..=n.max(1))
            .map(|line_no| {
                let (hts, desc, origin, value, weight) = *self.rng.pick(GOODS);
                let quantity = 1 + self.rng.below(3) as u32;
                let value =
                    u64::from(value) * u64::from(quantity) * (50 + self.rng.below(100)) / 100;
                let weight = u64::from(weight) * u64::from(quantity);
                Line {
                    carrier: shape.carrier(),
                    master: master.clone(),
                    house: house.clone(),
                    line_no,
                    month,
                    day,
                    port,
                    shipper,
                    shipper_country,
                    name: name.clone(),
                    address: address.clone(),
                    city,
                    state,
                    zip: zip.clone(),
                    description: desc.to_owned(),
                    hts: hts.to_owned(),
                    // Mostly made where shipped from; transshipment (R002) is the exception.
                    origin: if self.rng.chance(850) {
                        shipper_country.to_owned()
                    } else {
                        origin.to_owned()
                    },
                    quantity,
                    value: cents(value.max(1)),
                    currency,
                    weight: grams(weight.max(1)),
                    seller: format!("Seller{:04}", self.rng.below(5000)),
                }
            })
            .collect()
    }

    /// Injects at most one fault into a line (about 3% of lines).
    fn fault(&mut self, l: &mut Line) -> Fault {
        if !self.rng.chance(30) {
            return Fault::None;
        }
        match self.rng.below(14) {
            0 => l.hts = l.hts[..7].to_owned(),
            1 => l.origin = "XX".into(),
            2 => l.value = "N/A".into(),
            3 => l.value = "-5.00".into(),
            4 => l.port = "0000",
            5 => l.currency = "ZZZ",
            6 => l.name = String::new(),
            7 => l.description = "gift".into(),
            8 => l.zip = l.zip[..4].to_owned(),
            9 => l.day = 32,
            10 => return Fault::Malformed,
            11 => return Fault::Copy,
            12 => return Fault::Conflict,
            _ => l.hts = l.hts.replace('.', " "),
        }
        Fault::None
    }
}

enum Fault {
    None,
    Malformed,
    Copy,
    Conflict,
}

trait Sink {
    fn line(&mut self, l: &Line) -> std::io::Result<()>;
    fn malformed(&mut self) -> std::io::Result<()>;
}

struct CanonicalCsv(BufWriter<File>);
struct SemicolonCsv(BufWriter<File>);
struct Ndjson(BufWriter<File>);

fn csv_field(s: &str, delimiter: char) -> std::borrow::Cow<'_, str> {
    if s.contains(delimiter) || s.contains('"') || s.contains('\n') {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

impl Sink for CanonicalCsv {
    fn line(&mut self, l: &Line) -> std::io::Result<()> {
        // Values of $1,000 and up come as "$1,234.50", quoted.
        let value = if l.value.len() > 6 && l.value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        {
            format!("\"{}\"", dollars_with_commas(&l.value))
        } else {
            l.value.clone()
        };
        writeln!(
            self.0,
            "{},{},{},{},2025-{:02}-{:02},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            l.carrier,
            l.master,
            l.house,
            l.line_no,
            l.month,
            l.day,
            l.port,
            csv_field(l.shipper, ','),
            l.shipper_country,
            csv_field(&l.name, ','),
            csv_field(&l.address, ','),
            l.city,
            l.state,
            l.zip,
            csv_field(&l.description, ','),
            l.hts,
            l.origin,
            l.quantity,
            value,
            l.currency,
            l.weight,
            l.seller
        )
    }
    fn malformed(&mut self) -> std::io::Result<()> {
        writeln!(self.0, "DHLX,broken,row,with,too,few,fields")
    }
}

impl Sink for SemicolonCsv {
    fn line(&mut self, l: &Line) -> std::io::Result<()> {
        writeln!(
            self.0,
            "{};{};{};{:02}/{:02}/2025;{};{};{};{};{};{};{};{};{};{};{};{};${};{};{};{}",
            l.house,
            l.master,
            l.line_no,
            l.month,
            l.day,
            l.port,
            csv_field(l.shipper, ';'),
            l.shipper_country,
            csv_field(&l.name, ';'),
            csv_field(&l.address, ';'),
            l.city,
            l.state,
            l.zip,
            csv_field(&l.description, ';'),
            l.hts,
            l.origin.to_lowercase(),
            l.quantity,
            l.value,
            l.currency,
            l.weight,
            l.seller
        )
    }
    fn malformed(&mut self) -> std::io::Result<()> {
        // A wrong field count (an unclosed quote would make DuckDB drop the rest
        // of the file, and the baseline would do less work than s321d).
        writeln!(self.0, "PC0;too;few;fields")
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Sink for Ndjson {
    fn line(&mut self, l: &Line) -> std::io::Result<()> {
        let value = if l.value.parse::<f64>().is_ok() {
            l.value.clone()
        } else {
            json_str(&l.value)
        };
        writeln!(
            self.0,
            "{{\"tracking\":{},\"mawb\":{},\"item\":{},\"eta\":\"2025-{:02}-{:02}\",\"port\":{},\"shipper\":{},\"shipper_country\":{},\"recipient\":{},\"street\":{},\"city\":{},\"state\":{},\"postal\":{},\"goods\":{},\"hs\":{},\"origin\":{},\"qty\":{},\"value\":{},\"currency\":{},\"kg\":{},\"seller\":{}}}",
            json_str(&l.house),
            json_str(&l.master),
            l.line_no,
            l.month,
            l.day,
            json_str(l.port),
            json_str(l.shipper),
            json_str(l.shipper_country),
            json_str(&l.name),
            json_str(&l.address),
            json_str(l.city),
            json_str(l.state),
            json_str(&l.zip),
            json_str(&l.description),
            json_str(&l.hts),
            json_str(&l.origin),
            l.quantity,
            value,
            json_str(l.currency),
            l.weight,
            json_str(&l.seller)
        )
    }
    fn malformed(&mut self) -> std::io::Result<()> {
        writeln!(self.0, "{{\"tracking\": \"UP-broken\", ")
    }
}

pub const CANONICAL_HEADER: &str = "carrier,master_bill,house_bill,line_no,arrival_date,port_of_entry,shipper_name,shipper_country,consignee_name,consignee_address,consignee_city,consignee_state,consignee_zip,description,hts_code,country_of_origin,quantity,declared_value,currency,weight_kg,seller_name";
pub const SEMICOLON_HEADER: &str = "HAWB;MAWB;Item;ETA;POE;Shipper;Shipper Ctry;Consignee Name;Consignee Addr;City;State;ZIP;Goods Description;HS Code;Origin;Qty;Value;Curr;Gross Wt;Seller";

/// The job files matching the generated shapes.
pub const JOBS: &[(&str, &str)] = &[
    (
        "dhlx.toml",
        "name = \"bench-dhlx\"\npattern = \"DHLX_*.csv\"\n[format]\nkind = \"csv\"\n",
    ),
    (
        "pclx.toml",
        "name = \"bench-pclx\"\npattern = \"PCLX_*.txt\"\n[format]\nkind = \"csv\"\ndelimiter = \";\"\ndate_format = \"%m/%d/%Y\"\n\
         [format.columns]\nhouse_bill = \"HAWB\"\nmaster_bill = \"MAWB\"\nline_no = \"Item\"\narrival_date = \"ETA\"\nport_of_entry = \"POE\"\n\
         shipper_name = \"Shipper\"\nshipper_country = \"Shipper Ctry\"\nconsignee_name = \"Consignee Name\"\nconsignee_address = \"Consignee Addr\"\n\
         consignee_city = \"City\"\nconsignee_state = \"State\"\nconsignee_zip = \"ZIP\"\ndescription = \"Goods Description\"\nhts_code = \"HS Code\"\n\
         country_of_origin = \"Origin\"\nquantity = \"Qty\"\ndeclared_value = \"Value\"\ncurrency = \"Curr\"\nweight_kg = \"Gross Wt\"\nseller_name = \"Seller\"\n\
         [format.constants]\ncarrier = \"PCLX\"\n",
    ),
    (
        "upsn.toml",
        "name = \"bench-upsn\"\npattern = \"UPSN_*.ndjson\"\n[format]\nkind = \"ndjson\"\n[format.columns]\nhouse_bill = \"tracking\"\nmaster_bill = \"mawb\"\n\
         line_no = \"item\"\narrival_date = \"eta\"\nport_of_entry = \"port\"\nshipper_name = \"shipper\"\nconsignee_name = \"recipient\"\n\
         consignee_address = \"street\"\nconsignee_city = \"city\"\nconsignee_state = \"state\"\nconsignee_zip = \"postal\"\ndescription = \"goods\"\n\
         hts_code = \"hs\"\ncountry_of_origin = \"origin\"\nquantity = \"qty\"\ndeclared_value = \"value\"\nweight_kg = \"kg\"\nseller_name = \"seller\"\n\
         [format.constants]\ncarrier = \"UPSN\"\n",
    ),
];

/// Writes about `lines` lines of manifests into `dir` (files of at most
/// `per_file` lines) and the job files into `dir/jobs`. Returns the manifest
/// paths in run order.
pub fn generate(dir: &Path, lines: u64, per_file: u64, seed: u64) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir.join("jobs"))?;
    for (name, text) in JOBS {
        std::fs::write(dir.join("jobs").join(name), text)?;
    }
    let mut g = Generator {
        rng: Rng::new(seed),
        consignees: (lines / 3).max(10),
        serial: 0,
    };
    let mut files = Vec::new();
    for (shape, share) in [
        (Shape::Canonical, 50),
        (Shape::Semicolon, 30),
        (Shape::Ndjson, 20),
    ] {
        let target = lines * share / 100;
        let mut written = 0u64;
        let mut part = 0;
        let mut resend: Vec<Line> = Vec::new();
        while written < target {
            part += 1;
            let (name, header) = match shape {
                Shape::Canonical => (format!("DHLX_{part:03}.csv"), Some(CANONICAL_HEADER)),
                Shape::Semicolon => (format!("PCLX_{part:03}.txt"), Some(SEMICOLON_HEADER)),
                Shape::Ndjson => (format!("UPSN_{part:03}.ndjson"), None),
            };
            let path = dir.join(&name);
            let mut out = BufWriter::with_capacity(1 << 20, File::create(&path)?);
            if let Some(h) = header {
                writeln!(out, "{h}")?;
            }
            let mut sink: Box<dyn Sink> = match shape {
                Shape::Canonical => Box::new(CanonicalCsv(out)),
                Shape::Semicolon => Box::new(SemicolonCsv(out)),
                Shape::Ndjson => Box::new(Ndjson(out)),
            };
            // House bills re-sent from the previous file (D003).
            for l in resend.drain(..) {
                sink.line(&l)?;
                written += 1;
            }
            let mut in_file = 0;
            while in_file < per_file && written < target {
                let lines = g.shipment(shape);
                for mut l in lines {
                    match g.fault(&mut l) {
                        Fault::Malformed => sink.malformed()?,
                        Fault::Copy => sink.line(&l)?,
                        Fault::Conflict => {
                            let mut other = Line {
                                value: "1.00".into(),
                                ..clone_line(&l)
                            };
                            other.line_no = l.line_no;
                            sink.line(&other)?;
                        }
                        Fault::None => {}
                    }
                    sink.line(&l)?;
                    if g.rng.chance(2) {
                        resend.push(clone_line(&l));
                    }
                    written += 1;
                    in_file += 1;
                }
            }
            drop(sink);
            files.push(path);
        }
    }
    Ok(files)
}

/// Writes one canonical-shape CSV of about `lines` lines (the daemon benchmark's input).
pub fn generate_canonical(path: &Path, lines: u64, seed: u64) -> std::io::Result<()> {
    let mut g = Generator {
        rng: Rng::new(seed),
        consignees: (lines / 3).max(10),
        serial: 0,
    };
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(out, "{CANONICAL_HEADER}")?;
    let mut sink = CanonicalCsv(out);
    let mut written = 0;
    while written < lines {
        for mut l in g.shipment(Shape::Canonical) {
            if let Fault::Malformed = g.fault(&mut l) {
                sink.malformed()?;
            }
            sink.line(&l)?;
            written += 1;
        }
    }
    sink.0.flush()
}

fn clone_line(l: &Line) -> Line {
    Line {
        carrier: l.carrier,
        master: l.master.clone(),
        house: l.house.clone(),
        line_no: l.line_no,
        month: l.month,
        day: l.day,
        port: l.port,
        shipper: l.shipper,
        shipper_country: l.shipper_country,
        name: l.name.clone(),
        address: l.address.clone(),
        city: l.city,
        state: l.state,
        zip: l.zip.clone(),
        description: l.description.clone(),
        hts: l.hts.clone(),
        origin: l.origin.clone(),
        quantity: l.quantity,
        value: l.value.clone(),
        currency: l.currency,
        weight: l.weight.clone(),
        seller: l.seller.clone(),
    }
}
