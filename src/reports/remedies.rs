//! What a person should do about each finding and each ACE answer: the
//! "what to do" column of exception reports.

/// The fix for a rule's findings (every code of [`Rule::ALL`] has its own;
/// a unit test keeps it so).
///
/// [`Rule::ALL`]: crate::engine::rules::Rule::ALL
pub fn for_rule(code: &str) -> &'static str {
    match code {
        "F001" => {
            "The file could not be read at all (wrong format, compressed, empty). Ask the carrier for a proper manifest and drop it into the inbox again."
        }
        "F002" => {
            "A mapped column is missing from the header. Ask the carrier to restore it, or fix [format.columns] in the job file if the carrier renamed it."
        }
        "F003" => {
            "The row has the wrong number of fields or broken quoting. Have the carrier fix the row (often an unquoted delimiter or a stray quote) and resend."
        }
        "V001" => {
            "A required field is empty. Get the missing value from the carrier or shipper and resend the shipment."
        }
        "V002" => {
            "The HTS number is not 10 digits (or not in the HTS reference). Classify the goods with a valid 10-digit HTSUS number."
        }
        "V003" => {
            "The country is not an ISO 3166-1 alpha-2 code. Correct country_of_origin or shipper_country (e.g. CN, VN, DE)."
        }
        "V004" => {
            "The declared value is missing, not a number, or not above zero. Get the real transaction value from the seller."
        }
        "V005" => {
            "The port of entry is not a Schedule D port. Correct the 4-digit port code (e.g. 4701 JFK)."
        }
        "V006" => {
            "The arrival date does not match the job's date format. Fix the date, or the job's date_format if the carrier changed its layout."
        }
        "V007" => {
            "The description is too vague for CBP. Ask for a plain-language description of the goods (what it is, what it is made of)."
        }
        "V008" => {
            "The currency has no FX rate in the policy. Add the rate to the policy's [fx] table or have the value converted to USD."
        }
        "V009" => "The consignee ZIP is not 5 or 9 digits. Correct the ZIP (ZIP+4 may use a dash).",
        "D001" => {
            "The same line was sent twice in the file; the copy is not filed. Tell the carrier to stop duplicating lines."
        }
        "D002" => {
            "Two lines share a house bill and line number with different content. Find out which is right and resend one."
        }
        "D003" => {
            "The house bill already came in an earlier file; it is not filed again. No action unless the earlier data was wrong."
        }
        "D004" => {
            "House bills of one consignee look like one order split up. Review whether they are one shipment."
        }
        "L001" => {
            "The consignee has more than one house bill on one day. Review for split shipments."
        }
        "L002" => {
            "The consignee's day is above the de minimis threshold; none of those shipments qualifies. File them as informal or formal entries."
        }
        "L003" => "The shipment alone is above the threshold; it cannot go Section 321.",
        "E001" => {
            "De minimis is not available for this origin or date; the shipment goes to an informal or formal entry."
        }
        "E002" => {
            "The HTS needs partner-agency (PGA) data. Collect the agency's data or a disclaim before filing."
        }
        "E003" => {
            "Restricted commodity (alcohol, tobacco, arms, AD/CVD): a formal entry is needed."
        }
        "R001" => {
            "The value per kg is below the floor for the chapter: possible undervaluation. Verify the value with the seller."
        }
        "R002" => {
            "Shipper country differs from origin: transshipment risk. Confirm the country of origin."
        }
        "E004" => {
            "The HTS number is in scope of an AD/CVD order (lists.adcvd_prefixes). Check the AD/CVD order's scope for this origin and producer; file a type 03 entry with the case number and cash deposit."
        }
        "V010" => {
            "The shipment has no valid importer of record number, so its entry cannot be filed. Add the importer of record number (EIN NN-NNNNNNNSS, CBP-assigned YYDDPP-NNNNN or SSN NNN-NN-NNNN) to the manifest and re-send."
        }
        "T001" => {
            "The line's duty cannot be estimated (the message says why). Check the HTS code and add the quantity in the HTS unit (or weight_kg for per-kg rates); or update the policy's [[duty.hts]] revision."
        }
        "T002" => {
            "The file has lines arriving after the date the policy's rates were last checked. Review the rates for dates after duty.reviewed_through and move the date forward in the policy."
        }
        "F004" => {
            "A column name (CSV header) or key (NDJSON) appears twice in the file; s321d read the first. Ask the carrier to send each column once, or check that the first holds the right data."
        }
        "V011" => {
            "An identifier (carrier, bills, line number, port, conveyance, IOR, consignee name, address or ZIP) holds a control character, shown escaped. Have the carrier resend the value without it."
        }
        _ => "Review the finding.",
    }
}

/// The fix for an ACE rejection or hold, by response code.
pub fn for_ace(state: &str, code: Option<&str>) -> &'static str {
    match (state, code.unwrap_or("")) {
        (_, "30") => "ACE: de minimis may be met, use another entry type. Re-file as type 11.",
        (_, "33") => "ACE: type 86 not allowed for this origin. Re-file as type 11 or 01.",
        (_, "34") => {
            "ACE: release refused over the $800/day limit. Re-file the consignee's shipments as type 11."
        }
        ("rejected", _) => {
            "ACE rejected the entry. Correct the data named in the narrative and file again under a new entry number."
        }
        ("held", "90") | ("held", "99") => {
            "CBP is reviewing or suspended release. Watch for documents or exam requests."
        }
        ("held", "96") => "CBP wants documents. Send them through the broker.",
        ("held", _) | ("detained", _) => {
            "CBP has not released the goods. Follow up with the broker."
        }
        _ => "Review the response.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rules::Rule;

    #[test]
    fn every_rule_has_its_own_fix() {
        for rule in Rule::ALL {
            assert_ne!(
                for_rule(rule.code()),
                for_rule("X999"),
                "{} has no fix text",
                rule.code()
            );
        }
        assert!(
            for_rule("T001").contains("weight_kg for per-kg rates")
                && for_rule("T001").contains("[[duty.hts]]")
        );
        assert!(for_rule("T002").contains("duty.reviewed_through"));
        assert!(
            for_rule("V010")
                .contains("EIN NN-NNNNNNNSS, CBP-assigned YYDDPP-NNNNN or SSN NNN-NN-NNNN")
        );
        assert!(for_rule("E004").contains("type 03 entry with the case number and cash deposit"));
    }
}
