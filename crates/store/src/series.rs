//! Series: many vouchers issued at once from the tenant's id, code and PIN patterns. A series
//! is issued in chunks by a background worker holding its lease, so it shows progress, survives
//! a restart, and never issues more than asked (each chunk counts under the series' row lock).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use voucherd_domain::{Currency, Validity, ValidityInterval, VoucherStatus};

use crate::command::NewVoucher;

/// The most vouchers one series may ask for.
pub const SERIES_VOUCHERS_MAX: i64 = 1_000_000;

/// What every voucher of a series gets (ids, codes and PINs come from the patterns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesTemplate {
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    pub batch: Option<String>,
    pub sku: Option<String>,
    /// `None`: the tenant's default validity.
    pub validity_value: Option<i64>,
    pub validity_interval: Option<String>,
}

impl SeriesTemplate {
    /// The voucher to create, or `None` if the stored template is unreadable.
    pub fn voucher(&self) -> Option<NewVoucher> {
        let validity = match (self.validity_value, &self.validity_interval) {
            (Some(value), Some(interval)) => Some(Validity {
                value,
                interval: ValidityInterval::parse(interval)?,
            }),
            _ => None,
        };
        Some(NewVoucher {
            sku: self.sku.clone(),
            batch: self.batch.clone(),
            validity,
            ..NewVoucher::digital(
                self.amount_minor,
                Currency::parse(&self.currency).ok()?,
                VoucherStatus::parse(&self.status)?,
            )
        })
    }
}

/// Where a series stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesState {
    Running,
    Done,
    Failed,
}

impl SeriesState {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => Some(SeriesState::Running),
            "done" => Some(SeriesState::Done),
            "failed" => Some(SeriesState::Failed),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            SeriesState::Running => "running",
            SeriesState::Done => "done",
            SeriesState::Failed => "failed",
        }
    }
}

/// A series and its progress.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesView {
    pub id: String,
    pub tenant_id: String,
    pub template: SeriesTemplate,
    pub requested: i64,
    pub issued: i64,
    pub state: SeriesState,
    pub failure: Option<String>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}
