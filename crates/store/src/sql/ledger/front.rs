//! Front Payment reservations in the ledger. Paying holds the grand total on the voucher (a
//! hold of purpose `front`, expiring at the capture deadline); a capture draws on that hold, a
//! charge on the voucher's available balance, a refund puts money back against one capture or
//! charge. Every change records a history event and, when the merchant gave a callback URL and
//! the status changed, a callback in the outbox, in the same transaction.
//!
//! Locks: the voucher first (by code when paying, else through the reservation), then the
//! reservation row, the same order as every other command that touches a voucher.

use std::collections::BTreeMap;

use serde_json::json;
use time::Duration;
use voucherd_domain::front::{self as rules, FrontRefusal, FrontStatus};
use voucherd_domain::ledger::{self, HoldSnapshot};
use voucherd_domain::secret;
use voucherd_domain::{DomainError, EntryKind};

use super::super::front_reads::{self, FrontRecord};
use super::super::reads::VoucherRecord;
use super::{GENERATE_ATTEMPTS_MAX, NewEntry, Run, Step, refuse};
use crate::StoreError;
use crate::command::{Actor, Outcome};
use crate::front::{FrontLineInput, LineAmount, NewFrontReservation, PostingSource};
use crate::sql::SqlExec;
use voucherd_domain::engine::lifecycle;

/// The hold purpose of Front Payment reservations (several may live on one voucher).
const PURPOSE_FRONT: &str = "front";
/// Digits after the prefix of reservation, capture, charge and customer ids.
const ID_DIGITS: usize = 10;

fn front(refusal: FrontRefusal) -> DomainError {
    DomainError::Front(refusal)
}

/// A reservation locked for change, with its voucher once paid.
struct Locked {
    record: FrontRecord,
    voucher: Option<VoucherRecord>,
}

/// A history event about to be written.
struct Event<'a> {
    uuid: &'a str,
    title: &'a str,
    amount_minor: Option<i64>,
    sent_to: Option<&'a str>,
    note: Option<&'a str>,
}

/// Sums the amounts per line id, keeping the first-seen order irrelevant (ids sorted).
fn per_line(lines: &[LineAmount]) -> BTreeMap<i64, i64> {
    let mut sums = BTreeMap::new();
    for line in lines {
        *sums.entry(line.line_id).or_insert(0) += line.amount_minor;
    }
    sums
}

