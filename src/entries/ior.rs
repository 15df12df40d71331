//! The importer of record number's three shapes (contract v2 section 1, V010).

/// Whether `raw` (trimmed) is an IOR number of one of the three shapes:
/// EIN with suffix `NN-NNNNNNNSS`, CBP-assigned `YYDDPP-NNNNN`, or SSN
/// `NNN-NN-NNNN`. `N` is a digit; the EIN suffix `SS` is two digits or
/// upper-case letters (CBP assigns alphanumeric suffixes to divisions).
pub fn is_valid(raw: &str) -> bool {
    let b = raw.trim().as_bytes();
    let shape = |pattern: &[u8]| {
        b.len() == pattern.len()
            && b.iter().zip(pattern).all(|(c, p)| match p {
                b'N' => c.is_ascii_digit(),
                b'S' => c.is_ascii_digit() || c.is_ascii_uppercase(),
                _ => c == p,
            })
    };
    shape(b"NN-NNNNNNNSS") || shape(b"NNNNNN-NNNNN") || shape(b"NNN-NN-NNNN")
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn three_shapes_and_nothing_else() {
        for ok in [
            "12-345678900",
            "12-3456789AB",
            "251203-00042",
            "123-45-6789",
            " 123-45-6789 ",
        ] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in [
            "",
            "12345678900",
            "12-34567890",
            "12-345678900X",
            "2512-0300042",
            "123456789",
            "12-3456789ab",
            "abc-de-fghi",
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }
}
