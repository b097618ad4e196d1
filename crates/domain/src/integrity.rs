//! The balance invariant, recomputed from the immutable entries:
//! `remaining = initial + recharges + refunds - charges` and `0 <= held <= remaining`, plus
//! `refunds of a charge <= the charge`. Stores feed it aggregates; it names every violation.

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
}
