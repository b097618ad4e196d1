//! How long an activated voucher stays usable: a count of days, weeks, months or years added to
//! the activation time. Month arithmetic clamps to the last day of a shorter month
//! (31 January + 1 month = 28/29 February), as calendars and people expect.

use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month, OffsetDateTime};

/// The largest validity count accepted, whatever the unit (about 100 years of days).
pub const VALIDITY_VALUE_MAX: i64 = 36_500;

/// The unit of a validity period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidityInterval {
    Days,
    Weeks,
    Months,
    Years,
}

impl ValidityInterval {
    /// Parses the wire name (`days`, `weeks`, `months`, `years`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "days" => Some(Self::Days),
            "weeks" => Some(Self::Weeks),
            "months" => Some(Self::Months),
            "years" => Some(Self::Years),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Days => "days",
            Self::Weeks => "weeks",
            Self::Months => "months",
            Self::Years => "years",
        }
    }
}

/// A validity period: `value` units of `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validity {
    pub value: i64,
    pub interval: ValidityInterval,
}

impl Validity {
    /// The moment a voucher activated at `start` stops being usable. Values are bounded by
    /// [`VALIDITY_VALUE_MAX`] at the boundaries, so the arithmetic cannot overflow a date.
    pub fn end_from(&self, start: OffsetDateTime) -> OffsetDateTime {
        let value = self.value.clamp(0, VALIDITY_VALUE_MAX);
        match self.interval {
            ValidityInterval::Days => start + Duration::days(value),
            ValidityInterval::Weeks => start + Duration::weeks(value),
            ValidityInterval::Months => add_months(start, value),
            ValidityInterval::Years => add_months(start, value * 12),
        }
    }
}

fn add_months(start: OffsetDateTime, months: i64) -> OffsetDateTime {
    let zero_based = i64::from(start.year()) * 12 + i64::from(start.month() as u8) - 1 + months;
    let year = (zero_based.div_euclid(12)) as i32;
    let month = Month::try_from((zero_based.rem_euclid(12) + 1) as u8).unwrap_or(Month::December);
    let last_day = time::util::days_in_month(month, year);
    let day = start.day().min(last_day);
    match Date::from_calendar_date(year, month, day) {
        Ok(date) => start.replace_date(date),
        // Only reachable past year 9999, which VALIDITY_VALUE_MAX rules out.
        Err(_) => start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn months_clamp_to_the_end_of_a_shorter_month() {
        let v = Validity {
            value: 1,
            interval: ValidityInterval::Months,
        };
        assert_eq!(
            v.end_from(datetime!(2024-01-31 10:00 UTC)),
            datetime!(2024-02-29 10:00 UTC)
        );
    }

    #[test]
    fn years_days_and_weeks_add_up() {
        let start = datetime!(2023-03-15 08:30 UTC);
        let years = Validity {
            value: 3,
            interval: ValidityInterval::Years,
        };
        assert_eq!(years.end_from(start), datetime!(2026-03-15 08:30 UTC));
        let weeks = Validity {
            value: 2,
            interval: ValidityInterval::Weeks,
        };
        assert_eq!(weeks.end_from(start), datetime!(2023-03-29 08:30 UTC));
        let months = Validity {
            value: 22,
            interval: ValidityInterval::Months,
        };
        assert_eq!(months.end_from(start), datetime!(2025-01-15 08:30 UTC));
    }
}
