//! Front Payment reservations outside the money: submitting one (with its lines), recording
//! that its payment link was opened, and sending the link again. Each records a history event
//! in the same transaction. Paying, capturing, charging, cancelling, completing and refunding
//! move money and are decided by the ledger engine (`voucherd_domain::engine::front`).
//!
//! Locks: the reservation row, the same row the engine's batches lock after their vouchers.

use serde_json::json;
use voucherd_domain::DomainError;
use voucherd_domain::engine::front::action_by;
use voucherd_domain::events::front_reservation_type;
use voucherd_domain::front::{self as rules, FrontRefusal, FrontStatus};
use voucherd_domain::secret;

use super::super::front_reads::{self, FrontRecord};
use super::{GENERATE_ATTEMPTS_MAX, Run, Step, refuse};
use crate::StoreError;
use crate::command::{Actor, Outcome};
use crate::front::{FrontLineInput, NewFrontReservation};
use crate::sql::SqlExec;

/// Digits after the prefix of reservation and customer ids.
const ID_DIGITS: usize = voucherd_domain::engine::POSTING_ID_DIGITS;

fn front(refusal: FrontRefusal) -> DomainError {
    DomainError::Front(refusal)
}

/// A history event about to be written.
struct Event<'a> {
    uuid: &'a str,
    title: &'a str,
    amount_minor: Option<i64>,
    sent_to: Option<&'a str>,
    note: Option<&'a str>,
}

