//! Grouping shipments into entries (contract v2 section 8).
//!
//! Shipments are grouped by (carrier, arrival date, port, conveyance or master
//! bill, consignee key). With `split_by_bill`, shipments routed 01 or 03 by
//! their content each get an entry of their own, and the rest of a group is
//! one type 11 entry while its total stays within the informal limit; above
//! it, separate bills make separate entries (141.52(e)), filled first-fit in
//! decreasing order of value. With `formal`, a group is always one entry.

use std::collections::HashMap;

use super::{Basis, EntryType};
use crate::policy::OverLimit;

/// One shipment routed 11, 01 or 03, in run order.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub carrier: String,
    /// Days since 1970-01-01 (a shipment on an entry always has a date).
    pub arrival_day: i32,
    pub port: String,
    /// Conveyance, else master bill; empty when neither was given.
    pub conveyance: String,
    pub consignee_key: String,
    pub house_bill: String,
    /// USD total (fixed point).
    pub total: i128,
    /// E004 on any line: the shipment needs a type 03 entry.
    pub adcvd: bool,
    /// E003 on any line: the shipment needs a formal entry.
    pub restricted: bool,
}

impl Candidate {
    /// The 141.51 group key, or `None` when the shipment cannot be grouped
    /// (no consignee key, or neither conveyance nor master bill).
    fn group_key(&self) -> Option<(&str, i32, &str, &str, &str)> {
        let no_consignee = self.consignee_key.split('|').all(str::is_empty);
        if no_consignee || self.conveyance.is_empty() {
            return None;
        }
        Some((
            &self.carrier,
            self.arrival_day,
            &self.port,
            &self.conveyance,
            &self.consignee_key,
        ))
    }
}

/// One built entry: its type, basis and members (indexes into the candidate
/// slice, in run order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub entry_type: EntryType,
    pub basis: Basis,
    pub members: Vec<usize>,
}

/// Builds the run's entries, in the order of each entry's first shipment.
pub fn build(candidates: &[Candidate], limit: i128, over_limit: OverLimit) -> Vec<Built> {
    // Groups in order of their first shipment; members in run order.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut by_key: HashMap<(&str, i32, &str, &str, &str), usize> = HashMap::new();
    for (i, c) in candidates.iter().enumerate() {
        match c.group_key() {
            Some(key) => {
                let g = *by_key.entry(key).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[g].push(i);
            }
            None => groups.push(vec![i]),
        }
    }
    let mut entries = Vec::new();
    for group in groups {
        match over_limit {
            OverLimit::SplitByBill => split_by_bill(candidates, &group, limit, &mut entries),
            OverLimit::Formal => entries.push(whole_group(candidates, group, limit)),
        }
    }
    entries.sort_by_key(|e| e.members[0]);
    entries
}

/// `over_limit = "formal"`: the group is one entry.
fn whole_group(candidates: &[Candidate], members: Vec<usize>, limit: i128) -> Built {
    let total: i128 = members.iter().map(|&i| candidates[i].total).sum();
    let entry_type = if members.iter().any(|&i| candidates[i].adcvd) {
        EntryType::Adcvd
    } else if members.iter().any(|&i| candidates[i].restricted) || total > limit {
        EntryType::Formal
    } else {
        EntryType::Informal
    };
    Built {
        entry_type,
        basis: Basis::WholeConveyance,
        members,
    }
}

