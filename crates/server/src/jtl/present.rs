//! The JTL shapes of vouchers, reservations, charges and clients, field for field and in the
//! documented order.

use serde::Serialize;
use voucherd_domain::Scope;
use voucherd_domain::money::format_two_decimals;
use voucherd_store::model::{Client, EntryView, HoldView, VoucherView};

use crate::wire::timestamp;

/// A voucher's code and PIN, shown only to tokens with `read-secrets`.
#[derive(Serialize)]
pub struct Secrets {
    pub code: String,
    pub pin: Option<String>,
}

/// The voucher representation.
#[derive(Serialize)]
pub struct VoucherBody {
    pub id: String,
    pub client_id: Option<String>,
    pub sku: Option<String>,
    pub batch: Option<String>,
    pub amount: String,
    pub currency: String,
    pub valid_until: Option<String>,
    pub validity_value: i64,
    pub validity_interval: &'static str,
    pub status: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub taxable: bool,
    pub tax_rate: Option<String>,
    pub order_number: Option<String>,
    pub data: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(flatten)]
    pub secrets: Option<Secrets>,
    pub remaining_amount: String,
    pub deletable: bool,
}

pub fn voucher(v: &VoucherView, with_secrets: bool) -> VoucherBody {
    VoucherBody {
        id: v.id.clone(),
        client_id: v.client_id.clone(),
        sku: v.sku.clone(),
        batch: v.batch.clone(),
        amount: format_two_decimals(v.amount_minor),
        currency: v.currency.code(),
        valid_until: v.valid_until.map(timestamp),
        validity_value: v.validity.value,
        validity_interval: v.validity.interval.as_str(),
        status: v.status.as_str(),
        kind: v.kind.as_str(),
        taxable: v.taxable,
        tax_rate: v.tax_rate.clone(),
        order_number: v.order_number.clone(),
        data: v.data.clone(),
        created_at: timestamp(v.created_at),
        updated_at: timestamp(v.updated_at),
        secrets: with_secrets.then(|| Secrets {
            code: v.code.clone(),
            pin: v.pin.clone(),
        }),
        remaining_amount: format_two_decimals(v.remaining_minor),
        deletable: v.deletable,
    }
}

/// The reservation representation; the `GET` extension adds `status` and `charge_id`.
#[derive(Serialize)]
pub struct ReservationBody {
    pub id: String,
    pub voucher_id: String,
    pub voucher_taxable: bool,
    pub voucher_tax_rate: Option<String>,
    pub client_id: Option<String>,
    pub amount: String,
    pub valid_until: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<Option<String>>,
}

pub fn reservation(h: &HoldView, extended: bool) -> ReservationBody {
    ReservationBody {
        id: h.id.clone(),
        voucher_id: h.voucher_id.clone(),
        voucher_taxable: h.voucher_taxable,
        voucher_tax_rate: h.voucher_tax_rate.clone(),
        client_id: h.client_id.clone(),
        amount: format_two_decimals(h.amount_minor),
        valid_until: timestamp(h.expires_at),
        created_at: timestamp(h.created_at),
        updated_at: timestamp(h.updated_at),
        status: extended.then(|| h.state.as_str()),
        charge_id: extended.then(|| h.charge_id.clone()),
    }
}

/// The charge representation, for charges, refunds and recharges alike.
#[derive(Serialize)]
pub struct ChargeBody {
    pub id: String,
    pub voucher_id: String,
    pub client_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub amount: String,
    pub order_number: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub fn charge(e: &EntryView) -> ChargeBody {
    let at = timestamp(e.created_at);
    ChargeBody {
        id: e.id.clone(),
        voucher_id: e.voucher_id.clone(),
        client_id: e.client_id.clone(),
        kind: e.kind.as_str(),
        amount: format_two_decimals(e.amount_minor),
        order_number: e.order_number.clone(),
        created_at: at.clone(),
        // Entries are immutable: they are never updated after they are created.
        updated_at: at,
    }
}

/// The client representation returned by connect.
#[derive(Serialize)]
pub struct ClientBody {
    pub id: String,
    pub client_group_id: String,
    pub name: String,
    pub secret: String,
    pub scopes: Vec<&'static str>,
    pub created_at: String,
    pub updated_at: String,
    pub connected_at: Option<String>,
    #[serde(rename = "type")]
    pub client_type: String,
}

/// The legacy `can_use` / `can_manage` flags that JTL's client object carries.
fn legacy_scopes(scopes: &[Scope]) -> Vec<&'static str> {
    let mut legacy = Vec::new();
    if scopes.contains(&Scope::Use) {
        legacy.push("can_use");
    }
    if scopes.contains(&Scope::Manage) || scopes.contains(&Scope::Update) {
        legacy.push("can_manage");
    }
    legacy
}

pub fn client(c: &Client, secret: &str) -> ClientBody {
    ClientBody {
        id: c.id.clone(),
        client_group_id: c.client_group_id.clone(),
        name: c.name.clone(),
        secret: secret.to_string(),
        scopes: legacy_scopes(&c.scopes),
        created_at: timestamp(c.created_at),
        updated_at: timestamp(c.updated_at),
        connected_at: c.connected_at.map(timestamp),
        client_type: c.client_type.clone(),
    }
}
