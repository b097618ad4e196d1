//! The checks after a run: the ledger's integrity check must pass, and the ledger must hold
//! exactly what the run saw acknowledged, to the cent and to the voucher.

use std::sync::Arc;

use anyhow::{Context, bail};
use reqwest::Method;

use crate::api::{VOUCHER_MINOR, minor_units};
use crate::scenario::{RunSetup, Tally};

/// Readers used to look up the balances of the vouchers a run touched.
const BALANCE_READERS: usize = 16;

/// Fails unless the ledger agrees with `tally`.
pub async fn ledger_agrees(setup: Arc<RunSetup>, admin: &str, tally: &Tally) -> anyhow::Result<()> {
    let api = &setup.api;
    let integrity = api
        .expect(
            Method::GET,
            "/admin/api/v1/tenants/default/integrity",
            admin,
            None,
            200,
        )
        .await?;
    let violations = integrity["violations"].as_array().map_or(0, Vec::len);
    let spent = spent_on_touched(setup.clone(), tally).await?;
    let created = api
        .expect(
            Method::GET,
            &format!(
                "/admin/api/v1/tenants/default/vouchers?batch={}&per_page=1",
                setup.created_batch
            ),
            admin,
            None,
            200,
        )
        .await?["total"]
        .as_u64()
        .context("voucher list total")?;
    println!(
        "ledger: {violations} integrity violations; net spent acknowledged {} minor, in the ledger {spent} minor; vouchers created acknowledged {}, in the ledger {created}",
        tally.net_spent_minor(),
        tally.created,
    );
    if violations > 0 {
        bail!("{violations} integrity violations: {integrity}");
    }
    if tally.server_errors() > 0 || tally.transport_errors > 0 {
        bail!(
            "{} server errors and {} requests without an answer",
            tally.server_errors(),
            tally.transport_errors
        );
    }
    if spent != tally.net_spent_minor() || created != tally.created {
        bail!("the ledger does not hold exactly what was acknowledged");
    }
    Ok(())
}

/// What the ledger took off the vouchers the run touched, in minor units.
async fn spent_on_touched(setup: Arc<RunSetup>, tally: &Tally) -> anyhow::Result<i64> {
    let touched: Arc<Vec<usize>> = Arc::new(tally.touched.iter().copied().collect());
    let mut readers = Vec::new();
    for reader in 0..BALANCE_READERS {
        let (setup, touched) = (setup.clone(), touched.clone());
        readers.push(tokio::spawn(async move {
            let mut spent = 0_i64;
            for &voucher in touched.iter().skip(reader).step_by(BALANCE_READERS) {
                let id = &setup.pool[voucher].id;
                let found = setup
                    .api
                    .expect(
                        Method::GET,
                        &format!("/v1/vouchers/{id}"),
                        &setup.token,
                        None,
                        200,
                    )
                    .await?;
                let remaining = found["remaining_amount"]
                    .as_str()
                    .and_then(minor_units)
                    .with_context(|| format!("remaining amount of {id}: {found}"))?;
                spent += VOUCHER_MINOR - remaining;
            }
            anyhow::Ok(spent)
        }));
    }
    let mut spent = 0;
    for reader in readers {
        spent += reader.await??;
    }
    Ok(spent)
}
