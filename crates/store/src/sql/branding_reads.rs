//! Reading a tenant's branding and its logo.

use voucherd_domain::Currency;

use super::SqlExec;
use crate::StoreError;
use crate::branding::{Branding, Logo};

/// The tenant's branding; the defaults (all `None`) when it set none.
pub(super) async fn branding<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
) -> Result<Branding, StoreError> {
    let row = tx
        .fetch_optional(
            "SELECT display_name, colour, support, terms_url, privacy_url, currency, \
             logo_type IS NOT NULL FROM tenant_branding WHERE tenant_id = $1",
            vec![tenant_id.into()],
        )
        .await?;
    let Some(row) = row else {
        return Ok(Branding::default());
    };
    let mut r = row.reader();
    Ok(Branding {
        display_name: r.opt_text()?,
        colour: r.opt_text()?,
        support: r.opt_text()?,
        terms_url: r.opt_text()?,
        privacy_url: r.opt_text()?,
        currency: r.opt_text()?.and_then(|c| Currency::parse(&c).ok()),
        has_logo: r.bool()?,
    })
}

/// The tenant's logo, if it set one.
pub(super) async fn logo<T: SqlExec>(
    tx: &mut T,
    tenant_id: &str,
) -> Result<Option<Logo>, StoreError> {
    let row = tx
        .fetch_optional(
            "SELECT logo_type, logo_base64 FROM tenant_branding \
             WHERE tenant_id = $1 AND logo_type IS NOT NULL",
            vec![tenant_id.into()],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut r = row.reader();
    let (content_type, base64) = (r.text()?, r.text()?);
    Logo::from_stored(&content_type, &base64)
        .map(Some)
        .ok_or_else(|| StoreError::Other("a stored logo does not read back".into()))
}
