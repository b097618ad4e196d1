//! The admin API's JSON shapes. Money is given in minor units and as a decimal string.

use serde_json::{Value, json};
use time::OffsetDateTime;
use voucherd_domain::Scope;
use voucherd_domain::money::format_two_decimals;
use voucherd_store::console::ConsoleUserView;
use voucherd_store::model::{
    AuditEvent, Client, ClientGroup, EntryView, HoldView, MerchantToken, Tenant, TenantSettings,
    VoucherView,
};

use crate::wire::timestamp;

pub fn tenant(t: &Tenant) -> Value {
    json!({ "id": t.id, "name": t.name, "created_at": timestamp(t.created_at), "settings": settings(&t.settings) })
}

pub fn settings(s: &TenantSettings) -> Value {
    json!({
        "voucher_id_pattern": s.voucher_id_pattern,
        "code_pattern": s.code_pattern,
        "pin_pattern": s.pin_pattern,
        "default_validity_value": s.default_validity.value,
        "default_validity_interval": s.default_validity.interval.as_str(),
        "reservation_ttl_seconds": s.reservation_ttl_seconds,
        "token_ttl_seconds": s.token_ttl_seconds,
    })
}

fn scope_names(scopes: &[Scope]) -> Vec<&'static str> {
    scopes.iter().map(Scope::as_str).collect()
}

pub fn group(g: &ClientGroup) -> Value {
    json!({ "id": g.id, "name": g.name, "scopes": scope_names(&g.scopes), "created_at": timestamp(g.created_at) })
}

pub fn merchant_token(t: &MerchantToken) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "status": if t.revoked_at.is_some() { "revoked" } else { "active" },
        "created_at": timestamp(t.created_at),
        "revoked_at": t.revoked_at.map(timestamp),
    })
}

/// A console user as of `now` (whether a lockout is still running).
pub fn console_user(u: &ConsoleUserView, now: OffsetDateTime) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "status": u.status(now),
        "created_at": timestamp(u.created_at),
        "disabled_at": u.disabled_at.map(timestamp),
        "locked_until": u.locked_until.filter(|until| *until > now).map(timestamp),
    })
}

pub fn client(c: &Client) -> Value {
    json!({
        "id": c.id,
        "client_group_id": c.client_group_id,
        "name": c.name,
        "type": c.client_type,
        "scopes": scope_names(&c.scopes),
        "connected": c.connected,
        "created_at": timestamp(c.created_at),
        "updated_at": timestamp(c.updated_at),
        "connected_at": c.connected_at.map(timestamp),
    })
}

fn money(minor: i64) -> String {
    format_two_decimals(minor)
}

pub fn voucher(v: &VoucherView) -> Value {
    json!({
        "id": v.id,
        "code": v.code,
        "pin": v.pin,
        "client_id": v.client_id,
        "sku": v.sku,
        "batch": v.batch,
        "amount_minor": v.amount_minor,
        "amount": money(v.amount_minor),
        "currency": v.currency.code(),
        "remaining_minor": v.remaining_minor,
        "remaining_amount": money(v.remaining_minor),
        "held_minor": v.held_minor,
        "status": v.status.as_str(),
        "type": v.kind.as_str(),
        "valid_until": v.valid_until.map(timestamp),
        "validity_value": v.validity.value,
        "validity_interval": v.validity.interval.as_str(),
        "taxable": v.taxable,
        "tax_rate": v.tax_rate,
        "order_number": v.order_number,
        "data": v.data,
        "deletable": v.deletable,
        "created_at": timestamp(v.created_at),
        "updated_at": timestamp(v.updated_at),
    })
}

pub fn entry(e: &EntryView) -> Value {
    json!({
        "id": e.id,
        "type": e.kind.as_str(),
        "amount_minor": e.amount_minor,
        "amount": money(e.amount_minor),
        "currency": e.currency.code(),
        "order_number": e.order_number,
        "refund_of": e.refund_of,
        "client_id": e.client_id,
        "created_at": timestamp(e.created_at),
    })
}

pub fn hold(h: &HoldView) -> Value {
    json!({
        "id": h.id,
        "purpose": h.purpose,
        "state": h.state.as_str(),
        "amount_minor": h.amount_minor,
        "amount": money(h.amount_minor),
        "currency": h.currency.code(),
        "client_id": h.client_id,
        "expires_at": timestamp(h.expires_at),
        "charge_id": h.charge_id,
        "created_at": timestamp(h.created_at),
        "updated_at": timestamp(h.updated_at),
    })
}

pub fn audit_event(a: &AuditEvent) -> Value {
    json!({
        "seq": a.seq,
        "at": timestamp(a.at),
        "actor_kind": a.actor_kind,
        "actor_id": a.actor_id,
        "action": a.action,
        "subject_kind": a.subject_kind,
        "subject_id": a.subject_id,
        "request_id": a.request_id,
        "detail": a.detail,
    })
}
