//! The shop's presentation on the payment page, set by the operator and audited: the fields at
//! once, the logo on its own (the audit records its type and size, not the image).

use serde_json::json;

use super::{Run, Step};
use crate::branding::{Branding, Logo};
use crate::command::Outcome;
use crate::sql::{SqlExec, branding_reads};

impl<T: SqlExec> Run<'_, T> {
    pub(super) async fn set_branding(&mut self, b: &Branding) -> Step<Outcome> {
        decided!(self.settings().await);
        let tenant_id = self.ctx.tenant_id.clone();
        self.tx
            .execute(
                "INSERT INTO tenant_branding (tenant_id, display_name, colour, support, \
                 terms_url, privacy_url, currency, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id) DO UPDATE SET \
                 display_name = $2, colour = $3, support = $4, terms_url = $5, \
                 privacy_url = $6, currency = $7, updated_at = $8",
                vec![
                    tenant_id.as_str().into(),
                    b.display_name.clone().into(),
                    b.colour.clone().into(),
                    b.support.clone().into(),
                    b.terms_url.clone().into(),
                    b.privacy_url.clone().into(),
                    b.currency.map(|c| c.code()).into(),
                    self.now().into(),
                ],
            )
            .await?;
        let detail = serde_json::to_value(b).unwrap_or_default();
        self.audit(&tenant_id, "branding.update", "tenant", &tenant_id, detail)
            .await?;
        let stored = branding_reads::branding(self.tx, &tenant_id).await?;
        Ok(Ok(Outcome::Branding(stored)))
    }

    pub(super) async fn set_logo(&mut self, logo: Option<&Logo>) -> Step<Outcome> {
        decided!(self.settings().await);
        let tenant_id = self.ctx.tenant_id.clone();
        let (content_type, base64) = match logo {
            Some(logo) => (Some(logo.content_type), Some(logo.to_base64())),
            None => (None, None),
        };
        self.tx
            .execute(
                "INSERT INTO tenant_branding (tenant_id, logo_type, logo_base64, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO UPDATE SET \
                 logo_type = $2, logo_base64 = $3, updated_at = $4",
                vec![
                    tenant_id.as_str().into(),
                    content_type.map(str::to_string).into(),
                    base64.into(),
                    self.now().into(),
                ],
            )
            .await?;
        let detail = json!({
            "content_type": content_type,
            "bytes": logo.map(|l| l.bytes.len()),
        });
        self.audit(&tenant_id, "branding.logo", "tenant", &tenant_id, detail)
            .await?;
        let stored = branding_reads::branding(self.tx, &tenant_id).await?;
        Ok(Ok(Outcome::Branding(stored)))
    }
}
