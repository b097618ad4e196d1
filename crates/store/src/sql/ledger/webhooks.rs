//! Webhook endpoints made and deleted by the operator, audited. A new endpoint delivers the
//! events committed after it was made: its cursor starts at the tenant's last event number.

use serde_json::json;
use voucherd_domain::{DomainError, secret, webhook};

use super::{Run, Step, refuse};
use crate::StoreError;
use crate::command::Outcome;
use crate::sql::{SqlExec, events, webhook_reads};
use crate::webhooks::{WEBHOOK_SECRET_GRACE_HOURS, WebhookEndpoint};

impl<T: SqlExec> Run<'_, T> {
    /// The endpoint as this command left it.
    async fn endpoint_as_written(&mut self, id: &str) -> Result<WebhookEndpoint, StoreError> {
        let tenant_id = self.ctx.tenant_id.clone();
        webhook_reads::endpoint(self.tx, &tenant_id, id)
            .await?
            .ok_or_else(|| StoreError::Other(format!("webhook endpoint {id} vanished")))
    }

    pub(super) async fn create_webhook(
        &mut self,
        url: &str,
        types: &[String],
        allow_private: bool,
    ) -> Step<Outcome> {
        decided!(self.settings().await);
        let tenant_id = self.ctx.tenant_id.clone();
        let id = format!("whe_{}", secret::opaque_id());
        let secret = webhook::new_secret();
        let cursor = events::last_seq(self.tx, &tenant_id).await?;
        self.tx
            .execute(
                "INSERT INTO webhook_endpoints (tenant_id, id, url, types, allow_private, secret, \
                 cursor, next_attempt_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8)",
                vec![
                    tenant_id.as_str().into(),
                    id.as_str().into(),
                    url.into(),
                    types.join(",").into(),
                    allow_private.into(),
                    secret.as_str().into(),
                    cursor.into(),
                    self.now().into(),
                ],
            )
            .await?;
        let detail = json!({ "url": url, "types": types, "allow_private": allow_private });
        self.audit(&tenant_id, "webhook.create", "webhook", &id, detail)
            .await?;
        let endpoint = self.endpoint_as_written(&id).await?;
        Ok(Ok(Outcome::WebhookEndpointCreated {
            endpoint: Box::new(endpoint),
            secret,
        }))
    }

    pub(super) async fn delete_webhook(&mut self, id: &str) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let deleted = self
            .tx
            .execute(
                "DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2",
                vec![tenant_id.as_str().into(), id.into()],
            )
            .await?;
        if deleted == 0 {
            return refuse(DomainError::WebhookNotFound);
        }
        self.audit(&tenant_id, "webhook.delete", "webhook", id, json!({}))
            .await?;
        Ok(Ok(Outcome::WebhookEndpointDeleted))
    }

    /// Moves the endpoint's cursor back to `after` (at most the tenant's last event number)
    /// and clears its failures, enabling it again: the events after `after` are sent again,
    /// with the same `webhook-id`s.
    pub(super) async fn redeliver_webhook(&mut self, id: &str, after: i64) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let last = events::last_seq(self.tx, &tenant_id).await?;
        let cursor = after.clamp(0, last);
        let changed = self
            .tx
            .execute(
                "UPDATE webhook_endpoints SET cursor = $3, attempts = 0, next_attempt_at = $4, \
                 failing_since = NULL, last_error = NULL, disabled_at = NULL, updated_at = $4 \
                 WHERE tenant_id = $1 AND id = $2",
                vec![
                    tenant_id.as_str().into(),
                    id.into(),
                    cursor.into(),
                    self.now().into(),
                ],
            )
            .await?;
        if changed == 0 {
            return refuse(DomainError::WebhookNotFound);
        }
        let detail = json!({ "after": cursor });
        self.audit(&tenant_id, "webhook.redeliver", "webhook", id, detail)
            .await?;
        let endpoint = self.endpoint_as_written(id).await?;
        Ok(Ok(Outcome::WebhookEndpoint(Box::new(endpoint))))
    }

    /// A new secret; the current one keeps signing, beside it, for
    /// [`WEBHOOK_SECRET_GRACE_HOURS`], so that receivers can switch without losing a delivery.
    pub(super) async fn rotate_webhook_secret(&mut self, id: &str) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let secret = webhook::new_secret();
        let until = self.now() + time::Duration::hours(WEBHOOK_SECRET_GRACE_HOURS);
        let changed = self
            .tx
            .execute(
                "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = $4, \
                 secret = $3, updated_at = $5 WHERE tenant_id = $1 AND id = $2",
                vec![
                    tenant_id.as_str().into(),
                    id.into(),
                    secret.as_str().into(),
                    until.into(),
                    self.now().into(),
                ],
            )
            .await?;
        if changed == 0 {
            return refuse(DomainError::WebhookNotFound);
        }
        self.audit(
            &tenant_id,
            "webhook.rotate_secret",
            "webhook",
            id,
            json!({}),
        )
        .await?;
        let endpoint = self.endpoint_as_written(id).await?;
        Ok(Ok(Outcome::WebhookSecretRotated {
            endpoint: Box::new(endpoint),
            secret,
        }))
    }
}