impl<T: SqlExec> Run<'_, T> {
    /// A fresh `PREFIX` + 10 digits id that `taken_sql` (with `$1` = candidate, `$2` = tenant)
    /// does not find.
    async fn front_id(&mut self, prefix: &str, taken_sql: &str) -> Step<String> {
        for _ in 0..GENERATE_ATTEMPTS_MAX {
            let candidate = format!(
                "{prefix}{}",
                secret::random_string(b"0123456789", ID_DIGITS)
            );
            let params = vec![candidate.as_str().into(), self.tenant_id().into()];
            if !self.exists(taken_sql, params).await? {
                return Ok(Ok(candidate));
            }
        }
        refuse(DomainError::PatternExhausted)
    }

    async fn front_event(
        &mut self,
        reservation_pk: i64,
        event: Event<'_>,
    ) -> Result<(), StoreError> {
        let action_by = action_by(self.ctx.actor.kind());
        self.tx
            .execute(
                "INSERT INTO front_events (tenant_id, reservation_pk, uuid, title, at, amount_minor, \
                 sent_to, action_by, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                vec![
                    self.tenant_id().into(),
                    reservation_pk.into(),
                    event.uuid.into(),
                    event.title.into(),
                    self.now().into(),
                    event.amount_minor.into(),
                    event.sent_to.into(),
                    action_by.into(),
                    event.note.into(),
                ],
            )
            .await?;
        Ok(())
    }

    async fn front_audit(
        &mut self,
        action: &str,
        id: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        let tenant_id = self.ctx.tenant_id.clone();
        self.audit(&tenant_id, action, "front_reservation", id, detail)
            .await
    }

    async fn front_outcome(&mut self, id: &str) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let record = front_reads::reservation(self.tx, Some(&tenant_id), id, self.now())
            .await?
            .ok_or_else(|| StoreError::Other("reservation vanished".into()))?;
        Ok(Ok(Outcome::FrontReservation(Box::new(record.view))))
    }

    /// Locks the reservation and reads it.
    async fn lock_front(&mut self, id: &str) -> Step<FrontRecord> {
        let lock = format!(
            "SELECT pk FROM front_reservations WHERE tenant_id = $1 AND id = $2{}",
            self.dialect.lock_clause()
        );
        let params = vec![self.tenant_id().into(), id.into()];
        if !self.exists(&lock, params).await? {
            return refuse(front(FrontRefusal::ReservationNotFound));
        }
        let tenant_id = self.ctx.tenant_id.clone();
        let record = front_reads::reservation(self.tx, Some(&tenant_id), id, self.now())
            .await?
            .ok_or_else(|| StoreError::Other("reservation vanished under lock".into()))?;
        Ok(Ok(record))
    }

    // ------------------------------------------------------------ commands

    pub(super) async fn front_submit(&mut self, new: &NewFrontReservation) -> Step<Outcome> {
        let Actor::Merchant(token_id) = &self.ctx.actor else {
            return Err(StoreError::Other(
                "reservations are submitted by merchants".into(),
            ));
        };
        let token_id = token_id.clone();
        decided!(self.settings().await);
        let id = decided!(
            self.front_id(
                "RES",
                "SELECT 1 FROM front_reservations WHERE id = $1 AND $2 = $2"
            )
            .await
        );
        let customer_id = match &new.customer_id {
            Some(given) => given.clone(),
            None => format!("CSRT{}", secret::random_string(b"0123456789", ID_DIGITS)),
        };
        let row = self
            .tx
            .fetch_optional(
                "INSERT INTO front_reservations (tenant_id, id, merchant_token_id, customer_id, \
                 status, details, due_at, charge_limit_minor, charge_validity_days, \
                 capture_deadline_days, charge_partially_refundable, grand_total_minor, \
                 callback_url, success_url, failure_url, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'sent', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) \
                 RETURNING pk",
                vec![
                    self.tenant_id().into(),
                    id.as_str().into(),
                    token_id.as_str().into(),
                    customer_id.as_str().into(),
                    new.details.to_string().into(),
                    new.due_at.into(),
                    new.charge_limit_minor.into(),
                    new.charge_validity_days.into(),
                    rules::CAPTURE_DEADLINE_DAYS_DEFAULT.into(),
                    new.charge_partially_refundable.into(),
                    new.grand_total_minor.into(),
                    new.callback_url.as_deref().into(),
                    new.success_url.as_deref().into(),
                    new.failure_url.as_deref().into(),
                    self.now().into(),
                ],
            )
            .await?
            .ok_or_else(|| StoreError::Other("insert returned no key".into()))?;
        let pk = row.reader().int()?;
        for line in &new.lines {
            self.insert_front_line(pk, None, line).await?;
        }
        self.front_event(
            pk,
            Event {
                uuid: &id,
                title: "payment-link-sent-to-customer",
                amount_minor: Some(new.grand_total_minor),
                sent_to: new.sent_to.as_deref(),
                note: None,
            },
        )
        .await?;
        self.front_audit(
            "front.submit",
            &id,
            json!({ "grand_total_minor": new.grand_total_minor }),
        )
        .await?;
        // No voucher yet: the customer picks one on the payment page.
        let kind = front_reservation_type(FrontStatus::Sent).unwrap_or("front.reservation.sent");
        let sent = json!({ "reservation": { "id": id, "status": FrontStatus::Sent.as_str(),
            "grand_total_minor": new.grand_total_minor } });
        self.event(kind, None, sent);
        self.front_outcome(&id).await
    }

    async fn insert_front_line(
        &mut self,
        reservation_pk: i64,
        charge_entry_pk: Option<i64>,
        line: &FrontLineInput,
    ) -> Result<i64, StoreError> {
        let row = self
            .tx
            .fetch_optional(
                "INSERT INTO front_lines (reservation_pk, charge_entry_pk, name, product_id, \
                 rate_minor, tax, amount_minor, captured_minor) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING pk",
                vec![
                    reservation_pk.into(),
                    charge_entry_pk.into(),
                    line.name.as_str().into(),
                    line.product_id.as_deref().into(),
                    line.rate_minor.into(),
                    line.tax.as_str().into(),
                    line.amount_minor.into(),
                    // A charged line is drawn in full when it is made.
                    (if charge_entry_pk.is_some() {
                        line.amount_minor
                    } else {
                        0
                    })
                    .into(),
                ],
            )
            .await?
            .ok_or_else(|| StoreError::Other("insert returned no key".into()))?;
        row.reader().int()
    }

    pub(super) async fn front_open_link(&mut self, id: &str) -> Step<Outcome> {
        let record = decided!(self.lock_front(id).await);
        if record.link_opened || record.view.status != FrontStatus::Sent {
            return Ok(Ok(Outcome::FrontDone));
        }
        self.tx
            .execute(
                "UPDATE front_reservations SET link_opened_at = $2 WHERE pk = $1",
                vec![record.pk.into(), self.now().into()],
            )
            .await?;
        self.front_event(
            record.pk,
            Event {
                uuid: id,
                title: "payment-link-opened",
                amount_minor: None,
                sent_to: None,
                note: None,
            },
        )
        .await?;
        Ok(Ok(Outcome::FrontDone))
    }

    pub(super) async fn front_resend(&mut self, id: &str, sent_to: Option<&str>) -> Step<Outcome> {
        let record = decided!(self.lock_front(id).await);
        if let Err(refusal) = rules::decide_resend(&record.snapshot(), self.now()) {
            return refuse(front(refusal));
        }
        self.front_event(
            record.pk,
            Event {
                uuid: id,
                title: "payment-link-sent-to-customer",
                amount_minor: Some(record.view.grand_total_minor),
                sent_to,
                note: None,
            },
        )
        .await?;
        self.front_audit("front.resend", id, json!({})).await?;
        Ok(Ok(Outcome::FrontDone))
    }
}
