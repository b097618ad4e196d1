//! Stories of voucher creation: values sent that are taken, values drawn from the tenant's
//! patterns that collide and are drawn again or run out, the answer equal to what a read
//! gives, and the statements a creation costs.

use std::sync::Arc;

use voucherd_domain::{DomainError, VoucherStatus};

use super::{Caller, T0, eur, tenant};
use crate::command::NewVoucher;
use crate::model::TenantSettings;
use crate::{Actor, Command, CommandContext, CommandRequest, Execution, Outcome, Store};

/// An active voucher of 25.00 with this id and code, or drawn ones.
fn new_voucher(id: Option<&str>, code: Option<&str>) -> NewVoucher {
    NewVoucher {
        id: id.map(str::to_string),
        code: code.map(str::to_string),
        ..NewVoucher::digital(2_500, eur(), VoucherStatus::Active)
    }
}

fn active(id: Option<&str>, code: Option<&str>) -> Command {
    Command::CreateVoucher(new_voucher(id, code))
}

/// Sets the tenant's id and code patterns.
async fn patterns(store: &Arc<dyn Store>, id_pattern: &str, code_pattern: &str) {
    let admin = Caller::new(store, "default", Actor::Admin("test".into()));
    admin
        .run(Command::UpdateSettings(TenantSettings {
            voucher_id_pattern: id_pattern.into(),
            code_pattern: code_pattern.into(),
            ..TenantSettings::default()
        }))
        .await
        .expect("settings updated");
}

pub async fn taken_values_are_refused_and_drawn_ones_drawn_again(store: Arc<dyn Store>) {
    let till = tenant(&store, "default").await;
    // One code only; ids from two values.
    patterns(&store, "V-[AB]", "ONLY-CODE").await;
    let first = till.run(active(Some("V-A"), None)).await.expect("created");
    let Outcome::Voucher(first) = first else {
        panic!("{first:?}")
    };
    assert_eq!(
        (first.id.as_str(), first.code.as_str()),
        ("V-A", "ONLY-CODE")
    );
    // The answer is what a read gives.
    let read = store
        .voucher("default", "V-A", T0)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read, first);

    // Sent values that are taken are refused, whatever is drawn beside them.
    assert_eq!(
        till.run(active(None, Some("ONLY-CODE"))).await,
        Err(DomainError::VoucherCodeTaken)
    );
    assert_eq!(
        till.run(active(Some("V-A"), Some("OTHER-CODE"))).await,
        Err(DomainError::VoucherIdTaken)
    );
    assert_eq!(
        till.run(active(Some("V-A"), Some("ONLY-CODE"))).await,
        Err(DomainError::VoucherIdAndCodeTaken)
    );
    // The one code is taken: every draw collides until the attempts run out.
    assert_eq!(
        till.run(active(None, None)).await,
        Err(DomainError::PatternExhausted)
    );
    // A drawn id that collides with V-A is drawn again until it finds V-B (a draw misses it
    // sixteen times in a row once in 65 536 runs).
    let second = till
        .run(active(None, Some("SECOND")))
        .await
        .expect("created");
    let Outcome::Voucher(second) = second else {
        panic!("{second:?}")
    };
    assert_eq!(second.id, "V-B");
    assert_eq!(
        till.run(active(None, Some("THIRD"))).await,
        Err(DomainError::PatternExhausted)
    );
    // An import names the first row whose own value is taken, by an earlier row or by a
    // voucher before it, and writes none of its rows.
    for (rows, column) in [
        ([("I-1", "IMPORT-1"), ("I-2", "IMPORT-1")], "code"),
        ([("I-3", "IMPORT-2"), ("V-B", "IMPORT-3")], "custom_id"),
    ] {
        let rows = rows
            .iter()
            .map(|(id, code)| new_voucher(Some(id), Some(code)))
            .collect();
        assert_eq!(
            till.run(Command::ImportVouchers { rows }).await,
            Err(DomainError::ImportRowTaken {
                row: 1,
                column: column.into()
            })
        );
    }
    // Refusals wrote nothing: two vouchers, each with its issue entry only.
    let listed = store
        .vouchers(
            "default",
            &crate::model::VoucherFilter::default(),
            crate::model::PageRequest {
                page: 1,
                per_page: 10,
            },
            T0,
        )
        .await
        .expect("list");
    assert_eq!(listed.total, 2);
    till.assert_integrity(T0).await;
}

/// A voucher created with a code sent and its id drawn costs a fixed set of statements: no
/// lookup of either value before the insert; on PostgreSQL four (its savepoint, the tenant's
/// settings, the insert, the issue entry with the audit record; the events are appended with
/// the batch's).
pub async fn a_new_voucher_costs_a_fixed_number_of_statements<B>(
    store: Arc<crate::sql::SqlStore<B>>,
    dialect: crate::sql::Dialect,
) where
    B: crate::sql::Backend,
{
    let dyn_store: Arc<dyn Store> = store.clone();
    tenant(&dyn_store, "default").await;
    let request = CommandRequest {
        context: CommandContext {
            tenant_id: "default".into(),
            actor: Actor::Client("till-1".into()),
            request_id: "conformance".into(),
            now: T0,
        },
        command: active(None, Some("COUNTED")),
        idempotency: None,
    };
    let (statements, answer) = store
        .command_statements(&request)
        .await
        .expect("the command runs");
    assert!(
        matches!(answer, Execution::Done(Ok(Outcome::Voucher(_)))),
        "{answer:?}"
    );
    assert!(
        !statements
            .iter()
            .any(|s| s.starts_with("SELECT 1 FROM vouchers")),
        "a value was looked up before the insert: {statements:#?}"
    );
    if dialect == crate::sql::Dialect::Postgres {
        assert_eq!(statements.len(), 4, "{statements:#?}");
    }
}
