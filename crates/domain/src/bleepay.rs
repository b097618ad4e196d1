//! The rules of the bleepay face: a payer opens a context over some of their vouchers and
//! hands its 6-character code to a payee; the payee reserves short-lived 6-digit voucher codes
//! in that context, redeems one for an amount (a hold on a bound voucher), and the payer
//! resolves it (a charge) or either side discards it (a release).
//!
//! Statuses that lapse with time are computed here from `now`, never stored: a context past
//! its validity reads `CLOSED`, an unresolved voucher code past `expiresAt` reads `DISCARDED`.

use std::fmt;

use time::{Duration, OffsetDateTime};

use crate::secret;

/// How long a context code may be used after the context opens.
pub const CONTEXT_VALIDITY: Duration = Duration::minutes(10);
/// How long a reserved voucher code lives (its hold expires with it).
pub const VOUCHER_CODE_VALIDITY: Duration = Duration::minutes(2);
/// Wrong context codes a context's payee may send before the context is closed.
pub const CONTEXT_MISSES_MAX: i64 = 5;
/// Vouchers one context may bind (bleepay binds 1–10 wallet addresses).
pub const CONTEXT_VOUCHERS_MAX: usize = 10;
/// Length of context codes and voucher codes.
pub const CODE_CHARS: usize = 6;

/// The alphabet of `alphanum` context codes: capitals and digits without look-alikes (0/O, 1/I).
const ALPHANUM: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const DIGITS: &[u8] = b"0123456789";

/// The format of a context code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeFormat {
    Numeric,
    Alphanum,
}

impl CodeFormat {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "numeric" => Some(CodeFormat::Numeric),
            "alphanum" => Some(CodeFormat::Alphanum),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            CodeFormat::Numeric => "numeric",
            CodeFormat::Alphanum => "alphanum",
        }
    }

    /// A fresh context code from the CSPRNG.
    pub fn generate(&self) -> String {
        match self {
            CodeFormat::Numeric => secret::random_string(DIGITS, CODE_CHARS),
            CodeFormat::Alphanum => secret::random_string(ALPHANUM, CODE_CHARS),
        }
    }
}

/// A fresh 6-digit voucher code from the CSPRNG.
pub fn voucher_code() -> String {
    secret::random_string(DIGITS, CODE_CHARS)
}

/// Whether `text` could be a context code at all (so obvious junk is refused before any
/// lookup): six capitals or digits.
pub fn looks_like_context_code(text: &str) -> bool {
    text.len() == CODE_CHARS
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// A context's status as callers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextStatus {
    Open,
    Closed,
}

impl ContextStatus {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "OPEN" => Some(ContextStatus::Open),
            "CLOSED" => Some(ContextStatus::Closed),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            ContextStatus::Open => "OPEN",
            ContextStatus::Closed => "CLOSED",
        }
    }

    /// The status at `now` of a context stored as `self` that may be used until `expires_at`.
    pub fn at(self, expires_at: OffsetDateTime, now: OffsetDateTime) -> Self {
        if self == ContextStatus::Open && now >= expires_at {
            ContextStatus::Closed
        } else {
            self
        }
    }
}

/// Who calls, as the bearer token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BleepayCaller {
    /// A registered payer account (sign-up, e-mail or device sign-in), by payer id.
    Payer(String),
    /// A payee signed in with a context code: may act only inside that context.
    Payee { context_id: String },
}

impl BleepayCaller {
    /// Whether the caller may see and act on a voucher code of the context `context_id`,
    /// opened by `payer_id` and reserved by `reserved_by`: a payee inside its context, a payer
    /// who opened the context or reserved the code.
    pub fn sees(&self, context_id: &str, payer_id: &str, reserved_by: Option<&str>) -> bool {
        match self {
            BleepayCaller::Payee { context_id: own } => own == context_id,
            BleepayCaller::Payer(own) => own == payer_id || reserved_by == Some(own.as_str()),
        }
    }
}

/// A voucher code's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeStatus {
    Reserved,
    Redeemed,
    Resolved,
    Discarded,
}

impl CodeStatus {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "RESERVED" => Some(CodeStatus::Reserved),
            "REDEEMED" => Some(CodeStatus::Redeemed),
            "RESOLVED" => Some(CodeStatus::Resolved),
            "DISCARDED" => Some(CodeStatus::Discarded),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            CodeStatus::Reserved => "RESERVED",
            CodeStatus::Redeemed => "REDEEMED",
            CodeStatus::Resolved => "RESOLVED",
            CodeStatus::Discarded => "DISCARDED",
        }
    }

    /// Whether the code still lives (not resolved or discarded).
    pub fn is_open(&self) -> bool {
        matches!(self, CodeStatus::Reserved | CodeStatus::Redeemed)
    }
}

