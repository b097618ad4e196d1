//! The states a voucher, a hold and an entry can be in, named as they appear on the wire and in
//! the database.

use serde::{Deserialize, Serialize};

/// Whether a voucher can be used. There is no `expired` status: expiry is `valid_until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoucherStatus {
    Active,
    Inactive,
}

/// Digital vouchers travel as a code; print vouchers are cards with the code printed on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoucherKind {
    Digital,
    Print,
}

/// Where a hold is in its life. Only `Live` holds with `expires_at` in the future hold money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldState {
    Live,
    Charged,
    Released,
    Superseded,
    Expired,
}

/// The kind of an immutable ledger entry. `Issue` is the voucher's initial value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Issue,
    Charge,
    Refund,
    Recharge,
}

macro_rules! wire_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The lower-case name used on the wire and in the database.
            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
            /// Parses the lower-case name.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($name => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

wire_names!(VoucherStatus { Active => "active", Inactive => "inactive" });
wire_names!(VoucherKind { Digital => "digital", Print => "print" });
wire_names!(HoldState {
    Live => "live",
    Charged => "charged",
    Released => "released",
    Superseded => "superseded",
    Expired => "expired",
});
wire_names!(EntryKind {
    Issue => "issue",
    Charge => "charge",
    Refund => "refund",
    Recharge => "recharge",
});

impl EntryKind {
    /// The effect of an entry of this kind on the remaining balance, as a sign.
    pub fn balance_sign(&self) -> i64 {
        match self {
            Self::Issue | Self::Refund | Self::Recharge => 1,
            Self::Charge => -1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for s in [HoldState::Live, HoldState::Charged, HoldState::Expired] {
            assert_eq!(HoldState::parse(s.as_str()), Some(s));
        }
        assert_eq!(EntryKind::parse("recharge"), Some(EntryKind::Recharge));
        assert_eq!(VoucherStatus::parse("ACTIVE"), None);
    }
}
