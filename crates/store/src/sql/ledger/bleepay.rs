//! The bleepay face outside the money: payer accounts and tokens, contexts over a payer's
//! vouchers, and reserving 6-digit voucher codes. Redeeming, resolving and discarding a code
//! move money and are decided by the ledger engine (`voucherd_domain::engine::bleepay`).
//!
//! Codes are claimed in `bleepay_codes`, one row per (tenant, kind, code), by an upsert that
//! only takes over a row whose holder's time has passed: two concurrent claims of one code can
//! never both win, and codes return to the pool when they lapse, resolve or are discarded.
//!
//! Locks: the vouchers first (in key order), then the code or context row.

use serde_json::json;
use time::{Duration, OffsetDateTime};
use voucherd_domain::bleepay::{
    self as rules, BleepayRefusal, CodeFormat, CodeStatus, ContextStatus,
};
use voucherd_domain::events::bleepay_code_type;
use voucherd_domain::{DomainError, secret};

use super::super::bleepay_reads::{self, ContextKey, ContextRecord};
use super::super::reads::VoucherRecord;
use super::{GENERATE_ATTEMPTS_MAX, Run, Step, TOKEN_CHARS, as_stored, refuse};
use crate::StoreError;
use crate::bleepay::{BleepayCaller, ContextAddress, PayerKind};
use crate::command::Outcome;
use crate::sql::SqlExec;
use voucherd_domain::engine::lifecycle;

const CODE_KIND_CONTEXT: &str = "context";
const CODE_KIND_VOUCHER: &str = "voucher";

fn bleepay(refusal: BleepayRefusal) -> DomainError {
    DomainError::Bleepay(refusal)
}