impl<T: SqlExec> Run<'_, T> {
    /// Who the history names as acting.
    fn action_by(&self) -> &'static str {
        match self.ctx.actor {
            Actor::Merchant(_) => "merchant",
            Actor::Anonymous => "customer",
            Actor::Admin(_) => "operator",
            Actor::Client(_) | Actor::System | Actor::Payer(_) | Actor::Payee(_) => "system",
        }
    }

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

    /// A fresh `CAP…`/`CHA…` entry id.
    async fn posting_id(&mut self, source: PostingSource) -> Step<String> {
        let prefix = match source {
            PostingSource::Captured => "CAP",
            PostingSource::Charged => "CHA",
        };
        self.front_id(
            prefix,
            "SELECT 1 FROM entries WHERE id = $1 AND tenant_id = $2",
        )
        .await
    }

    async fn front_event(
        &mut self,
        reservation_pk: i64,
        event: Event<'_>,
    ) -> Result<(), StoreError> {
        let action_by = self.action_by();
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

    /// Puts a status callback in the outbox if the merchant asked for callbacks.
    async fn front_callback(
        &mut self,
        record: &FrontRecord,
        status: FrontStatus,
        amount_minor: i64,
    ) -> Result<(), StoreError> {
        let Some(url) = record.view.callback_url.as_deref() else {
            return Ok(());
        };
        self.tx
            .execute(
                "INSERT INTO front_callbacks (tenant_id, merchant_token_id, url, order_uuid, status, \
                 created_at, amount_minor, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $6)",
                vec![
                    self.tenant_id().into(),
                    record.merchant_token_id.as_str().into(),
                    url.into(),
                    record.view.id.as_str().into(),
                    status.as_str().into(),
                    self.now().into(),
                    amount_minor.into(),
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

    async fn set_front_status(&mut self, pk: i64, status: FrontStatus) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE front_reservations SET status = $2, updated_at = $3 WHERE pk = $1",
                vec![pk.into(), status.as_str().into(), self.now().into()],
            )
            .await?;
        Ok(())
    }

    /// Ends what the reservation's hold still holds.
    async fn release_front_hold(&mut self, record: &FrontRecord) -> Result<(), StoreError> {
        if let Some(hold_pk) = record.hold_pk {
            self.tx
                .execute(
                    "UPDATE holds SET state = CASE WHEN expires_at > $2 THEN 'released' \
                     ELSE 'expired' END, updated_at = $2 WHERE pk = $1 AND state = 'live'",
                    vec![hold_pk.into(), self.now().into()],
                )
                .await?;
        }
        Ok(())
    }

    async fn front_outcome(&mut self, id: &str) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let record = front_reads::reservation(self.tx, Some(&tenant_id), id, self.now())
            .await?
            .ok_or_else(|| StoreError::Other("reservation vanished".into()))?;
        Ok(Ok(Outcome::FrontReservation(Box::new(record.view))))
    }

    /// Locks the reservation's voucher (once paid), then the reservation, and reads both.
    async fn lock_front(&mut self, id: &str) -> Step<Locked> {
        let mut voucher = self
            .lock_voucher_where(
                "v.pk = (SELECT r.voucher_pk FROM front_reservations r \
                 WHERE r.tenant_id = $2 AND r.id = $3)",
                vec![id.into()],
            )
            .await?;
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
        // Paid while this command waited for the reservation's lock: lock that voucher too.
        if let Some(voucher_pk) = record.voucher_pk
            && voucher.as_ref().is_none_or(|v| v.pk != voucher_pk)
        {
            voucher = self.lock_voucher("pk", voucher_pk.into()).await?;
        }
        Ok(Ok(Locked { record, voucher }))
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
        let locked = decided!(self.lock_front(id).await);
        let record = locked.record;
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

    pub(super) async fn front_pay(
        &mut self,
        id: &str,
        code: &str,
        pin: Option<&str>,
    ) -> Step<Outcome> {
        let Some(voucher) = self.lock_voucher("code", code.into()).await? else {
            return refuse(DomainError::VoucherNotFound);
        };
        // A wrong PIN answers exactly like an unknown code.
        if !lifecycle::pin_fits(voucher.view.pin.as_deref(), pin) {
            return refuse(DomainError::VoucherNotFound);
        }
        let locked = decided!(self.lock_front(id).await);
        let record = locked.record;
        if let Err(refusal) = rules::decide_pay(&record.snapshot(), self.now()) {
            return refuse(front(refusal));
        }
        // Front Payment's amounts have two decimals.
        if voucher.view.currency.minor_unit_digits() != Some(2) {
            return refuse(DomainError::CurrencyMismatch);
        }
        let others: Vec<HoldSnapshot> = self
            .live_holds(voucher.pk)
            .await?
            .into_iter()
            .map(|(_, hold)| hold)
            .collect();
        if let Err(refusal) = ledger::decide_reserve(
            &Self::snapshot(&voucher),
            &others,
            record.view.grand_total_minor,
            voucher.view.currency,
            self.now(),
        ) {
            return refuse(refusal);
        }
        let expires_at = self.now() + Duration::days(record.capture_deadline_days);
        let (hold_pk, hold_id) = self
            .insert_hold(
                voucher.pk,
                PURPOSE_FRONT,
                record.view.grand_total_minor,
                voucher.view.currency,
                expires_at,
            )
            .await?;
        self.tx
            .execute(
                "UPDATE front_reservations SET status = 'reserved', voucher_pk = $2, hold_pk = $3, \
                 reserved_at = $4, updated_at = $4 WHERE pk = $1",
                vec![
                    record.pk.into(),
                    voucher.pk.into(),
                    hold_pk.into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.front_event(
            record.pk,
            Event {
                uuid: id,
                title: "amount-reserved",
                amount_minor: Some(record.view.grand_total_minor),
                sent_to: None,
                note: None,
            },
        )
        .await?;
        self.front_callback(
            &record,
            FrontStatus::Reserved,
            record.view.grand_total_minor,
        )
        .await?;
        self.front_audit(
            "front.reserve",
            id,
            json!({ "voucher_id": voucher.view.id, "hold_id": hold_id, "amount_minor": record.view.grand_total_minor }),
        )
        .await?;
        self.front_outcome(id).await
    }

    /// Records a capture or charge: the posting, what it drew per line, the reservation's
    /// totals and status, the history event and the callback.
    async fn front_posting(
        &mut self,
        record: &FrontRecord,
        entry_pk: i64,
        entry_id: &str,
        source: PostingSource,
        drawn: &BTreeMap<i64, i64>,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        let total: i64 = drawn.values().sum();
        self.tx
            .execute(
                "INSERT INTO front_postings (entry_pk, reservation_pk, source, note) \
                 VALUES ($1, $2, $3, $4)",
                vec![
                    entry_pk.into(),
                    record.pk.into(),
                    source.as_str().into(),
                    note.into(),
                ],
            )
            .await?;
        for (line_pk, amount) in drawn.iter().filter(|(_, amount)| **amount > 0) {
            self.tx
                .execute(
                    "INSERT INTO front_posting_lines (entry_pk, line_pk, amount_minor) \
                     VALUES ($1, $2, $3)",
                    vec![entry_pk.into(), (*line_pk).into(), (*amount).into()],
                )
                .await?;
        }
        let (column, status, title) = match source {
            PostingSource::Captured => (
                "captured_minor",
                FrontStatus::Captured,
                "amount-captured-from-reservation",
            ),
            PostingSource::Charged => (
                "charged_minor",
                FrontStatus::Charged,
                "amount-charged-from-card",
            ),
        };
        self.tx
            .execute(
                &format!(
                    "UPDATE front_reservations SET {column} = {column} + $2, status = $3, \
                     updated_at = $4 WHERE pk = $1"
                ),
                vec![
                    record.pk.into(),
                    total.into(),
                    status.as_str().into(),
                    self.now().into(),
                ],
            )
            .await?;
        let sent_to = record
            .view
            .details
            .pointer("/customerDetails/email")
            .and_then(|e| e.as_str())
            .map(str::to_string);
        let sent_to = (source == PostingSource::Charged)
            .then_some(sent_to)
            .flatten();
        self.front_event(
            record.pk,
            Event {
                uuid: entry_id,
                title,
                amount_minor: Some(total),
                sent_to: sent_to.as_deref(),
                note,
            },
        )
        .await?;
        self.front_callback(record, status, total).await
    }

    pub(super) async fn front_capture(
        &mut self,
        id: &str,
        lines: &[LineAmount],
        note: Option<&str>,
    ) -> Step<Outcome> {
        let Locked { record, voucher } = decided!(self.lock_front(id).await);
        if let Err(refusal) = rules::decide_capture(&record.snapshot(), self.now()) {
            return refuse(front(refusal));
        }
        let (Some(voucher), Some(hold_pk)) = (voucher, record.hold_pk) else {
            return refuse(front(FrontRefusal::PaymentCardNotFound));
        };
        let wanted = per_line(lines);
        for (line_id, amount) in &wanted {
            let Some(line) = record
                .view
                .lines
                .iter()
                .find(|l| l.id == *line_id && l.charge_id.is_none())
            else {
                return refuse(front(FrontRefusal::RefundLineNotAvailable));
            };
            if *amount > line.amount_minor - line.captured_minor {
                return refuse(front(FrontRefusal::CaptureRunwayExceeded));
            }
        }
        let total: i64 = wanted.values().sum();
        // What the hold still holds: less than the lines allow once the voucher was
        // deactivated (which releases its holds).
        if total > record.view.held_minor {
            return refuse(front(FrontRefusal::CaptureRunwayExceeded));
        }
        let entry_id = decided!(self.posting_id(PostingSource::Captured).await);
        let currency = voucher.view.currency;
        let (entry_pk, _) = self
            .insert_entry(
                voucher.pk,
                &voucher.view.id,
                NewEntry {
                    id: Some(entry_id.clone()),
                    kind: EntryKind::Charge,
                    amount_minor: total,
                    currency,
                    order_number: Some(id),
                    refund_of: None,
                    hold_pk: Some(hold_pk),
                },
            )
            .await?;
        let left = record.view.held_minor - total;
        let (sql, params) = if left == 0 {
            (
                "UPDATE holds SET state = 'charged', charge_entry_pk = $2, updated_at = $3 WHERE pk = $1",
                vec![hold_pk.into(), entry_pk.into(), self.now().into()],
            )
        } else {
            (
                "UPDATE holds SET amount_minor = $2, updated_at = $3 WHERE pk = $1",
                vec![hold_pk.into(), left.into(), self.now().into()],
            )
        };
        self.tx.execute(sql, params).await?;
        for (line_id, amount) in &wanted {
            self.tx
                .execute(
                    "UPDATE front_lines SET captured_minor = captured_minor + $2 WHERE pk = $1",
                    vec![(*line_id).into(), (*amount).into()],
                )
                .await?;
        }
        self.front_posting(
            &record,
            entry_pk,
            &entry_id,
            PostingSource::Captured,
            &wanted,
            note,
        )
        .await?;
        self.front_audit(
            "front.capture",
            id,
            json!({ "capture_id": entry_id, "voucher_id": voucher.view.id, "amount_minor": total }),
        )
        .await?;
        Ok(Ok(Outcome::FrontPosting { id: entry_id }))
    }

    pub(super) async fn front_charge(
        &mut self,
        id: &str,
        lines: &[FrontLineInput],
        note: Option<&str>,
    ) -> Step<Outcome> {
        let Locked { record, voucher } = decided!(self.lock_front(id).await);
        let total: i64 = lines.iter().map(|l| l.amount_minor).sum();
        let available = match &voucher {
            Some(v) if ledger::check_usable(&Self::snapshot(v), self.now()).is_ok() => {
                let holds: Vec<HoldSnapshot> = self
                    .live_holds(v.pk)
                    .await?
                    .into_iter()
                    .map(|(_, hold)| hold)
                    .collect();
                v.view.remaining_minor - ledger::held_minor(&holds, self.now())
            }
            _ => 0,
        };
        if let Err(refusal) = rules::decide_charge(&record.snapshot(), total, available, self.now())
        {
            return refuse(front(refusal));
        }
        let Some(voucher) = voucher else {
            return refuse(front(FrontRefusal::PaymentCardNotFound));
        };
        let entry_id = decided!(self.posting_id(PostingSource::Charged).await);
        let (entry_pk, _) = self
            .insert_entry(
                voucher.pk,
                &voucher.view.id,
                NewEntry {
                    id: Some(entry_id.clone()),
                    kind: EntryKind::Charge,
                    amount_minor: total,
                    currency: voucher.view.currency,
                    order_number: Some(id),
                    refund_of: None,
                    hold_pk: None,
                },
            )
            .await?;
        let mut drawn = BTreeMap::new();
        for line in lines {
            let line_pk = self
                .insert_front_line(record.pk, Some(entry_pk), line)
                .await?;
            drawn.insert(line_pk, line.amount_minor);
        }
        self.front_posting(
            &record,
            entry_pk,
            &entry_id,
            PostingSource::Charged,
            &drawn,
            note,
        )
        .await?;
        self.front_audit(
            "front.charge",
            id,
            json!({ "charge_id": entry_id, "voucher_id": voucher.view.id, "amount_minor": total }),
        )
        .await?;
        Ok(Ok(Outcome::FrontPosting { id: entry_id }))
    }

    /// Cancel and complete: end the hold, set the status, record and announce it.
    async fn front_close(
        &mut self,
        record: &FrontRecord,
        status: FrontStatus,
        title: &str,
        note: &str,
        amount_minor: i64,
    ) -> Step<Outcome> {
        self.release_front_hold(record).await?;
        self.set_front_status(record.pk, status).await?;
        self.front_event(
            record.pk,
            Event {
                uuid: &record.view.id,
                title,
                amount_minor: None,
                sent_to: None,
                note: Some(note),
            },
        )
        .await?;
        self.front_callback(record, status, amount_minor).await?;
        self.front_audit(
            &format!("front.{}", status.as_str()),
            &record.view.id,
            json!({ "note": note }),
        )
        .await?;
        Ok(Ok(Outcome::FrontDone))
    }

    pub(super) async fn front_cancel(&mut self, id: &str, note: &str) -> Step<Outcome> {
        let Locked { record, .. } = decided!(self.lock_front(id).await);
        if let Err(refusal) = rules::decide_cancel(&record.snapshot(), self.now()) {
            return refuse(front(refusal));
        }
        let amount = record.view.grand_total_minor;
        self.front_close(
            &record,
            FrontStatus::Cancelled,
            "reservation-cancelled",
            note,
            amount,
        )
        .await
    }

    pub(super) async fn front_complete(&mut self, id: &str, note: &str) -> Step<Outcome> {
        let Locked { record, .. } = decided!(self.lock_front(id).await);
        if let Err(refusal) = rules::decide_complete(&record.snapshot(), self.now()) {
            return refuse(front(refusal));
        }
        let drawn = record.view.captured_minor + record.view.charged_minor;
        self.front_close(
            &record,
            FrontStatus::Completed,
            "reservation-completed",
            note,
            drawn,
        )
        .await
    }

    pub(super) async fn front_resend(&mut self, id: &str, sent_to: Option<&str>) -> Step<Outcome> {
        let Locked { record, .. } = decided!(self.lock_front(id).await);
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

    pub(super) async fn front_refund(
        &mut self,
        id: &str,
        source: PostingSource,
        reference: &str,
        lines: &[LineAmount],
    ) -> Step<Outcome> {
        let Locked { record, voucher } = decided!(self.lock_front(id).await);
        let posting = self
            .tx
            .fetch_optional(
                "SELECT e.pk, e.amount_minor, p.refunded_minor FROM front_postings p \
                 JOIN entries e ON e.pk = p.entry_pk \
                 WHERE p.reservation_pk = $1 AND e.id = $2 AND p.source = $3",
                vec![record.pk.into(), reference.into(), source.as_str().into()],
            )
            .await?;
        let (Some(posting), Some(voucher)) = (posting, voucher) else {
            return refuse(front(FrontRefusal::RefundTransactionNotFound));
        };
        let (posting_pk, posting_minor, posting_refunded) = {
            let mut r = posting.reader();
            (r.int()?, r.int()?, r.int()?)
        };
        let drawn: BTreeMap<i64, (i64, i64)> = self
            .tx
            .fetch(
                "SELECT line_pk, amount_minor, refunded_minor FROM front_posting_lines \
                 WHERE entry_pk = $1",
                vec![posting_pk.into()],
            )
            .await?
            .iter()
            .map(|row| {
                let mut r = row.reader();
                Ok((r.int()?, (r.int()?, r.int()?)))
            })
            .collect::<Result<_, StoreError>>()?;
        let wanted = per_line(lines);
        for (line_id, amount) in &wanted {
            let Some((line_minor, refunded)) = drawn.get(line_id) else {
                return refuse(front(FrontRefusal::RefundLineNotAvailable));
            };
            if let Err(refusal) = rules::decide_line_refund(*line_minor, *refunded, *amount) {
                return refuse(front(refusal));
            }
        }
        let total: i64 = wanted.values().sum();
        if source == PostingSource::Charged
            && !record.view.charge_partially_refundable
            && total != posting_minor - posting_refunded
        {
            return refuse(front(FrontRefusal::PartialChargeRefundNotAllowed));
        }
        if let Err(refusal) = ledger::decide_refund(
            &Self::snapshot(&voucher),
            posting_minor,
            posting_refunded,
            total,
            voucher.view.currency,
        ) {
            return refuse(refusal);
        }
        let (_, entry) = self
            .insert_entry(
                voucher.pk,
                &voucher.view.id,
                NewEntry {
                    id: None,
                    kind: EntryKind::Refund,
                    amount_minor: total,
                    currency: voucher.view.currency,
                    order_number: Some(id),
                    refund_of: Some((posting_pk, reference)),
                    hold_pk: None,
                },
            )
            .await?;
        for (line_id, amount) in &wanted {
            self.tx
                .execute(
                    "UPDATE front_posting_lines SET refunded_minor = refunded_minor + $3 \
                     WHERE entry_pk = $1 AND line_pk = $2",
                    vec![posting_pk.into(), (*line_id).into(), (*amount).into()],
                )
                .await?;
        }
        self.tx
            .execute(
                "UPDATE front_postings SET refunded_minor = refunded_minor + $2, refunded_at = $3 \
                 WHERE entry_pk = $1",
                vec![posting_pk.into(), total.into(), self.now().into()],
            )
            .await?;
        let column = match source {
            PostingSource::Captured => "refunded_captured_minor",
            PostingSource::Charged => "refunded_charged_minor",
        };
        self.tx
            .execute(
                &format!(
                    "UPDATE front_reservations SET {column} = {column} + $2, updated_at = $3 \
                     WHERE pk = $1"
                ),
                vec![record.pk.into(), total.into(), self.now().into()],
            )
            .await?;
        let title = match source {
            PostingSource::Captured => "refund-sent-from-captured",
            PostingSource::Charged => "refund-sent-from-charged",
        };
        self.front_event(
            record.pk,
            Event {
                uuid: reference,
                title,
                amount_minor: Some(total),
                sent_to: None,
                note: None,
            },
        )
        .await?;
        self.front_audit(
            "front.refund",
            id,
            json!({ "reference": reference, "refund_id": entry.id, "amount_minor": total }),
        )
        .await?;
        Ok(Ok(Outcome::FrontDone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_for_the_same_line_add_up() {
        let sums = per_line(&[
            LineAmount {
                line_id: 7,
                amount_minor: 100,
            },
            LineAmount {
                line_id: 3,
                amount_minor: 5,
            },
            LineAmount {
                line_id: 7,
                amount_minor: 50,
            },
        ]);
        assert_eq!(sums.into_iter().collect::<Vec<_>>(), vec![(3, 5), (7, 150)]);
    }
}
