//! Series in the ledger: a series row (template, requested, issued, lease), and chunks that
//! issue its vouchers. A chunk locks the series row, issues at most what is left, and moves the
//! lease forward; so several nodes may work on one series and still never issue too many.

use serde_json::json;
use time::Duration;
use voucherd_domain::{DomainError, secret};

use super::super::series_reads;
use super::vouchers::Issue;
use super::{Run, Step, refuse};
use crate::StoreError;
use crate::command::Outcome;
use crate::series::{SERIES_VOUCHERS_MAX, SeriesState, SeriesTemplate};
use crate::sql::SqlExec;

/// How long a chunk's worker holds a series before another node may take it over.
pub const SERIES_LEASE_SECONDS: i64 = 60;

impl<T: SqlExec> Run<'_, T> {
    async fn series_outcome(&mut self, id: &str) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let view = series_reads::series(self.tx, &tenant_id, id)
            .await?
            .ok_or_else(|| StoreError::Other("series vanished".into()))?;
        Ok(Ok(Outcome::Series(Box::new(view.1))))
    }

    pub(super) async fn start_series(
        &mut self,
        template: &SeriesTemplate,
        count: i64,
    ) -> Step<Outcome> {
        decided!(self.settings().await);
        if !(1..=SERIES_VOUCHERS_MAX).contains(&count) || template.voucher().is_none() {
            return Err(StoreError::Other(
                "series refused by the face's checks".into(),
            ));
        }
        let id = format!("ser_{}", secret::opaque_id());
        let template_json = serde_json::to_string(template)
            .map_err(|e| StoreError::Other(format!("series template: {e}")))?;
        self.tx
            .execute(
                "INSERT INTO voucher_series (tenant_id, id, template, requested, state, \
                 lease_until, created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'running', $5, $6, $5, $5)",
                vec![
                    self.tenant_id().into(),
                    id.as_str().into(),
                    template_json.into(),
                    count.into(),
                    self.now().into(),
                    format!("{}:{}", self.ctx.actor.kind(), self.ctx.actor.id()).into(),
                ],
            )
            .await?;
        let tenant_id = self.ctx.tenant_id.clone();
        self.audit(
            &tenant_id,
            "series.start",
            "series",
            &id,
            json!({ "count": count, "amount_minor": template.amount_minor, "currency": template.currency }),
        )
        .await?;
        self.series_outcome(&id).await
    }

    pub(super) async fn issue_series_chunk(&mut self, id: &str, max: i64) -> Step<Outcome> {
        let lock = format!(
            "SELECT pk FROM voucher_series WHERE tenant_id = $1 AND id = $2{}",
            self.dialect.lock_clause()
        );
        if !self
            .exists(&lock, vec![self.tenant_id().into(), id.into()])
            .await?
        {
            return refuse(DomainError::VoucherNotFound);
        }
        let tenant_id = self.ctx.tenant_id.clone();
        let (series_pk, series) = series_reads::series(self.tx, &tenant_id, id)
            .await?
            .ok_or_else(|| StoreError::Other("series vanished under lock".into()))?;
        if series.state != SeriesState::Running {
            return self.series_outcome(id).await;
        }
        let settings = decided!(self.settings().await);
        let new = series
            .template
            .voucher()
            .ok_or_else(|| StoreError::Other("stored series template unreadable".into()))?;
        let count = max.clamp(0, series.requested - series.issued);
        for _ in 0..count {
            if let Err(refusal) = self
                .insert_voucher(&new, &settings, Issue::Series(series_pk))
                .await?
            {
                // The patterns ran out of fresh values: the series stops where it is.
                self.tx
                    .execute(
                        "UPDATE voucher_series SET state = 'failed', failure = $2, \
                         updated_at = $3, finished_at = $3 WHERE pk = $1",
                        vec![
                            series_pk.into(),
                            refusal.to_string().into(),
                            self.now().into(),
                        ],
                    )
                    .await?;
                return self.series_outcome(id).await;
            }
        }
        let issued = series.issued + count;
        let done = issued >= series.requested;
        self.tx
            .execute(
                "UPDATE voucher_series SET issued = $2, state = $3, lease_until = $4, \
                 updated_at = $5, finished_at = $6 WHERE pk = $1",
                vec![
                    series_pk.into(),
                    issued.into(),
                    (if done { "done" } else { "running" }).into(),
                    (self.now() + Duration::seconds(SERIES_LEASE_SECONDS)).into(),
                    self.now().into(),
                    done.then(|| self.now()).into(),
                ],
            )
            .await?;
        if done {
            self.audit(
                &tenant_id,
                "series.done",
                "series",
                id,
                json!({ "issued": issued }),
            )
            .await?;
            let completed = json!({ "series_id": id, "issued": issued });
            self.event(voucherd_domain::events::SERIES_COMPLETED, None, completed);
        }
        self.series_outcome(id).await
    }
}
