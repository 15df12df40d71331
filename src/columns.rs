//! Column names: the canonical manifest columns of contract section 1, and the
//! names of the columns the engine derives. Every polars column name is a const
//! here; nothing else spells them.

/// Identifier fields (contract section 1): the shipment key, the bills and
/// conveyance, the importer, and the fields that make the consignee key. A
/// control character in one is V011, and it is escaped before any output.
pub const IDENTIFIERS: [&str; 10] = [
    CARRIER,
    MASTER_BILL,
    HOUSE_BILL,
    LINE_NO,
    PORT_OF_ENTRY,
    CONVEYANCE,
    IOR_NUMBER,
    CONSIGNEE_NAME,
    CONSIGNEE_ADDRESS,
    CONSIGNEE_ZIP,
];

/// How many canonical columns there are (v1's 21 plus v2's optional five).
pub const N_CANONICAL: usize = 26;

/// Canonical manifest columns, in contract order (v2's optional columns last).
pub const CANONICAL: [&str; N_CANONICAL] = [
    CARRIER,
    MASTER_BILL,
    HOUSE_BILL,
    LINE_NO,
    ARRIVAL_DATE,
    PORT_OF_ENTRY,
    SHIPPER_NAME,
    SHIPPER_COUNTRY,
    CONSIGNEE_NAME,
    CONSIGNEE_ADDRESS,
    CONSIGNEE_CITY,
    CONSIGNEE_STATE,
    CONSIGNEE_ZIP,
    DESCRIPTION,
    HTS_CODE,
    COUNTRY_OF_ORIGIN,
    QUANTITY,
    DECLARED_VALUE,
    CURRENCY,
    WEIGHT_KG,
    SELLER_NAME,
    CONVEYANCE,
    TRANSPORT_MODE,
    IOR_NUMBER,
    SPECIAL_PROGRAM,
    CHECKOUT_DUTY_USD,
];

pub const CARRIER: &str = "carrier";
pub const MASTER_BILL: &str = "master_bill";
pub const HOUSE_BILL: &str = "house_bill";
pub const LINE_NO: &str = "line_no";
pub const ARRIVAL_DATE: &str = "arrival_date";
pub const PORT_OF_ENTRY: &str = "port_of_entry";
pub const SHIPPER_NAME: &str = "shipper_name";
pub const SHIPPER_COUNTRY: &str = "shipper_country";
pub const CONSIGNEE_NAME: &str = "consignee_name";
pub const CONSIGNEE_ADDRESS: &str = "consignee_address";
pub const CONSIGNEE_CITY: &str = "consignee_city";
pub const CONSIGNEE_STATE: &str = "consignee_state";
pub const CONSIGNEE_ZIP: &str = "consignee_zip";
pub const DESCRIPTION: &str = "description";
pub const HTS_CODE: &str = "hts_code";
pub const COUNTRY_OF_ORIGIN: &str = "country_of_origin";
pub const QUANTITY: &str = "quantity";
pub const DECLARED_VALUE: &str = "declared_value";
pub const CURRENCY: &str = "currency";
pub const WEIGHT_KG: &str = "weight_kg";
pub const SELLER_NAME: &str = "seller_name";
// v2 optional columns (contract section 1): absent means empty.
pub const CONVEYANCE: &str = "conveyance";
pub const TRANSPORT_MODE: &str = "transport_mode";
pub const IOR_NUMBER: &str = "ior_number";
pub const SPECIAL_PROGRAM: &str = "special_program";
pub const CHECKOUT_DUTY_USD: &str = "checkout_duty_usd";

/// V001's required fields, in contract order.
pub const REQUIRED: [&str; 9] = [
    HOUSE_BILL,
    CONSIGNEE_NAME,
    CONSIGNEE_ADDRESS,
    DESCRIPTION,
    DECLARED_VALUE,
    COUNTRY_OF_ORIGIN,
    HTS_CODE,
    ARRIVAL_DATE,
    PORT_OF_ENTRY,
];

/// Where `line_no` is in [`CANONICAL`].
pub const LINE_NO_AT: usize = 3;

