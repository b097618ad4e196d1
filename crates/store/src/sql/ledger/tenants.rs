//! Tenants, their settings, client groups, clients, connection pins, access tokens and
//! merchant tokens: who may act in a tenant, and with which credentials.

use serde_json::json;
use time::Duration;
use voucherd_domain::secret::{self, ALPHANUMERIC, UNAMBIGUOUS};
use voucherd_domain::{DomainError, Scope};

use super::{Run, Step, TOKEN_CHARS, refuse};
use crate::StoreError;
use crate::command::Outcome;
use crate::model::{
    CONNECTION_PIN_TTL_SECONDS, Client, ClientGroup, MerchantToken, TenantSettings,
};
use crate::sql::SqlExec;
use crate::sql::reads;

/// Length of a connection pin (32-character alphabet: 40 bits).
const CONNECTION_PIN_CHARS: usize = 8;
/// Length of a client secret (62-character alphabet: 238 bits), as JTL's secrets.
const CLIENT_SECRET_CHARS: usize = 40;

impl<T: SqlExec> Run<'_, T> {
    pub(super) async fn create_tenant(&mut self, id: Option<&str>, name: &str) -> Step<Outcome> {
        let id = id.map_or_else(
            || secret::random_string(b"abcdefghijklmnopqrstuvwxyz0123456789", 12),
            str::to_string,
        );
        if self
            .exists(
                "SELECT 1 FROM tenants WHERE id = $1",
                vec![id.as_str().into()],
            )
            .await?
        {
            return refuse(DomainError::TenantIdTaken);
        }
        let s = TenantSettings::default();
        self.tx
            .execute(
                "INSERT INTO tenants (id, name, voucher_id_pattern, code_pattern, pin_pattern, \
                 default_validity_value, default_validity_interval, reservation_ttl_seconds, \
                 token_ttl_seconds, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                vec![
                    id.as_str().into(),
                    name.into(),
                    s.voucher_id_pattern.as_str().into(),
                    s.code_pattern.as_str().into(),
                    s.pin_pattern.clone().into(),
                    s.default_validity.value.into(),
                    s.default_validity.interval.as_str().into(),
                    s.reservation_ttl_seconds.into(),
                    s.token_ttl_seconds.into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.audit(&id, "tenant.create", "tenant", &id, json!({ "name": name }))
            .await?;
        let tenant = reads::tenant(self.tx, &id)
            .await?
            .ok_or_else(|| StoreError::Other("created tenant vanished".into()))?;
        Ok(Ok(Outcome::Tenant(tenant)))
    }

    pub(super) async fn update_settings(&mut self, s: &TenantSettings) -> Step<Outcome> {
        let changed = self
            .tx
            .execute(
                "UPDATE tenants SET voucher_id_pattern = $2, code_pattern = $3, pin_pattern = $4, \
                 default_validity_value = $5, default_validity_interval = $6, \
                 reservation_ttl_seconds = $7, token_ttl_seconds = $8, updated_at = $9 \
                 WHERE id = $1",
                vec![
                    self.tenant_id().into(),
                    s.voucher_id_pattern.as_str().into(),
                    s.code_pattern.as_str().into(),
                    s.pin_pattern.clone().into(),
                    s.default_validity.value.into(),
                    s.default_validity.interval.as_str().into(),
                    s.reservation_ttl_seconds.into(),
                    s.token_ttl_seconds.into(),
                    self.now().into(),
                ],
            )
            .await?;
        if changed == 0 {
            return refuse(DomainError::TenantNotFound);
        }
        let tenant_id = self.ctx.tenant_id.clone();
        let detail = serde_json::to_value(s).unwrap_or_default();
        self.audit(&tenant_id, "settings.update", "tenant", &tenant_id, detail)
            .await?;
        Ok(Ok(Outcome::Settings(s.clone())))
    }

    pub(super) async fn create_client_group(
        &mut self,
        name: &str,
        scopes: &[Scope],
    ) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        decided!(self.settings().await);
        let id = secret::opaque_id();
        let scope_list = Scope::join(scopes);
        self.tx
            .execute(
                "INSERT INTO client_groups (tenant_id, id, name, scopes, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                vec![
                    tenant_id.as_str().into(),
                    id.as_str().into(),
                    name.into(),
                    scope_list.as_str().into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.audit(
            &tenant_id,
            "client_group.create",
            "client_group",
            &id,
            json!({ "name": name, "scopes": scope_list }),
        )
        .await?;
        let mut sorted = scopes.to_vec();
        sorted.sort();
        sorted.dedup();
        Ok(Ok(Outcome::ClientGroup(ClientGroup {
            id,
            name: name.to_string(),
            scopes: sorted,
            created_at: self.now(),
        })))
    }

    pub(super) async fn create_client(
        &mut self,
        name: &str,
        group_id: &str,
        client_type: &str,
    ) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        if !self
            .exists(
                "SELECT 1 FROM client_groups WHERE tenant_id = $1 AND id = $2",
                vec![tenant_id.as_str().into(), group_id.into()],
            )
            .await?
        {
            return refuse(DomainError::ClientGroupNotFound);
        }
        let id = secret::opaque_id();
        self.tx
            .execute(
                "INSERT INTO clients (tenant_id, id, client_group_id, name, type, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                vec![
                    tenant_id.as_str().into(),
                    id.as_str().into(),
                    group_id.into(),
                    name.into(),
                    client_type.into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.audit(
            &tenant_id,
            "client.create",
            "client",
            &id,
            json!({ "name": name }),
        )
        .await?;
        self.client_outcome(&tenant_id, &id).await
    }

    pub(super) async fn client_outcome(
        &mut self,
        tenant_id: &str,
        client_id: &str,
    ) -> Step<Outcome> {
        Ok(reads::client(self.tx, tenant_id, client_id)
            .await?
            .map(Outcome::Client)
            .ok_or(DomainError::ClientNotFound))
    }

    pub(super) async fn issue_pin(&mut self, client_id: &str) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        if reads::client(self.tx, &tenant_id, client_id)
            .await?
            .is_none()
        {
            return refuse(DomainError::ClientNotFound);
        }
        let pin = secret::random_string(UNAMBIGUOUS, CONNECTION_PIN_CHARS);
        let expires_at = self.now() + Duration::seconds(CONNECTION_PIN_TTL_SECONDS);
        self.tx
            .execute(
                "INSERT INTO connection_pins (pin_digest, tenant_id, client_id, expires_at, \
                 created_at) VALUES ($1, $2, $3, $4, $5)",
                vec![
                    secret::digest(&pin).into(),
                    tenant_id.as_str().into(),
                    client_id.into(),
                    expires_at.into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.audit(&tenant_id, "client.pin", "client", client_id, json!({}))
            .await?;
        Ok(Ok(Outcome::ConnectionPin { pin, expires_at }))
    }

    pub(super) async fn connect(&mut self, pin: &str) -> Step<Outcome> {
        let sql = format!(
            "SELECT tenant_id, client_id, expires_at, used_at FROM connection_pins \
             WHERE pin_digest = $1{}",
            self.dialect.lock_clause()
        );
        let pin_digest = secret::digest(pin);
        let Some(row) = self
            .tx
            .fetch_optional(&sql, vec![pin_digest.as_str().into()])
            .await?
        else {
            return refuse(DomainError::PinInvalid);
        };
        let mut r = row.reader();
        let (tenant_id, client_id, expires_at, used_at) =
            (r.text()?, r.text()?, r.time()?, r.opt_time()?);
        if used_at.is_some() || expires_at <= self.now() {
            return refuse(DomainError::PinInvalid);
        }
        let secret = secret::random_string(ALPHANUMERIC, CLIENT_SECRET_CHARS);
        self.tx
            .execute(
                "UPDATE connection_pins SET used_at = $2 WHERE pin_digest = $1",
                vec![pin_digest.into(), self.now().into()],
            )
            .await?;
        // Connecting again rotates the credentials: earlier tokens stop working.
        self.tx
            .execute(
                "DELETE FROM access_tokens WHERE tenant_id = $1 AND client_id = $2",
                vec![tenant_id.as_str().into(), client_id.as_str().into()],
            )
            .await?;
        self.tx
            .execute(
                "UPDATE clients SET secret_digest = $3, connected_at = $4, updated_at = $4 \
                 WHERE tenant_id = $1 AND id = $2",
                vec![
                    tenant_id.as_str().into(),
                    client_id.as_str().into(),
                    secret::digest(&secret).into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.audit(
            &tenant_id,
            "client.connect",
            "client",
            &client_id,
            json!({}),
        )
        .await?;
        let client = decided!(self.client_outcome(&tenant_id, &client_id).await);
        let Outcome::Client(client) = client else {
            return Err(StoreError::Other("client outcome expected".into()));
        };
        Ok(Ok(Outcome::Connected {
            tenant_id,
            client: Client { ..client },
            secret,
        }))
    }

    pub(super) async fn issue_token(
        &mut self,
        client_id: &str,
        secret_text: &str,
        requested: Option<&[Scope]>,
        client_type: Option<&str>,
    ) -> Step<Outcome> {
        let Some(row) = self
            .tx
            .fetch_optional(
                "SELECT c.tenant_id, c.secret_digest, g.scopes, t.token_ttl_seconds \
                 FROM clients c \
                 JOIN client_groups g ON g.tenant_id = c.tenant_id AND g.id = c.client_group_id \
                 JOIN tenants t ON t.id = c.tenant_id WHERE c.id = $1",
                vec![client_id.into()],
            )
            .await?
        else {
            return refuse(DomainError::ClientCredentialsInvalid);
        };
        let mut r = row.reader();
        let (tenant_id, stored_digest, group_scopes, ttl) =
            (r.text()?, r.opt_text()?, r.text()?, r.int()?);
        let presented = secret::digest(secret_text);
        if !stored_digest.is_some_and(|d| secret::constant_time_eq(&d, &presented)) {
            return refuse(DomainError::ClientCredentialsInvalid);
        }
        let allowed = Scope::parse_list(&group_scopes)
            .ok_or_else(|| StoreError::Other("stored scope list invalid".into()))?;
        let scopes = match requested {
            None => allowed,
            Some(asked) if asked.iter().all(|s| allowed.contains(s)) => asked.to_vec(),
            Some(_) => return refuse(DomainError::ScopeNotAllowed),
        };
        let token = secret::random_string(ALPHANUMERIC, TOKEN_CHARS);
        let expires_at = self.now() + Duration::seconds(ttl);
        self.tx
            .execute(
                "INSERT INTO access_tokens (token_digest, tenant_id, client_id, scopes, \
                 client_type, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                vec![
                    secret::digest(&token).into(),
                    tenant_id.as_str().into(),
                    client_id.into(),
                    Scope::join(&scopes).into(),
                    client_type.into(),
                    expires_at.into(),
                    self.now().into(),
                ],
            )
            .await?;
        Ok(Ok(Outcome::Token {
            token,
            scopes,
            expires_at,
        }))
    }

    pub(super) async fn disconnect(&mut self, client_id: &str) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        let changed = self
            .tx
            .execute(
                "UPDATE clients SET secret_digest = NULL, connected_at = NULL, updated_at = $3 \
                 WHERE tenant_id = $1 AND id = $2",
                vec![
                    tenant_id.as_str().into(),
                    client_id.into(),
                    self.now().into(),
                ],
            )
            .await?;
        if changed == 0 {
            return refuse(DomainError::ClientNotFound);
        }
        self.tx
            .execute(
                "DELETE FROM access_tokens WHERE tenant_id = $1 AND client_id = $2",
                vec![tenant_id.as_str().into(), client_id.into()],
            )
            .await?;
        self.audit(
            &tenant_id,
            "client.disconnect",
            "client",
            client_id,
            json!({}),
        )
        .await?;
        Ok(Ok(Outcome::Disconnected))
    }

    pub(super) async fn create_merchant_token(&mut self, name: &str) -> Step<Outcome> {
        let tenant_id = self.ctx.tenant_id.clone();
        decided!(self.settings().await);
        let id = secret::opaque_id();
        let token = secret::random_string(ALPHANUMERIC, TOKEN_CHARS);
        let callback_secret = secret::random_string(ALPHANUMERIC, TOKEN_CHARS);
        self.tx
            .execute(
                "INSERT INTO merchant_tokens (tenant_id, id, name, token_digest, callback_secret, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    tenant_id.as_str().into(),
                    id.as_str().into(),
                    name.into(),
                    secret::digest(&token).into(),
                    callback_secret.as_str().into(),
                    self.now().into(),
                ],
            )
            .await?;
        self.audit(
            &tenant_id,
            "merchant_token.create",
            "merchant_token",
            &id,
            json!({ "name": name }),
        )
        .await?;
        Ok(Ok(Outcome::MerchantToken {
            id,
            name: name.to_string(),
            token,
            callback_secret,
        }))
    }

    async fn merchant_token(
        &mut self,
        token_id: &str,
    ) -> Result<Option<MerchantToken>, StoreError> {
        let row = self
            .tx
            .fetch_optional(
                "SELECT id, name, created_at, revoked_at FROM merchant_tokens \
                 WHERE tenant_id = $1 AND id = $2",
                vec![self.ctx.tenant_id.as_str().into(), token_id.into()],
            )
            .await?;
        row.map(|row| {
            let mut r = row.reader();
            Ok(MerchantToken {
                id: r.text()?,
                name: r.text()?,
                created_at: r.time()?,
                revoked_at: r.opt_time()?,
            })
        })
        .transpose()
    }

    /// Revokes a merchant token; revoking it again changes nothing and answers the same.
    pub(super) async fn revoke_merchant_token(&mut self, token_id: &str) -> Step<Outcome> {
        let Some(mut token) = self.merchant_token(token_id).await? else {
            return refuse(DomainError::MerchantTokenNotFound);
        };
        if token.revoked_at.is_none() {
            let tenant_id = self.ctx.tenant_id.clone();
            self.tx
                .execute(
                    "UPDATE merchant_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2",
                    vec![
                        tenant_id.as_str().into(),
                        token_id.into(),
                        self.now().into(),
                    ],
                )
                .await?;
            self.audit(
                &tenant_id,
                "merchant_token.revoke",
                "merchant_token",
                token_id,
                json!({ "name": token.name }),
            )
            .await?;
            token.revoked_at = Some(self.stored_now()?);
        }
        Ok(Ok(Outcome::MerchantTokenRevoked(token)))
    }
}