/// A voucher code as the rules need it.
#[derive(Debug, Clone, Copy)]
pub struct CodeSnapshot {
    pub status: CodeStatus,
    pub expires_at: OffsetDateTime,
}

impl CodeSnapshot {
    /// Whether the code lapsed unresolved.
    pub fn lapsed(&self, now: OffsetDateTime) -> bool {
        self.status.is_open() && now >= self.expires_at
    }

    /// The status at `now`: an open code past `expiresAt` reads `DISCARDED`.
    pub fn status_at(&self, now: OffsetDateTime) -> CodeStatus {
        if self.lapsed(now) {
            CodeStatus::Discarded
        } else {
            self.status
        }
    }

    fn refuse_closed(&self, now: OffsetDateTime) -> Result<(), BleepayRefusal> {
        if self.lapsed(now) {
            return Err(BleepayRefusal::Expired);
        }
        match self.status {
            CodeStatus::Resolved => Err(BleepayRefusal::AlreadyResolved),
            CodeStatus::Discarded => Err(BleepayRefusal::AlreadyDiscarded),
            CodeStatus::Reserved | CodeStatus::Redeemed => Ok(()),
        }
    }
}

/// May the payee state the amount now?
pub fn decide_redeem(code: &CodeSnapshot, now: OffsetDateTime) -> Result<(), BleepayRefusal> {
    code.refuse_closed(now)?;
    match code.status {
        CodeStatus::Reserved => Ok(()),
        _ => Err(BleepayRefusal::AlreadyRedeemed),
    }
}

/// May the payer confirm the payment now?
pub fn decide_resolve(code: &CodeSnapshot, now: OffsetDateTime) -> Result<(), BleepayRefusal> {
    code.refuse_closed(now)?;
    match code.status {
        CodeStatus::Redeemed => Ok(()),
        _ => Err(BleepayRefusal::NotRedeemed),
    }
}

/// May the code be discarded now?
pub fn decide_discard(code: &CodeSnapshot, now: OffsetDateTime) -> Result<(), BleepayRefusal> {
    code.refuse_closed(now)
}

/// Parses a bleepay amount: a decimal string (`"100"`, `"12.5"`, `"12.50"`) with at most
/// `digits` decimals and at most 12 integer digits, into minor units. Never rounds: more
/// decimals are refused.
pub fn parse_amount(text: &str, digits: u16) -> Option<i64> {
    let whole = text.split_once('.').map_or(text, |(whole, _)| whole);
    if whole.len() > AMOUNT_INTEGER_DIGITS_MAX {
        return None;
    }
    crate::money::parse_decimal(text, digits).ok()
}

/// The most integer digits a bleepay amount may have.
const AMOUNT_INTEGER_DIGITS_MAX: usize = 12;

/// Formats minor units with the currency's decimals (`10050`, 2 → `"100.50"`).
pub fn format_amount(minor: i64, digits: u16) -> String {
    crate::money::format_decimal(minor, digits)
}

/// Why the bleepay face refused; `Display` is the wire code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BleepayRefusal {
    /// The context code is unknown, closed or expired.
    InvalidCode,
    /// The context or voucher code does not exist for this caller.
    NotFound,
    AlreadyClosed,
    NotRedeemed,
    AlreadyRedeemed,
    AlreadyResolved,
    AlreadyDiscarded,
    /// The voucher code lapsed unresolved (it reads `DISCARDED`).
    Expired,
    /// No bound voucher in that currency has enough available balance.
    InsufficientFunds,
    /// A voucher named to open a context is not in the payer's account, or its PIN is wrong.
    VoucherNotRegistered,
    /// The voucher code or PIN given to add a voucher is wrong.
    InvalidVoucher,
    /// The e-mail address or installation already has a payer account.
    AlreadyRegistered,
    /// The voucher is already in the payer's account.
    AlreadyAdded,
    /// No free code could be drawn (the live code space is nearly full).
    CodesExhausted,
}