/// A line number in its canonical form, as (sign, digits): `line_no` is an
/// integer (contract section 1), so when the trimmed text is one
/// (`[+-]?[0-9]+`) it loses its `+` and leading zeros (`01`, `+1` and ` 1 ` are
/// all `("", "1")`, `-0` is `("", "0")`); any other text is itself, trimmed.
/// Two parts so that callers on the hot path need not allocate.
pub fn line_no_parts(raw: &str) -> (&'static str, &str) {
    let t = raw.trim();
    let (negative, magnitude) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if magnitude.is_empty() || !magnitude.bytes().all(|b| b.is_ascii_digit()) {
        return ("", t);
    }
    let digits = magnitude.trim_start_matches('0');
    match (digits.is_empty(), negative) {
        (true, _) => ("", "0"),
        (false, true) => ("-", digits),
        (false, false) => ("", digits),
    }
}

/// Whether `name` is a canonical column.
pub fn is_canonical(name: &str) -> bool {
    CANONICAL.contains(&name)
}

// Columns every chunk carries besides the canonical ones.
/// 1-based data row in its file (`u32`).
pub const RECORD: &str = "record";
/// Index of the file in the run (`u32`).
pub const FILE: &str = "file";
/// 128-bit hash of every canonical value, as two `u64` halves (D001, D002).
pub const ROW_HASH_HI: &str = "row_hash_hi";
pub const ROW_HASH_LO: &str = "row_hash_lo";
/// The arrival date from a typed column (a Parquet `Date` or `Datetime`), as
/// `Date`; null where the file gave text, which is parsed with the job's
/// `date_format` instead.
pub const TYPED_DATE: &str = "typed_arrival_date";

// Derived columns (prefixed `_` so they never clash with carrier columns).
pub const K_CARRIER: &str = "_carrier";
pub const K_HOUSE_BILL: &str = "_house_bill";
pub const K_LINE: &str = "_line";
/// The line number as a key: [`line_no_parts`] joined (`01` and `1` are one line).
pub const N_LINE: &str = "_line_key";
pub const N_HTS: &str = "_hts";
pub const N_ORIGIN: &str = "_origin";
pub const N_SHIPPER_COUNTRY: &str = "_shipper_country";
pub const N_CURRENCY: &str = "_currency";
pub const N_PORT: &str = "_port";
pub const N_DESCRIPTION: &str = "_description";
pub const N_VALUE: &str = "_value";
pub const USD: &str = "_usd";
pub const DATE: &str = "_date";
pub const REGIME: &str = "_regime";
pub const CONSIGNEE_KEY: &str = "_consignee_key";
/// Shipment key hash halves (see `engine::kernels::shipment_hash`).
pub const SHIP_HI: &str = "_ship_hi";
pub const SHIP_LO: &str = "_ship_lo";
pub const LINE_SIGNATURE: &str = "_line_signature";
pub const ERRORS: &str = "_errors";
pub const E001: &str = "_e001";
pub const E003: &str = "_e003";
pub const D001: &str = "_d001";
pub const E004: &str = "_e004";
/// The conveyance that groups entries: conveyance, else master bill (trimmed).
pub const N_CONVEYANCE: &str = "_conveyance";
pub const N_IOR: &str = "_ior";
/// `transport_mode`, lower-case, empty read as `air`.
pub const N_MODE: &str = "_mode";
/// `checkout_duty_usd` as fixed point (null when empty or not a number).
pub const N_CHECKOUT: &str = "_checkout";
pub const ADCVD_MATCH: &str = "_adcvd_match";
pub const PGA_MATCH: &str = "_pga_match";
pub const RESTRICTED_MATCH: &str = "_restricted_match";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_compare_as_integers() {
        assert_eq!(CANONICAL[LINE_NO_AT], LINE_NO);
        for (raw, key) in [
            ("1", "1"),
            ("01", "1"),
            (" +001 ", "1"),
            ("0", "0"),
            ("-0", "0"),
            ("000", "0"),
            ("-02", "-2"),
            ("10", "10"),
        ] {
            let (sign, digits) = line_no_parts(raw);
            assert_eq!(format!("{sign}{digits}"), key, "{raw:?}");
        }
        for text in ["1.0", "A1", "", "+", "-", "1 2"] {
            assert_eq!(line_no_parts(text), ("", text.trim()), "{text:?} is text");
        }
    }
}
