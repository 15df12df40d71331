//! Privacy masking for emails (`reports.mask_personal_data`, on by default).
//! Consignee names, addresses and ZIPs never appear in a masked email or its
//! attachments; the output files keep the full data.
//!
//! A consignee key (`name|address|zip5`) is shown as a stable reference
//! (`C-` and 8 hex digits of its SHA-256, the same in every report, so a
//! person can follow one consignee across days) followed by initials and the
//! first three ZIP digits: `C-1f0c9a2b (m. g., 112xx)`. Finding messages on
//! consignee fields have their quoted values replaced by `'***'`.

use sha2::{Digest, Sha256};

/// The stable reference of a consignee key.
pub fn consignee_ref(key: &str) -> String {
    let h = Sha256::digest(key.as_bytes());
    format!("C-{}", &hex::encode(h)[..8])
}

/// A consignee key as an email may show it.
pub fn consignee(key: &str, mask: bool) -> String {
    if !mask {
        return key.to_owned();
    }
    let mut parts = key.split('|');
    let name = parts.next().unwrap_or("");
    let _address = parts.next();
    let zip = parts.next().unwrap_or("");
    let initials: Vec<String> = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .map(|c| format!("{c}."))
        .collect();
    let zip3: String = zip.chars().take(3).collect();
    let zip = if zip3.is_empty() {
        String::new()
    } else {
        format!("{zip3}xx")
    };
    let detail: Vec<String> = [initials.join(" "), zip]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if detail.is_empty() {
        consignee_ref(key)
    } else {
        format!("{} ({})", consignee_ref(key), detail.join(", "))
    }
}

/// Whether a finding's field is personal data.
pub fn is_personal_field(field: &str) -> bool {
    field.starts_with("consignee_")
}

/// A finding message as an email may show it: quoted values of personal
/// fields become `'***'`.
pub fn message(field: &str, text: &str, mask: bool) -> String {
    if !mask || !is_personal_field(field) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for ch in text.chars() {
        if ch == '\'' {
            if inside {
                out.push_str("***'");
            } else {
                out.push('\'');
            }
            inside = !inside;
        } else if !inside {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_names_addresses_and_zips() {
        let key = "maria garcia|221 baker st|11201";
        let shown = consignee(key, true);
        assert!(
            shown.starts_with("C-") && shown.ends_with("(m. g., 112xx)"),
            "{shown}"
        );
        assert!(
            !shown.contains("garcia") && !shown.contains("baker") && !shown.contains("11201"),
            "{shown}"
        );
        assert_eq!(consignee_ref(key), consignee_ref(key));
        assert_eq!(consignee(key, false), key);
        assert_eq!(
            message(
                "consignee_zip",
                "consignee_zip '8020' is not 5 or 9 digits",
                true
            ),
            "consignee_zip '***' is not 5 or 9 digits"
        );
        assert_eq!(
            message("hts_code", "hts_code '12' is bad", true),
            "hts_code '12' is bad"
        );
    }
}
