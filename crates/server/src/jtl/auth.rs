//! Bearer tokens of the JTL face: who is calling, in which tenant, with which scopes.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use voucherd_domain::{Scope, secret};

use super::error::JtlError;
use crate::AppState;
use crate::wire::bearer;

/// An authenticated API client.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: String,
    pub client_id: String,
    pub scopes: Vec<Scope>,
}

impl Caller {
    /// Refuses with 403 `"Forbidden"` unless the token carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), JtlError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(JtlError::Forbidden)
        }
    }

    pub fn may_read_secrets(&self) -> bool {
        self.scopes.contains(&Scope::ReadSecrets)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = JtlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, JtlError> {
        let token = bearer(parts).ok_or(JtlError::Unauthenticated)?;
        let digest = secret::digest(token);
        let now = state.clock.now();
        let grant = match state.tokens.get(&digest, now) {
            Some(grant) => grant,
            None => {
                let grant = state
                    .store
                    .token_grant(&digest, now)
                    .await
                    .map_err(|e| JtlError::from_store(&e))?
                    .ok_or(JtlError::Unauthenticated)?;
                state.tokens.put(&digest, grant.clone(), now);
                grant
            }
        };
        state
            .admit_caller(|| format!("jtl/{}/{}", grant.tenant_id, grant.client_id))
            .map_err(JtlError::TooManyRequests)?;
        Ok(Caller {
            tenant_id: grant.tenant_id,
            client_id: grant.client_id,
            scopes: grant.scopes,
        })
    }
}