impl<T: SqlExec> Run<'_, T> {
    /// Claims `code` for `holder_id` until `expires_at`, unless another holder's claim on it
    /// still runs. Answers whether the claim was taken.
    async fn claim_code(
        &mut self,
        kind: &str,
        code: &str,
        holder_id: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let claimed = self
            .tx
            .fetch_optional(
                "INSERT INTO bleepay_codes (tenant_id, kind, code, holder_id, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, kind, code) DO UPDATE \
                 SET holder_id = excluded.holder_id, expires_at = excluded.expires_at \
                 WHERE bleepay_codes.expires_at <= $6 RETURNING holder_id",
                vec![
                    self.tenant_id().into(),
                    kind.into(),
                    code.into(),
                    holder_id.into(),
                    expires_at.into(),
                    self.now().into(),
                ],
            )
            .await?;
        Ok(claimed.is_some())
    }

    /// Draws fresh codes until one can be claimed.
    async fn claim_fresh_code(
        &mut self,
        kind: &str,
        holder_id: &str,
        expires_at: OffsetDateTime,
        draw: impl Fn() -> String,
    ) -> Step<String> {
        for _ in 0..GENERATE_ATTEMPTS_MAX {
            let candidate = draw();
            if self
                .claim_code(kind, &candidate, holder_id, expires_at)
                .await?
            {
                return Ok(Ok(candidate));
            }
        }
        refuse(bleepay(BleepayRefusal::CodesExhausted))
    }

    /// Returns a holder's code to the pool now.
    async fn free_code(
        &mut self,
        kind: &str,
        code: &str,
        holder_id: &str,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE bleepay_codes SET expires_at = $5 \
                 WHERE tenant_id = $1 AND kind = $2 AND code = $3 AND holder_id = $4",
                vec![
                    self.tenant_id().into(),
                    kind.into(),
                    code.into(),
                    holder_id.into(),
                    self.now().into(),
                ],
            )
            .await?;
        Ok(())
    }

    /// A new bearer token for a payer account or a context's payee.
    async fn bleepay_token(
        &mut self,
        payer: Option<(i64, &str)>,
        context_pk: Option<i64>,
        expires_at: OffsetDateTime,
    ) -> Step<Outcome> {
        let token = secret::random_string(secret::ALPHANUMERIC, TOKEN_CHARS);
        self.tx
            .execute(
                "INSERT INTO bleepay_tokens (digest, tenant_id, payer_pk, context_pk, expires_at, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    secret::digest(&token).into(),
                    self.tenant_id().into(),
                    payer.map(|(pk, _)| pk).into(),
                    context_pk.into(),
                    expires_at.into(),
                    self.now().into(),
                ],
            )
            .await?;
        Ok(Ok(Outcome::BleepayToken {
            token,
            expires_at: as_stored(expires_at)?,
            payer_id: payer.map(|(_, id)| id.to_string()),
        }))
    }

    async fn payer_token(&mut self, payer_pk: i64, payer_id: &str) -> Step<Outcome> {
        let settings = decided!(self.settings().await);
        let expires_at = self.now() + Duration::seconds(settings.token_ttl_seconds);
        self.bleepay_token(Some((payer_pk, payer_id)), None, expires_at)
            .await
    }

    async fn bleepay_audit(
        &mut self,
        action: &str,
        kind: &str,
        id: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        let tenant_id = self.ctx.tenant_id.clone();
        self.audit(&tenant_id, action, kind, id, detail).await
    }

    pub(super) async fn payer_sign_up(
        &mut self,
        kind: PayerKind,
        identifier: &str,
        password_hash: &str,
    ) -> Step<Outcome> {
        let taken = self
            .exists(
                "SELECT 1 FROM payers WHERE tenant_id = $1 AND kind = $2 AND identifier = $3",
                vec![
                    self.tenant_id().into(),
                    kind.as_str().into(),
                    identifier.into(),
                ],
            )
            .await?;
        if taken {
            return refuse(bleepay(BleepayRefusal::AlreadyRegistered));
        }
        let payer_id = format!("usr_{}", secret::opaque_id());
        let row = self
            .tx
            .fetch_optional(
                "INSERT INTO payers (tenant_id, id, kind, identifier, password_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING pk",
                vec![
                    self.tenant_id().into(),
                    payer_id.as_str().into(),
                    kind.as_str().into(),
                    identifier.into(),
                    password_hash.into(),
                    self.now().into(),
                ],
            )
            .await?
            .ok_or_else(|| StoreError::Other("insert returned no key".into()))?;
        let payer_pk = row.reader().int()?;
        self.bleepay_audit(
            "payer.sign_up",
            "payer",
            &payer_id,
            json!({ "kind": kind.as_str() }),
        )
        .await?;
        self.payer_token(payer_pk, &payer_id).await
    }

    pub(super) async fn payer_sign_in(&mut self, payer_id: &str) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let Some(payer_pk) = bleepay_reads::payer_pk(self.tx, &tenant_id, payer_id).await? else {
            return refuse(bleepay(BleepayRefusal::NotFound));
        };
        self.payer_token(payer_pk, payer_id).await
    }

    pub(super) async fn payee_sign_in(&mut self, context_code: &str) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let now = self.now();
        let Some(context) =
            bleepay_reads::live_context_by_code(self.tx, &tenant_id, context_code, now).await?
        else {
            return refuse(bleepay(BleepayRefusal::InvalidCode));
        };
        self.bleepay_audit("payee.sign_in", "context", &context.view.id, json!({}))
            .await?;
        // A payee token lives as long as its context may be used.
        self.bleepay_token(None, Some(context.pk), context.view.expires_at)
            .await
    }

    /// A live voucher of this tenant by code, if `pin` opens it (a wrong PIN reads like an
    /// unknown code).
    async fn voucher_by_code_and_pin(
        &mut self,
        code: &str,
        pin: Option<&str>,
    ) -> Result<Option<VoucherRecord>, StoreError> {
        let Some(voucher) = self.lock_voucher("code", code.into()).await? else {
            return Ok(None);
        };
        Ok(lifecycle::pin_fits(voucher.view.pin.as_deref(), pin).then_some(voucher))
    }

    pub(super) async fn add_payer_voucher(
        &mut self,
        payer_id: &str,
        code: &str,
        pin: Option<&str>,
    ) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let Some(payer_pk) = bleepay_reads::payer_pk(self.tx, &tenant_id, payer_id).await? else {
            return refuse(bleepay(BleepayRefusal::NotFound));
        };
        let Some(voucher) = self.voucher_by_code_and_pin(code, pin).await? else {
            return refuse(bleepay(BleepayRefusal::InvalidVoucher));
        };
        let added = self
            .exists(
                "SELECT 1 FROM payer_vouchers WHERE payer_pk = $1 AND voucher_pk = $2",
                vec![payer_pk.into(), voucher.pk.into()],
            )
            .await?;
        if added {
            return refuse(bleepay(BleepayRefusal::AlreadyAdded));
        }
        self.tx
            .execute(
                "INSERT INTO payer_vouchers (payer_pk, voucher_pk, created_at) VALUES ($1, $2, $3)",
                vec![payer_pk.into(), voucher.pk.into(), self.now().into()],
            )
            .await?;
        self.bleepay_audit(
            "payer.add_voucher",
            "payer",
            payer_id,
            json!({ "voucher_id": voucher.view.id }),
        )
        .await?;
        let now = self.now();
        let view = bleepay_reads::payer_vouchers(self.tx, &tenant_id, payer_id, now)
            .await?
            .into_iter()
            .find(|v| v.voucher_id == voucher.view.id)
            .ok_or_else(|| StoreError::Other("added voucher vanished".into()))?;
        Ok(Ok(Outcome::PayerVoucher(view)))
    }

    async fn context_outcome(&mut self, pk: i64) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let record = bleepay_reads::context(self.tx, &tenant_id, ContextKey::Pk(pk))
            .await?
            .ok_or_else(|| StoreError::Other("context vanished".into()))?;
        Ok(Ok(Outcome::Context(Box::new(record.view))))
    }

    pub(super) async fn open_context(
        &mut self,
        payer_id: &str,
        format: CodeFormat,
        addresses: &[ContextAddress],
    ) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let Some(payer_pk) = bleepay_reads::payer_pk(self.tx, &tenant_id, payer_id).await? else {
            return refuse(bleepay(BleepayRefusal::NotFound));
        };
        let mut bound = Vec::with_capacity(addresses.len());
        for address in addresses {
            let voucher = self
                .voucher_by_code_and_pin(&address.code, address.pin.as_deref())
                .await?;
            let registered = match &voucher {
                Some(v) => {
                    self.exists(
                        "SELECT 1 FROM payer_vouchers WHERE payer_pk = $1 AND voucher_pk = $2",
                        vec![payer_pk.into(), v.pk.into()],
                    )
                    .await?
                }
                None => false,
            };
            match voucher {
                Some(v) if registered => bound.push((v.pk, address.code.as_str())),
                _ => return refuse(bleepay(BleepayRefusal::VoucherNotRegistered)),
            }
        }
        let id = format!("ctx_{}", secret::opaque_id());
        let expires_at = self.now() + rules::CONTEXT_VALIDITY;
        let code = decided!(
            self.claim_fresh_code(CODE_KIND_CONTEXT, &id, expires_at, || format.generate())
                .await
        );
        let row = self
            .tx
            .fetch_optional(
                "INSERT INTO bleepay_contexts (tenant_id, id, payer_pk, code, format, status, \
                 expires_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'OPEN', $6, $7, $7) RETURNING pk",
                vec![
                    tenant_id.as_str().into(),
                    id.as_str().into(),
                    payer_pk.into(),
                    code.as_str().into(),
                    format.as_str().into(),
                    expires_at.into(),
                    self.now().into(),
                ],
            )
            .await?
            .ok_or_else(|| StoreError::Other("insert returned no key".into()))?;
        let pk = row.reader().int()?;
        for (position, (voucher_pk, address)) in bound.iter().enumerate() {
            self.tx
                .execute(
                    "INSERT INTO bleepay_bindings (context_pk, position, voucher_pk, address) \
                     VALUES ($1, $2, $3, $4)",
                    vec![
                        pk.into(),
                        i64::try_from(position).unwrap_or(i64::MAX).into(),
                        (*voucher_pk).into(),
                        (*address).into(),
                    ],
                )
                .await?;
        }
        self.bleepay_audit(
            "context.open",
            "context",
            &id,
            json!({ "vouchers": bound.len(), "format": format.as_str() }),
        )
        .await?;
        self.context_outcome(pk).await
    }

    /// Locks a context row and reads it.
    async fn lock_context(&mut self, id: &str) -> Step<ContextRecord> {
        let lock = format!(
            "SELECT pk FROM bleepay_contexts WHERE tenant_id = $1 AND id = $2{}",
            self.dialect.lock_clause()
        );
        if !self
            .exists(&lock, vec![self.tenant_id().into(), id.into()])
            .await?
        {
            return refuse(bleepay(BleepayRefusal::NotFound));
        }
        let tenant_id = self.ctx.tenant_id.clone();
        let record = bleepay_reads::context(self.tx, &tenant_id, ContextKey::Id(id))
            .await?
            .ok_or_else(|| StoreError::Other("context vanished under lock".into()))?;
        Ok(Ok(record))
    }

    async fn close(
        &mut self,
        record: &ContextRecord,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE bleepay_contexts SET status = 'CLOSED', closed_reason = $2, updated_at = $3 \
                 WHERE pk = $1",
                vec![record.pk.into(), reason.into(), self.now().into()],
            )
            .await?;
        let (code, id) = (record.view.code.clone(), record.view.id.clone());
        self.free_code(CODE_KIND_CONTEXT, &code, &id).await
    }

    pub(super) async fn close_context(
        &mut self,
        payer_id: &str,
        context_id: &str,
        payee_id: Option<&str>,
    ) -> Step<Outcome> {
        let record = decided!(self.lock_context(context_id).await);
        if record.view.payer_id != payer_id {
            return refuse(bleepay(BleepayRefusal::NotFound));
        }
        if record.view.status_at(self.now()) == ContextStatus::Closed {
            return refuse(bleepay(BleepayRefusal::AlreadyClosed));
        }
        self.tx
            .execute(
                "UPDATE bleepay_contexts SET payee_id = $2 WHERE pk = $1",
                vec![record.pk.into(), payee_id.into()],
            )
            .await?;
        self.close(&record, None).await?;
        self.bleepay_audit("context.close", "context", context_id, json!({}))
            .await?;
        self.context_outcome(record.pk).await
    }

    pub(super) async fn context_miss(&mut self, context_id: &str) -> Step<Outcome> {
        let record = decided!(self.lock_context(context_id).await);
        let misses = record.misses + 1;
        self.tx
            .execute(
                "UPDATE bleepay_contexts SET misses = $2, updated_at = $3 WHERE pk = $1",
                vec![record.pk.into(), misses.into(), self.now().into()],
            )
            .await?;
        if misses >= rules::CONTEXT_MISSES_MAX
            && record.view.status_at(self.now()) == ContextStatus::Open
        {
            self.close(&record, Some("locked")).await?;
            self.bleepay_audit(
                "context.locked",
                "context",
                context_id,
                json!({ "misses": misses }),
            )
            .await?;
        }
        self.context_outcome(record.pk).await
    }

    async fn code_outcome(&mut self, id: &str) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let record = bleepay_reads::code(self.tx, &tenant_id, id)
            .await?
            .ok_or_else(|| StoreError::Other("voucher code vanished".into()))?;
        Ok(Ok(Outcome::Code(Box::new(record.view))))
    }

    pub(super) async fn reserve_code(
        &mut self,
        caller: &BleepayCaller,
        context_code: &str,
    ) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let now = self.now();
        let Some(context) =
            bleepay_reads::live_context_by_code(self.tx, &tenant_id, context_code, now).await?
        else {
            return refuse(bleepay(BleepayRefusal::InvalidCode));
        };
        let reserved_by = match caller {
            BleepayCaller::Payee { context_id } if *context_id != context.view.id => {
                return refuse(bleepay(BleepayRefusal::InvalidCode));
            }
            BleepayCaller::Payee { .. } => None,
            BleepayCaller::Payer(payer_id) => {
                bleepay_reads::payer_pk(self.tx, &tenant_id, payer_id).await?
            }
        };
        let id = format!("vch_{}", secret::opaque_id());
        let expires_at = now + rules::VOUCHER_CODE_VALIDITY;
        let code = decided!(
            self.claim_fresh_code(CODE_KIND_VOUCHER, &id, expires_at, rules::voucher_code)
                .await
        );
        self.tx
            .execute(
                "INSERT INTO bleepay_vouchers (tenant_id, id, context_pk, code, status, \
                 reserved_by, expires_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'RESERVED', $5, $6, $7, $7)",
                vec![
                    tenant_id.as_str().into(),
                    id.as_str().into(),
                    context.pk.into(),
                    code.as_str().into(),
                    reserved_by.into(),
                    expires_at.into(),
                    now.into(),
                ],
            )
            .await?;
        self.bleepay_audit(
            "code.reserve",
            "voucher_code",
            &id,
            json!({ "context_id": context.view.id }),
        )
        .await?;
        let reserved = CodeStatus::Reserved;
        let code = json!({ "code": { "id": id, "context_id": context.view.id,
            "status": reserved.as_str() } });
        self.event(bleepay_code_type(reserved), None, code);
        self.code_outcome(&id).await
    }
}