impl BleepayRefusal {
    /// The wire code.
    pub fn code(&self) -> &'static str {
        match self {
            BleepayRefusal::InvalidCode => "invalid_code",
            BleepayRefusal::NotFound => "not_found",
            BleepayRefusal::AlreadyClosed => "already_closed",
            BleepayRefusal::NotRedeemed => "not_redeemed",
            BleepayRefusal::AlreadyRedeemed => "already_redeemed",
            BleepayRefusal::AlreadyResolved => "already_resolved",
            BleepayRefusal::AlreadyDiscarded => "already_discarded",
            BleepayRefusal::Expired => "expired",
            BleepayRefusal::InsufficientFunds => "insufficient_funds",
            BleepayRefusal::VoucherNotRegistered => "voucher_not_registered",
            BleepayRefusal::InvalidVoucher => "invalid_voucher",
            BleepayRefusal::AlreadyRegistered => "already_registered",
            BleepayRefusal::AlreadyAdded => "already_added",
            BleepayRefusal::CodesExhausted => "codes_exhausted",
        }
    }
}

impl fmt::Display for BleepayRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    fn code(status: CodeStatus) -> CodeSnapshot {
        CodeSnapshot {
            status,
            expires_at: NOW + VOUCHER_CODE_VALIDITY,
        }
    }

    #[test]
    fn codes_move_reserved_redeemed_resolved() {
        assert_eq!(decide_redeem(&code(CodeStatus::Reserved), NOW), Ok(()));
        assert_eq!(
            decide_redeem(&code(CodeStatus::Redeemed), NOW),
            Err(BleepayRefusal::AlreadyRedeemed)
        );
        assert_eq!(
            decide_resolve(&code(CodeStatus::Reserved), NOW),
            Err(BleepayRefusal::NotRedeemed)
        );
        assert_eq!(decide_resolve(&code(CodeStatus::Redeemed), NOW), Ok(()));
        assert_eq!(
            decide_resolve(&code(CodeStatus::Resolved), NOW),
            Err(BleepayRefusal::AlreadyResolved)
        );
        assert_eq!(
            decide_discard(&code(CodeStatus::Resolved), NOW),
            Err(BleepayRefusal::AlreadyResolved)
        );
        assert_eq!(
            decide_discard(&code(CodeStatus::Discarded), NOW),
            Err(BleepayRefusal::AlreadyDiscarded)
        );
        assert_eq!(decide_discard(&code(CodeStatus::Redeemed), NOW), Ok(()));
    }

    #[test]
    fn an_open_code_lapses_into_discarded_at_its_expiry() {
        let redeemed = code(CodeStatus::Redeemed);
        let later = NOW + VOUCHER_CODE_VALIDITY;
        assert_eq!(
            redeemed.status_at(later - Duration::SECOND),
            CodeStatus::Redeemed
        );
        assert_eq!(redeemed.status_at(later), CodeStatus::Discarded);
        assert_eq!(
            decide_resolve(&redeemed, later),
            Err(BleepayRefusal::Expired)
        );
        assert_eq!(
            code(CodeStatus::Resolved).status_at(later),
            CodeStatus::Resolved
        );
        assert_eq!(
            ContextStatus::Open.at(NOW + CONTEXT_VALIDITY, NOW + CONTEXT_VALIDITY),
            ContextStatus::Closed
        );
    }

    #[test]
    fn amounts_are_decimal_strings_never_rounded() {
        assert_eq!(parse_amount("100", 2), Some(10_000));
        assert_eq!(parse_amount("12.5", 2), Some(1_250));
        assert_eq!(parse_amount("12.05", 2), Some(1_205));
        assert_eq!(parse_amount("0.01", 2), Some(1));
        assert_eq!(parse_amount("7", 0), Some(7));
        for bad in ["", ".5", "5.", "1.234", "-1", "1e3", " 1", "1,00", "0x10"] {
            assert_eq!(parse_amount(bad, 2), None, "{bad:?}");
        }
        assert_eq!(parse_amount("1.5", 0), None);
        assert_eq!(format_amount(10_050, 2), "100.50");
        assert_eq!(format_amount(5, 2), "0.05");
        assert_eq!(format_amount(7, 0), "7");
    }

    #[test]
    fn codes_have_six_characters_of_their_format() {
        for _ in 0..50 {
            let numeric = CodeFormat::Numeric.generate();
            assert!(numeric.len() == 6 && numeric.bytes().all(|b| b.is_ascii_digit()));
            let alphanum = CodeFormat::Alphanum.generate();
            assert!(looks_like_context_code(&alphanum));
            assert!(!alphanum.contains(['0', 'O', '1', 'I']));
            assert!(voucher_code().bytes().all(|b| b.is_ascii_digit()));
        }
        assert!(!looks_like_context_code("abc123"));
        assert!(!looks_like_context_code("ABC12"));
    }
}
