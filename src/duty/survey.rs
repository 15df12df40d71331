//! How much of an HTS revision's rate texts [`rate::parse`] understands: the
//! measure behind the list in docs/entries.md of texts that stay "duty unknown".
//!
//! Counts distinct texts per column (special: the rate text of each program
//! group) and, per code, whether its general rate can be computed with the
//! code's own unit of quantity (given a quantity and weight).

use std::collections::BTreeSet;

use super::hts::HtsRevision;
use super::rate;

/// The figures of one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    pub general_texts: usize,
    pub general_understood: usize,
    pub special_texts: usize,
    pub special_understood: usize,
    pub other_texts: usize,
    pub other_understood: usize,
    /// Codes in the revision.
    pub codes: usize,
    /// Codes whose general rate parses and whose specific parts are in kg or
    /// in the code's first unit of quantity.
    pub codes_general_computable: usize,
    pub general_not_understood: Vec<String>,
    pub special_not_understood: Vec<String>,
    pub other_not_understood: Vec<String>,
    /// Special-column texts with no group of program codes (ignored by step 3).
    pub special_without_groups: Vec<String>,
}

/// Surveys one revision.
pub fn survey(rev: &HtsRevision) -> Survey {
    let tally = |ids: &[u32]| {
        let texts: BTreeSet<&str> = ids
            .iter()
            .map(|&id| rev.text(id))
            .filter(|t| !t.is_empty())
            .collect();
        let failed: Vec<String> = texts
            .iter()
            .filter(|t| rate::parse(t).is_err())
            .map(|t| (*t).to_owned())
            .collect();
        (texts.len(), texts.len() - failed.len(), failed)
    };
    let mut group_ids = Vec::new();
    let mut special_without_groups = Vec::new();
    for &id in &rev.special_ids {
        let groups = rev.groups(id);
        if groups.is_empty() {
            special_without_groups.push(rev.text(id).to_owned());
        }
        group_ids.extend(groups.iter().map(|g| g.text));
    }
    let (general_texts, general_understood, general_not_understood) = tally(&rev.general_ids);
    let (special_texts, special_understood, special_not_understood) = tally(&group_ids);
    let (other_texts, other_understood, other_not_understood) = tally(&rev.other_ids);
    let mut codes = 0;
    let mut codes_general_computable = 0;
    for code in rev.codes() {
        codes += 1;
        let row = rev.rate_row(code).expect("a listed code has a row");
        if rate::parse(row.general).is_ok_and(|r| r.fits_unit(row.unit)) {
            codes_general_computable += 1;
        }
    }
    Survey {
        general_texts,
        general_understood,
        special_texts,
        special_understood,
        other_texts,
        other_understood,
        codes,
        codes_general_computable,
        general_not_understood,
        special_not_understood,
        other_not_understood,
        special_without_groups,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::duty::hts::tests::REAL_CSV;

    #[test]
    fn survey_of_2026_rev4() {
        let rev = HtsRevision::load(Path::new(REAL_CSV)).unwrap();
        let s = survey(&rev);
        println!(
            "general {}/{} special {}/{} column2 {}/{}; codes {} of which general computable {}",
            s.general_understood,
            s.general_texts,
            s.special_understood,
            s.special_texts,
            s.other_understood,
            s.other_texts,
            s.codes,
            s.codes_general_computable
        );
        for (name, list) in [
            ("general", &s.general_not_understood),
            ("special", &s.special_not_understood),
            ("column2", &s.other_not_understood),
            ("special without groups", &s.special_without_groups),
        ] {
            println!("--- {name} not understood: {}", list.len());
            for t in list {
                println!("{t:?}");
            }
        }
        // Every text left has a word that is neither a unit nor "Free" /
        // "each": prose, a qualifier ("on the case", "of total sugars") or a
        // reference ("See 9822.04.05"), so no plain shape was missed.
        const PLAIN_WORDS: [&str; 17] = [
            "free", "each", "kg", "liter", "liters", "doz", "pr", "prs", "pf", "clean", "gross",
            "thousand", "bbl", "head", "article", "jewel", "pins",
        ];
        let not_understood = s
            .general_not_understood
            .iter()
            .chain(&s.special_not_understood)
            .chain(&s.other_not_understood);
        for t in not_understood {
            let has_prose_word = t
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| w.len() > 1)
                .any(|w| !PLAIN_WORDS.contains(&w.to_ascii_lowercase().as_str()));
            assert!(
                has_prose_word,
                "a plain-looking text was not understood: {t:?}"
            );
        }
        assert_eq!(s.codes, 19_856);
        assert_eq!((s.general_texts, s.general_understood), (835, 628));
        assert_eq!((s.special_texts, s.special_understood), (242, 155));
        assert_eq!((s.other_texts, s.other_understood), (845, 707));
        // The other 481 codes: prose general rates, or a unit that is not
        // the code's (`¢/1000` on `No.`, `each` on `pcs`, `clean kg` on `cy kg`).
        assert_eq!(s.codes_general_computable, 19_375);
    }
}
