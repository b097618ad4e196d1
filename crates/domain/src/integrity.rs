//! The balance invariant, recomputed from the immutable entries:
//! `remaining = initial + recharges + refunds - charges` and `0 <= held <= remaining`, plus
//! `refunds of a charge <= the charge`, and every hold and entry naming a voucher (and an entry
//! drawn from a hold, that hold) of its own tenant. Stores feed it aggregates; it names every
//! violation.

use serde::Serialize;

/// What a store aggregated for one voucher.
#[derive(Debug, Clone)]
pub struct VoucherTotals {
    pub voucher_id: String,
    /// The balance the voucher row carries (kept for fast reads).
    pub recorded_remaining_minor: i64,
    /// The signed sum over the voucher's entries.
    pub ledger_remaining_minor: i64,
    /// The sum of the holds live at the time of the check.
    pub held_minor: i64,
}

/// One broken rule, with enough detail to find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub voucher_id: String,
    pub rule: &'static str,
    pub detail: String,
}

/// Checks one voucher's totals.
pub fn check_voucher(t: &VoucherTotals) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut push = |rule: &'static str, detail: String| {
        found.push(Violation {
            voucher_id: t.voucher_id.clone(),
            rule,
            detail,
        })
    };
    if t.recorded_remaining_minor != t.ledger_remaining_minor {
        push(
            "remaining_matches_entries",
            format!(
                "recorded {} but entries sum to {}",
                t.recorded_remaining_minor, t.ledger_remaining_minor
            ),
        );
    }
    if t.ledger_remaining_minor < 0 {
        push(
            "remaining_not_negative",
            format!("remaining {}", t.ledger_remaining_minor),
        );
    }
    if t.held_minor < 0 || t.held_minor > t.ledger_remaining_minor {
        push(
            "held_within_remaining",
            format!(
                "held {} of remaining {}",
                t.held_minor, t.ledger_remaining_minor
            ),
        );
    }
    found
}

/// Checks that the refunds of one charge do not exceed it.
pub fn check_refunds(
    voucher_id: &str,
    charge_id: &str,
    charge_minor: i64,
    refunded_minor: i64,
) -> Option<Violation> {
    (refunded_minor > charge_minor).then(|| Violation {
        voucher_id: voucher_id.to_string(),
        rule: "refunds_within_charge",
        detail: format!("charge {charge_id} of {charge_minor} has {refunded_minor} refunded"),
    })
}

/// A hold or an entry whose references a store found broken.
#[derive(Debug, Clone)]
pub struct LedgerRow {
    /// `hold` or `entry`.
    pub kind: &'static str,
    pub id: String,
    /// The voucher it names, if that is one of its tenant's.
    pub voucher_id: Option<String>,
    /// Whether the hold an entry names (if it names one) is one of its tenant's.
    pub hold_found: bool,
}

/// Checks that a hold or an entry names a voucher of its tenant and, if drawn from a hold, a
/// hold of its tenant. A row that names no voucher of its tenant is reported with an empty
/// `voucher_id`.
pub fn check_references(row: &LedgerRow) -> Option<Violation> {
    let missing = match (&row.voucher_id, row.hold_found) {
        (Some(_), true) => return None,
        (None, true) => "its voucher",
        (Some(_), false) => "its hold",
        (None, false) => "its voucher and its hold",
    };
    Some(Violation {
        voucher_id: row.voucher_id.clone().unwrap_or_default(),
        rule: "references_resolve",
        detail: format!(
            "{} {}: {missing} is not one of its tenant's",
            row.kind, row.id
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(recorded: i64, ledger: i64, held: i64) -> VoucherTotals {
        VoucherTotals {
            voucher_id: "V1".into(),
            recorded_remaining_minor: recorded,
            ledger_remaining_minor: ledger,
            held_minor: held,
        }
    }

    #[test]
    fn a_consistent_voucher_has_no_violations() {
        assert!(check_voucher(&totals(500, 500, 500)).is_empty());
    }

    #[test]
    fn each_broken_rule_is_named() {
        let rules: Vec<_> = check_voucher(&totals(400, -100, 50))
            .into_iter()
            .map(|v| v.rule)
            .collect();
        assert_eq!(
            rules,
            [
                "remaining_matches_entries",
                "remaining_not_negative",
                "held_within_remaining"
            ]
        );
        assert!(check_refunds("V1", "C1", 100, 101).is_some());
        assert!(check_refunds("V1", "C1", 100, 100).is_none());
    }

    #[test]
    fn a_row_naming_what_is_not_its_tenants_is_a_violation() {
        let row = |voucher_id: Option<&str>, hold_found| LedgerRow {
            kind: "entry",
            id: "E1".into(),
            voucher_id: voucher_id.map(str::to_string),
            hold_found,
        };
        assert!(check_references(&row(Some("V1"), true)).is_none());
        let orphan = check_references(&row(None, true)).expect("no voucher");
        assert_eq!(
            (orphan.rule, orphan.voucher_id.as_str()),
            ("references_resolve", "")
        );
        assert_eq!(
            orphan.detail,
            "entry E1: its voucher is not one of its tenant's"
        );
        let holdless = check_references(&row(Some("V1"), false)).expect("no hold");
        assert_eq!(holdless.voucher_id, "V1");
        assert_eq!(
            holdless.detail,
            "entry E1: its hold is not one of its tenant's"
        );
    }
}