/// `over_limit = "split_by_bill"`.
fn split_by_bill(candidates: &[Candidate], group: &[usize], limit: i128, out: &mut Vec<Built>) {
    let whole = |members: &[usize]| {
        if members.len() == group.len() {
            Basis::WholeConveyance
        } else {
            Basis::SeparateBills
        }
    };
    let mut rest = Vec::new();
    for &i in group {
        let c = &candidates[i];
        let by_content = if c.adcvd {
            Some(EntryType::Adcvd)
        } else if c.restricted {
            Some(EntryType::Formal)
        } else {
            None
        };
        match by_content {
            Some(entry_type) => out.push(Built {
                entry_type,
                basis: whole(&[i]),
                members: vec![i],
            }),
            None => rest.push(i),
        }
    }
    if rest.is_empty() {
        return;
    }
    let total: i128 = rest.iter().map(|&i| candidates[i].total).sum();
    if total <= limit {
        out.push(Built {
            entry_type: EntryType::Informal,
            basis: whole(&rest),
            members: rest,
        });
        return;
    }
    // First-fit decreasing: largest total first, ties by house bill.
    let mut order = rest;
    order.sort_by(|&a, &b| {
        candidates[b]
            .total
            .cmp(&candidates[a].total)
            .then_with(|| candidates[a].house_bill.cmp(&candidates[b].house_bill))
    });
    let mut bins: Vec<(i128, Vec<usize>)> = Vec::new();
    let mut formal = Vec::new();
    for i in order {
        let t = candidates[i].total;
        if t > limit {
            formal.push(i);
            continue;
        }
        match bins.iter_mut().find(|(sum, _)| sum + t <= limit) {
            Some((sum, members)) => {
                *sum += t;
                members.push(i);
            }
            None => bins.push((t, vec![i])),
        }
    }
    for i in formal {
        out.push(Built {
            entry_type: EntryType::Formal,
            basis: whole(&[i]),
            members: vec![i],
        });
    }
    for (_, mut members) in bins {
        members.sort_unstable();
        let basis = whole(&members);
        out.push(Built {
            entry_type: EntryType::Informal,
            basis,
            members,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::ONE;

    fn ship(bill: &str, flight: &str, person: &str, usd: i128) -> Candidate {
        Candidate {
            carrier: "DHLX".into(),
            arrival_day: 20_000,
            port: "4701".into(),
            conveyance: flight.into(),
            consignee_key: format!("{person}|1 main st|10001"),
            house_bill: bill.into(),
            total: usd * ONE,
            adcvd: false,
            restricted: false,
        }
    }

    fn summary(c: &[Candidate], built: &[Built]) -> Vec<(String, &'static str, Vec<String>)> {
        built
            .iter()
            .map(|e| {
                (
                    e.entry_type.code().to_owned(),
                    e.basis.as_str(),
                    e.members.iter().map(|&i| c[i].house_bill.clone()).collect(),
                )
            })
            .collect()
    }

    const LIMIT: i128 = 2500 * ONE;

    #[test]
    fn one_entry_per_conveyance_per_consignee() {
        let c = vec![
            ship("H1", "DHL123", "ana", 100),
            ship("H2", "DHL123", "bob", 50),
            ship("H3", "DHL123", "ana", 200),
            ship("H4", "DHL999", "ana", 300),
        ];
        let got = summary(&c, &build(&c, LIMIT, OverLimit::SplitByBill));
        assert_eq!(
            got,
            [
                ("11".into(), "141.51", vec!["H1".into(), "H3".into()]),
                ("11".into(), "141.51", vec!["H2".into()]),
                ("11".into(), "141.51", vec!["H4".into()]),
            ]
        );
    }

    #[test]
    fn groups_differ_by_carrier_day_and_port() {
        let mut c = vec![
            ship("H1", "F1", "ana", 10),
            ship("H2", "F1", "ana", 10),
            ship("H3", "F1", "ana", 10),
            ship("H4", "F1", "ana", 10),
        ];
        c[1].carrier = "UPSN".into();
        c[2].arrival_day += 1;
        c[3].port = "2720".into();
        assert_eq!(build(&c, LIMIT, OverLimit::SplitByBill).len(), 4);
    }

    #[test]
    fn exactly_the_limit_stays_informal() {
        let c = vec![ship("H1", "F1", "ana", 1500), ship("H2", "F1", "ana", 1000)];
        let got = summary(&c, &build(&c, LIMIT, OverLimit::SplitByBill));
        assert_eq!(
            got,
            [("11".into(), "141.51", vec!["H1".into(), "H2".into()])]
        );
    }

    #[test]
    fn over_the_limit_splits_by_bill_first_fit_decreasing() {
        // 2000, 1500, 900, 600, 400 (ties by house bill): bins [2000,400], [1500,900], [600].
        let c = vec![
            ship("H5", "F1", "ana", 400),
            ship("H1", "F1", "ana", 2000),
            ship("H3", "F1", "ana", 900),
            ship("H2", "F1", "ana", 1500),
            ship("H4", "F1", "ana", 600),
        ];
        let got = summary(&c, &build(&c, LIMIT, OverLimit::SplitByBill));
        assert_eq!(
            got,
            [
                ("11".into(), "141.52(e)", vec!["H5".into(), "H1".into()]),
                ("11".into(), "141.52(e)", vec!["H3".into(), "H2".into()]),
                ("11".into(), "141.52(e)", vec!["H4".into()]),
            ]
        );
    }

    #[test]
    fn ties_go_by_house_bill() {
        let c = vec![
            ship("HB", "F1", "ana", 1300),
            ship("HA", "F1", "ana", 1300),
            ship("HC", "F1", "ana", 1200),
        ];
        let got = summary(&c, &build(&c, LIMIT, OverLimit::SplitByBill));
        // HA first (tie), HB cannot join it (2600), HC joins HA.
        assert_eq!(
            got,
            [
                ("11".into(), "141.52(e)", vec!["HB".into()]),
                ("11".into(), "141.52(e)", vec!["HA".into(), "HC".into()])
            ]
        );
    }

    #[test]
    fn a_bill_above_the_limit_is_formal_alone() {
        let c = vec![
            ship("H1", "F1", "ana", 3000),
            ship("H2", "F1", "ana", 100),
            ship("H9", "F1", "zoe", 3000),
        ];
        let got = summary(&c, &build(&c, LIMIT, OverLimit::SplitByBill));
        assert_eq!(
            got,
            [
                ("01".into(), "141.52(e)", vec!["H1".into()]),
                ("11".into(), "141.52(e)", vec!["H2".into()]),
                ("01".into(), "141.51", vec!["H9".into()]),
            ]
        );
    }

    #[test]
    fn content_routes_get_their_own_entry() {
        let mut c = vec![
            ship("H1", "F1", "ana", 100),
            ship("H2", "F1", "ana", 100),
            ship("H3", "F1", "ana", 100),
        ];
        c[1].adcvd = true;
        c[2].restricted = true;
        let got = summary(&c, &build(&c, LIMIT, OverLimit::SplitByBill));
        assert_eq!(
            got,
            [
                ("11".into(), "141.52(e)", vec!["H1".into()]),
                ("03".into(), "141.52(e)", vec!["H2".into()]),
                ("01".into(), "141.52(e)", vec!["H3".into()]),
            ]
        );
    }

    #[test]
    fn formal_mode_keeps_the_group_whole() {
        let mut c = vec![
            ship("H1", "F1", "ana", 2000),
            ship("H2", "F1", "ana", 1000),
            ship("H3", "F2", "ana", 10),
            ship("H4", "F3", "ana", 10),
        ];
        let got = summary(&c, &build(&c, LIMIT, OverLimit::Formal));
        assert_eq!(
            got[0],
            ("01".into(), "141.51", vec!["H1".into(), "H2".into()])
        );
        assert_eq!(got[1].0, "11");
        c[3].restricted = true;
        c.push(ship("H5", "F3", "ana", 10));
        c[4].adcvd = true;
        let got = summary(&c, &build(&c, LIMIT, OverLimit::Formal));
        assert_eq!(
            got[2],
            ("03".into(), "141.51", vec!["H4".into(), "H5".into()])
        );
    }

    #[test]
    fn ungroupable_shipments_stand_alone() {
        let mut c = vec![
            ship("H1", "", "ana", 10),
            ship("H2", "", "ana", 10),
            ship("H3", "F1", "", 10),
            ship("H4", "F1", "", 10),
        ];
        c[2].consignee_key = "||".into();
        c[3].consignee_key = "||".into();
        let got = build(&c, LIMIT, OverLimit::SplitByBill);
        assert_eq!(got.len(), 4);
        assert!(
            got.iter()
                .all(|e| e.basis == Basis::WholeConveyance && e.members.len() == 1)
        );
    }
}
