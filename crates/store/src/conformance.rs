//! The conformance suite: every store backend must pass each of these stories. A backend's
//! test binary calls [`conformance_tests!`](crate::conformance_tests) with an expression that
//! opens a fresh, empty store, and gets one test per story.
//!
//! The stories talk only to the [`Store`] trait, with time moved by hand, never by sleeping.

mod creation;
mod sequences;
mod wallet;

use std::sync::Arc;

use time::{Duration, OffsetDateTime, macros::datetime};
use voucherd_domain::{
    BALANCE_MINOR_MAX, Currency, DomainError, HoldState, Scope, VoucherKind, VoucherStatus,
};

use crate::command::{NewVoucher, VoucherRef};
use crate::front::{FrontLineInput, LineAmount, PayingVoucher, PostingSource};
use crate::model::{AuditFilter, EntryFilter, PageRequest, VoucherFilter};
use crate::{
    Actor, Command, CommandContext, CommandRequest, CommandResult, Execution, IdempotencyRequest,
    Outcome, Store, StoredResponse,
};

pub use creation::{
    a_new_voucher_costs_a_fixed_number_of_statements,
    taken_values_are_refused_and_drawn_ones_drawn_again,
};
pub use sequences::random_command_sequences_keep_the_balance_invariant;

/// The time the stories start at.
pub const T0: OffsetDateTime = datetime!(2026-03-01 09:00 UTC);

/// A command a backend's writer tests queue in numbers: create the client group `group {n}`
/// in the default tenant, as the system, now.
pub fn create_group(n: usize) -> CommandRequest {
    CommandRequest {
        context: CommandContext {
            tenant_id: crate::model::DEFAULT_TENANT_ID.into(),
            actor: Actor::System,
            request_id: format!("writer-test-{n}"),
            now: OffsetDateTime::now_utc(),
        },
        command: Command::CreateClientGroup {
            name: format!("group {n}"),
            scopes: Vec::new(),
        },
        idempotency: None,
    }
}

/// The names of the default tenant's client groups, sorted.
pub async fn group_names(store: &dyn Store) -> Vec<String> {
    let mut names: Vec<String> = store
        .client_groups(crate::model::DEFAULT_TENANT_ID)
        .await
        .expect("list groups")
        .into_iter()
        .map(|g| g.name)
        .collect();
    names.sort();
    names
}

/// Generates one `#[tokio::test]` per story for a backend. `$open` is an async expression
/// returning `Option<Arc<dyn Store>>`; `None` skips (the backend printed why).
#[macro_export]
macro_rules! conformance_tests {
    ($open:expr) => {
        $crate::conformance_tests!(@each $open;
            full_ledger_flow_balances,
            a_new_reservation_supersedes_the_live_one,
            reservations_expire_with_the_clock,
            charging_again_with_the_same_order_number_returns_the_same_charge,
            refunds_are_limited_to_the_charge,
            a_refund_never_lifts_a_voucher_past_the_balance_limit,
            idempotent_replay_changes_nothing,
            an_abandoned_command_is_applied_once_and_whole,
            tenants_are_isolated,
            connection_pins_are_single_use_and_expire,
            tokens_are_revoked_on_disconnect,
            only_untouched_vouchers_can_be_deleted,
            concurrent_reserve_and_charge_never_overdraw,
            a_reservation_charged_from_many_tills_at_once_is_charged_once,
            contended_vouchers_are_never_reported_missing,
            concurrent_commands_each_get_their_own_answer,
            lists_filter_and_paginate,
            random_command_sequences_keep_the_balance_invariant,
            webhook_deliveries_keep_only_the_latest,
            taken_values_are_refused_and_drawn_ones_drawn_again,
        );
    };
    (@each $open:expr; $($story:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $story() {
                if let Some(store) = $open.await {
                    $crate::conformance::$story(store).await;
                }
            }
        )+
    };
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR is a currency")
}

/// A client of one tenant, acting at a settable time.
pub struct Caller {
    store: Arc<dyn Store>,
    tenant_id: String,
    actor: Actor,
}

impl Caller {
    fn new(store: &Arc<dyn Store>, tenant_id: &str, actor: Actor) -> Self {
        Caller {
            store: store.clone(),
            tenant_id: tenant_id.into(),
            actor,
        }
    }

    async fn run_at(&self, now: OffsetDateTime, command: Command) -> CommandResult {
        match self.submit(now, command, None).await {
            Execution::Done(result) => result,
            other => panic!("no idempotency key was sent, got {other:?}"),
        }
    }

    async fn submit(
        &self,
        now: OffsetDateTime,
        command: Command,
        idempotency: Option<IdempotencyRequest>,
    ) -> Execution {
        self.store
            .execute(CommandRequest {
                context: CommandContext {
                    tenant_id: self.tenant_id.clone(),
                    actor: self.actor.clone(),
                    request_id: "conformance".into(),
                    now,
                },
                command,
                idempotency,
            })
            .await
            .expect("the store answers")
    }

    async fn run(&self, command: Command) -> CommandResult {
        self.run_at(T0, command).await
    }

    async fn voucher(&self, amount_minor: i64, code: &str) -> String {
        let new = NewVoucher {
            code: Some(code.into()),
            ..NewVoucher::digital(amount_minor, eur(), VoucherStatus::Active)
        };
        match self.run(Command::CreateVoucher(new)).await {
            Ok(Outcome::Voucher(v)) => v.id,
            other => panic!("voucher not created: {other:?}"),
        }
    }

    async fn reserve_at(
        &self,
        now: OffsetDateTime,
        code: &str,
        amount_minor: i64,
    ) -> CommandResult {
        self.run_at(
            now,
            Command::Reserve {
                code: code.into(),
                pin: None,
                amount_minor,
                currency: eur(),
            },
        )
        .await
    }

    async fn reservation(&self, code: &str, amount_minor: i64) -> String {
        match self.reserve_at(T0, code, amount_minor).await {
            Ok(Outcome::Reservation(h)) => h.id,
            other => panic!("reservation refused: {other:?}"),
        }
    }

    async fn charge_at(
        &self,
        now: OffsetDateTime,
        reservation_id: &str,
        order: &str,
    ) -> CommandResult {
        self.run_at(
            now,
            Command::ChargeReservation {
                reservation_id: reservation_id.into(),
                order_number: order.into(),
            },
        )
        .await
    }

    async fn remaining(&self, voucher_id: &str) -> (i64, i64) {
        let v = self
            .store
            .voucher(&self.tenant_id, voucher_id, T0)
            .await
            .expect("read")
            .expect("voucher exists");
        (v.remaining_minor, v.held_minor)
    }

    async fn assert_integrity(&self, now: OffsetDateTime) {
        let report = self
            .store
            .integrity(&self.tenant_id, now)
            .await
            .expect("check");
        assert!(report.violations.is_empty(), "{:?}", report.violations);
        assert!(report.vouchers_checked > 0);
    }
}

async fn tenant(store: &Arc<dyn Store>, id: &str) -> Caller {
    store.bootstrap(T0).await.expect("bootstrap");
    if id != crate::model::DEFAULT_TENANT_ID {
        let admin = Caller::new(store, id, Actor::Admin("test".into()));
        admin
            .run(Command::CreateTenant {
                id: Some(id.into()),
                name: id.into(),
            })
            .await
            .expect("tenant created");
    }
    Caller::new(store, id, Actor::Client("till-1".into()))
}

pub async fn full_ledger_flow_balances(store: Arc<dyn Store>) {
    let till = tenant(&store, "default").await;
    let voucher_id = till.voucher(10_000, "FLOW-CODE").await;
    let reservation = till.reservation("FLOW-CODE", 2_500).await;
    assert_eq!(till.remaining(&voucher_id).await, (10_000, 2_500));
    let charge = match till.charge_at(T0, &reservation, "ORDER-1").await {
        Ok(Outcome::Charge {
            entry,
            first_time: true,
        }) => entry,
        other => panic!("charge refused: {other:?}"),
    };
    assert_eq!(charge.amount_minor, 2_500);
    assert_eq!(till.remaining(&voucher_id).await, (7_500, 0));
    let refund = till
        .run(Command::Refund {
            charge_id: charge.id.clone(),
            amount_minor: 1_000,
            currency: eur(),
        })
        .await;
    assert!(
        matches!(&refund, Ok(Outcome::Refund(e)) if e.order_number.as_deref() == Some("ORDER-1")),
        "{refund:?}"
    );
    let recharge = till
        .run(Command::Recharge {
            voucher: VoucherRef::Code("FLOW-CODE".into()),
            amount_minor: 500,
            currency: eur(),
            order_number: "TOPUP-1".into(),
        })
        .await;
    assert!(matches!(recharge, Ok(Outcome::Recharge(_))), "{recharge:?}");
    assert_eq!(till.remaining(&voucher_id).await, (9_000, 0));
    let entries = store
        .entries(
            "default",
            &voucher_id,
            &EntryFilter::default(),
            PageRequest {
                page: 1,
                per_page: 10,
            },
        )
        .await
        .expect("read")
        .expect("voucher exists");
    let kinds: Vec<_> = entries.items.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["charge", "refund", "recharge"]);
    let audit = store
        .audit(
            "default",
            &AuditFilter::default(),
            PageRequest {
                page: 1,
                per_page: 50,
            },
        )
        .await
        .expect("audit");
    assert!(
        audit
            .items
            .iter()
            .any(|e| e.action == "hold.charge" && e.request_id == "conformance")
    );
    till.assert_integrity(T0).await;
}

pub async fn a_new_reservation_supersedes_the_live_one(store: Arc<dyn Store>) {
    let till = tenant(&store, "default").await;
    let other_till = Caller::new(&store, "default", Actor::Client("till-2".into()));
    let voucher_id = till.voucher(1_000, "SUPERSEDE").await;
    let first = till.reservation("SUPERSEDE", 800).await;
    // The replacing reservation may use the whole balance: the first one no longer holds it.
    let second = other_till.reservation("SUPERSEDE", 1_000).await;
    assert_eq!(till.remaining(&voucher_id).await, (1_000, 1_000));
    assert_eq!(
        till.charge_at(T0, &first, "A").await,
        Err(DomainError::ReservationExpired)
    );
    let read = store
        .reservation("default", &first, T0)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(read.state, HoldState::Superseded);
    // A refused reservation leaves the live one in place.
    assert_eq!(
        till.reserve_at(T0, "SUPERSEDE", 1_001).await.err(),
        Some(DomainError::InsufficientBalance)
    );
    assert!(matches!(
        till.charge_at(T0, &second, "B").await,
        Ok(Outcome::Charge { .. })
    ));
    till.assert_integrity(T0).await;
}

pub async fn reservations_expire_with_the_clock(store: Arc<dyn Store>) {
    let till = tenant(&store, "default").await;
    let voucher_id = till.voucher(1_000, "EXPIRY").await;
    let reservation = till.reservation("EXPIRY", 600).await;
    till.voucher(1_000, "EXPIRY-LATER").await;
    let Ok(Outcome::Reservation(still_live)) = till
        .reserve_at(T0 + Duration::minutes(20), "EXPIRY-LATER", 100)
        .await
    else {
        panic!("the second reservation was refused");
    };
    let later = T0 + Duration::minutes(30);
    assert_eq!(
        till.charge_at(later, &reservation, "LATE").await,
        Err(DomainError::ReservationExpired)
    );
    let v = store
        .voucher("default", &voucher_id, later)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!((v.remaining_minor, v.held_minor), (1_000, 0));
    let swept = store.sweep(later).await.expect("sweep");
    assert_eq!(swept.holds_expired, 1);
    let read = store
        .reservation("default", &reservation, later)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(read.state, HoldState::Expired);
    // The expiry is an event, with the voucher's figures after it: nothing held any more.
    let expiries = store
        .events(
            "default",
            &crate::events::EventFilter {
                after: 0,
                limit: 100,
                types: vec!["hold.expired".into()],
                voucher_id: None,
                from: None,
                to: None,
            },
        )
        .await
        .expect("events");
    assert_eq!(expiries.len(), 1, "{expiries:?}");
    let expiry = &expiries[0];
    assert_eq!(expiry.voucher_id.as_deref(), Some(voucher_id.as_str()));
    assert_eq!(expiry.data["hold"]["id"], serde_json::json!(reservation));
    assert_eq!(expiry.data["voucher"]["held"]["minor"], 0);
    assert_eq!(expiry.data["voucher"]["balance"]["minor"], 1_000);
    assert_eq!(
        (expiry.face.as_str(), expiry.actor_kind.as_str()),
        ("system", "system")
    );
    // The sweep marks only what has run out, and each hold once.
    let live = store
        .reservation("default", &still_live.id, later)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(live.state, HoldState::Live);
    assert_eq!(store.sweep(later).await.expect("sweep").holds_expired, 0);
    let much_later = T0 + Duration::hours(2);
    assert_eq!(
        store.sweep(much_later).await.expect("sweep").holds_expired,
        1
    );
    till.assert_integrity(much_later).await;
}

pub async fn charging_again_with_the_same_order_number_returns_the_same_charge(
    store: Arc<dyn Store>,
) {
    let till = tenant(&store, "default").await;
    let voucher_id = till.voucher(1_000, "RETRY").await;
    let reservation = till.reservation("RETRY", 300).await;
    let Ok(Outcome::Charge {
        entry: first,
        first_time: true,
    }) = till.charge_at(T0, &reservation, "O-1").await
    else {
        panic!("first charge refused");
    };
    let Ok(Outcome::Charge {
        entry: again,
        first_time: false,
    }) = till.charge_at(T0, &reservation, "O-1").await
    else {
        panic!("retry refused");
    };
    assert_eq!(first, again);
    assert_eq!(
        till.charge_at(T0, &reservation, "O-2").await,
        Err(DomainError::ReservationAlreadyCharged)
    );
    assert_eq!(till.remaining(&voucher_id).await, (700, 0));
}

pub async fn refunds_are_limited_to_the_charge(store: Arc<dyn Store>) {
    let till = tenant(&store, "default").await;
    let voucher_id = till.voucher(1_000, "REFUND").await;
    let reservation = till.reservation("REFUND", 400).await;
    let Ok(Outcome::Charge { entry, .. }) = till.charge_at(T0, &reservation, "O").await else {
        panic!("charge refused");
    };
    let refund = |amount_minor| Command::Refund {
        charge_id: entry.id.clone(),
        amount_minor,
        currency: eur(),
    };
    assert!(till.run(refund(150)).await.is_ok());
    assert!(till.run(refund(250)).await.is_ok());
    assert_eq!(
        till.run(refund(1)).await,
        Err(DomainError::RefundExceedsCharge)
    );
    let Ok(Outcome::Refund(refund_entry)) = till
        .run(Command::Refund {
            charge_id: entry.id.clone(),
            amount_minor: 0,
            currency: eur(),
        })
        .await
    else {
        panic!("a zero refund within the limit is the face's to refuse, not the ledger's");
    };
    assert_eq!(
        till.run(Command::Refund {
            charge_id: refund_entry.id,
            amount_minor: 1,
            currency: eur()
        })
        .await,
        Err(DomainError::ChargeNotRefundable)
    );
    assert_eq!(
        till.run(Command::Refund {
            charge_id: "nope".into(),
            amount_minor: 1,
            currency: eur()
        })
        .await,
        Err(DomainError::ChargeNotFound)
    );
    // Refunds work on an inactive voucher: returned goods put value back.
    till.run(Command::SetVoucherStatus {
        id: voucher_id.clone(),
        status: VoucherStatus::Inactive,
        comment: None,
    })
    .await
    .expect("deactivated");
    assert_eq!(till.remaining(&voucher_id).await, (1_000, 0));
    till.assert_integrity(T0).await;
}

pub async fn a_refund_never_lifts_a_voucher_past_the_balance_limit(store: Arc<dyn Store>) {
    let till = tenant(&store, "default").await;
    let voucher_id = till.voucher(BALANCE_MINOR_MAX, "FULL").await;
    let reservation = till.reservation("FULL", 1_000).await;
    let Ok(Outcome::Charge { entry, .. }) = till.charge_at(T0, &reservation, "O").await else {
        panic!("charge refused");
    };
    till.run(Command::Recharge {
        voucher: VoucherRef::Id(voucher_id.clone()),
        amount_minor: 1_000,
        currency: eur(),
        order_number: "R".into(),
    })
    .await
    .expect("recharged back to the limit");
    let refund = |amount_minor| Command::Refund {
        charge_id: entry.id.clone(),
        amount_minor,
        currency: eur(),
    };
    assert_eq!(
        till.run(refund(1_000)).await,
        Err(DomainError::BalanceLimitExceeded)
    );
    assert_eq!(
        till.run(refund(1)).await,
        Err(DomainError::BalanceLimitExceeded)
    );
    assert_eq!(till.remaining(&voucher_id).await, (BALANCE_MINOR_MAX, 0));
    // Once the balance is lower, the refund fits again.
    let reservation = till.reservation("FULL", 500).await;
    till.charge_at(T0, &reservation, "O2")
        .await
        .expect("charged");
    assert!(till.run(refund(500)).await.is_ok());
    assert_eq!(till.remaining(&voucher_id).await, (BALANCE_MINOR_MAX, 0));
    till.assert_integrity(T0).await;
}

/// Engine batches of 1, 4 and 16 payments (each a charge of a live reservation and a new
/// reservation on another voucher) run the same statements: on PostgreSQL the same number, on
/// SQLite, whose writes step one cached statement per row, the same set of statements.
pub async fn engine_batches_run_the_same_statements_whatever_their_size<B>(
    store: Arc<crate::sql::SqlStore<B>>,
    dialect: crate::sql::Dialect,
) where
    B: crate::sql::Backend,
{
    let dyn_store: Arc<dyn Store> = store.clone();
    let till = tenant(&dyn_store, "default").await;
    let mut shapes = Vec::new();
    for (round, size) in [1_usize, 4, 16].into_iter().enumerate() {
        let batch = payment_batch(&till, &format!("S{round}"), size).await;
        shapes.push(statement_shape(&store, &batch).await);
    }
    // Generic plans, load vouchers, load holds, draw keys (as a node with none left ahead
    // does), write, append the events: six on PostgreSQL.
    assert_same_statements(&shapes, dialect, 6);
}

/// A batch of Front Payment's money commands (pay, capture, charge, refund on other
/// reservations of the same voucher) of 1, 4 and 16 rounds runs the same statements, and on
/// PostgreSQL the same number.
pub async fn front_batches_run_the_same_statements_whatever_their_size<B>(
    store: Arc<crate::sql::SqlStore<B>>,
    dialect: crate::sql::Dialect,
) where
    B: crate::sql::Backend,
{
    let dyn_store: Arc<dyn Store> = store.clone();
    let till = tenant(&dyn_store, "default").await;
    let merchant = sequences::merchant(&dyn_store).await;
    let mut shapes = Vec::new();
    for (round, size) in [1_usize, 4, 16].into_iter().enumerate() {
        let mut batch = Vec::new();
        for n in 0..size {
            let code = format!("F{round}-{n}");
            till.voucher(10_000, &code).await;
            let paid = |id: &str| Command::FrontPay {
                reservation_id: id.into(),
                vouchers: vec![PayingVoucher {
                    code: code.clone(),
                    pin: None,
                }],
                currency: None,
            };
            let (unpaid, _) = sequences::front_reservation(&merchant, 1_000, "budget").await;
            let (open, open_line) = sequences::front_reservation(&merchant, 1_000, "budget").await;
            let (drawn, drawn_line) =
                sequences::front_reservation(&merchant, 1_000, "budget").await;
            for id in [&open, &drawn] {
                let answer = merchant.run(paid(id)).await;
                assert!(
                    matches!(answer, Ok(Outcome::FrontReservation(_))),
                    "{answer:?}"
                );
            }
            let capture = |id: &str, line_id: i64| Command::FrontCapture {
                reservation_id: id.into(),
                lines: vec![LineAmount {
                    line_id,
                    amount_minor: 300,
                }],
                note: None,
            };
            let Ok(Outcome::FrontPosting { id: posting }) =
                merchant.run(capture(&drawn, drawn_line)).await
            else {
                panic!("capture refused");
            };
            for command in [
                paid(&unpaid),
                capture(&open, open_line),
                Command::FrontCharge {
                    reservation_id: open.clone(),
                    lines: vec![FrontLineInput {
                        name: "extra".into(),
                        product_id: None,
                        rate_minor: 200,
                        tax: "0".into(),
                        amount_minor: 200,
                    }],
                    note: None,
                },
                Command::FrontRefund {
                    reservation_id: drawn.clone(),
                    source: PostingSource::Captured,
                    reference: posting,
                    lines: vec![LineAmount {
                        line_id: drawn_line,
                        amount_minor: 100,
                    }],
                },
            ] {
                batch.push(batch_request(merchant.actor.clone(), command));
            }
        }
        shapes.push(statement_shape(&store, &batch).await);
    }
    // Generic plans, vouchers, reservations, their paying vouchers, lines, postings, the
    // postings' draws, holds, draw keys, write, events: eleven on PostgreSQL.
    assert_same_statements(&shapes, dialect, 11);
}

/// Reservations paid, captured and refunded before the upgrade that lets several vouchers pay
/// keep working after it: their voucher becomes the only payer and each posting its own single
/// draw. `store` is a fresh store; `reopen` opens the same database again (running the
/// migrations that are not applied). The test takes the schema back to the version before,
/// with the rows the old version wrote, and upgrades it.
pub async fn single_voucher_reservations_survive_the_upgrade_to_several<B, F, Fut>(
    store: Arc<crate::sql::SqlStore<B>>,
    reopen: F,
) where
    B: crate::sql::Backend,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Arc<dyn Store>>,
{
    let dyn_store: Arc<dyn Store> = store.clone();
    let till = tenant(&dyn_store, "default").await;
    let voucher_id = till.voucher(10_000, "UPGRADE").await;
    let merchant = sequences::merchant(&dyn_store).await;
    let (id, line) = sequences::front_reservation(&merchant, 4_000, "upgrade").await;
    let paid = merchant
        .run(Command::FrontPay {
            reservation_id: id.clone(),
            vouchers: vec![PayingVoucher {
                code: "UPGRADE".into(),
                pin: None,
            }],
            currency: None,
        })
        .await;
    assert!(matches!(paid, Ok(Outcome::FrontReservation(_))), "{paid:?}");
    let capture = |amount_minor| Command::FrontCapture {
        reservation_id: id.clone(),
        lines: vec![LineAmount {
            line_id: line,
            amount_minor,
        }],
        note: None,
    };
    let Ok(Outcome::FrontPosting { id: posting }) = merchant.run(capture(2_500)).await else {
        panic!("capture refused");
    };
    let refund = |amount_minor| Command::FrontRefund {
        reservation_id: id.clone(),
        source: PostingSource::Captured,
        reference: posting.clone(),
        lines: vec![LineAmount {
            line_id: line,
            amount_minor,
        }],
    };
    assert_eq!(merchant.run(refund(500)).await, Ok(Outcome::FrontDone));
    // The version before had neither the payers nor the draws, nor a posting's own total.
    store
        .execute_script(
            "DROP TABLE front_posting_draws; DROP TABLE front_payers; \
             ALTER TABLE front_postings DROP COLUMN amount_minor; \
             DELETE FROM schema_migrations WHERE version = 10",
        )
        .await
        .expect("back to the version before");
    let (till_actor, merchant_actor) = (till.actor.clone(), merchant.actor.clone());
    drop((dyn_store, store, till, merchant));

    let upgraded = reopen().await;
    let till = Caller::new(&upgraded, "default", till_actor);
    let merchant = Caller::new(&upgraded, "default", merchant_actor);
    let read = upgraded
        .front_reservation(None, &id, T0)
        .await
        .expect("read")
        .expect("reservation");
    assert_eq!(read.held_minor, 1_500);
    let parts: Vec<(String, i64, i64, i64)> = read
        .vouchers
        .iter()
        .map(|v| {
            let figures = (v.held_minor, v.captured_minor, v.refunded_minor);
            (v.voucher_id.clone(), figures.0, figures.1, figures.2)
        })
        .collect();
    assert_eq!(parts, vec![(voucher_id.clone(), 1_500, 2_500, 500)]);
    assert_eq!(read.postings[0].amount_minor, 2_500);
    // The upgraded rows still move money: the refund bound counts the earlier refund, and the
    // capture draws the rest of the hold.
    assert_eq!(
        merchant.run(refund(2_001)).await,
        Err(DomainError::Front(
            voucherd_domain::front::FrontRefusal::RefundExceedsRefundable
        ))
    );
    assert_eq!(merchant.run(refund(2_000)).await, Ok(Outcome::FrontDone));
    assert!(matches!(
        merchant.run(capture(1_500)).await,
        Ok(Outcome::FrontPosting { .. })
    ));
    assert_eq!(
        till.remaining(&voucher_id).await,
        (10_000 - 4_000 + 2_500, 0)
    );
    till.assert_integrity(T0).await;
}

/// A batch of bleepay's money commands (redeem, resolve and discard codes of one context) of
/// 1, 4 and 16 rounds runs the same statements, and on PostgreSQL the same number.
pub async fn bleepay_batches_run_the_same_statements_whatever_their_size<B>(
    store: Arc<crate::sql::SqlStore<B>>,
    dialect: crate::sql::Dialect,
) where
    B: crate::sql::Backend,
{
    let dyn_store: Arc<dyn Store> = store.clone();
    let till = tenant(&dyn_store, "default").await;
    let mut shapes = Vec::new();
    for (round, size) in [1_usize, 4, 16].into_iter().enumerate() {
        let mut batch = Vec::new();
        for n in 0..size {
            let code = format!("B{round}-{n}");
            till.voucher(10_000, &code).await;
            let wallet = wallet::Wallet::open(&dyn_store, "default", &code, &[&code]).await;
            let redeem = |code_id: &str| Command::RedeemCode {
                caller: wallet.payee(),
                code_id: code_id.into(),
                amount_minor: 500,
                currency: eur(),
            };
            let (redeemed, resolved, discarded) = (
                wallet.reserve_code().await,
                wallet.reserve_code().await,
                wallet.reserve_code().await,
            );
            for id in [&resolved, &discarded] {
                let answer = wallet.payer.run(redeem(id)).await;
                assert!(matches!(answer, Ok(Outcome::Code(_))), "{answer:?}");
            }
            for command in [
                redeem(&redeemed),
                Command::ResolveCode {
                    payer_id: wallet.payer_id.clone(),
                    code_id: resolved,
                },
                Command::DiscardCode {
                    caller: wallet.payee(),
                    code_id: discarded,
                },
            ] {
                batch.push(batch_request(
                    Actor::Payer(wallet.payer_id.clone()),
                    command,
                ));
            }
        }
        shapes.push(statement_shape(&store, &batch).await);
    }
    // Generic plans, vouchers, codes, bindings, holds, draw keys, write, events: eight on
    // PostgreSQL.
    assert_same_statements(&shapes, dialect, 8);
}

/// One batch names a voucher four ways: through a live reservation (a charge), through a
/// charge (a refund), by id (a recharge) and by code (two reservations). The store finds it
/// through each and must decide every command on one copy of it: the reservation of all that
/// the earlier commands left fits (a reservation does not count the one it supersedes), and
/// one cent more is refused.
pub async fn a_batch_naming_one_voucher_many_ways_decides_on_one_copy<B>(
    store: Arc<crate::sql::SqlStore<B>>,
) where
    B: crate::sql::Backend,
{
    let dyn_store: Arc<dyn Store> = store.clone();
    let till = tenant(&dyn_store, "default").await;
    let voucher_id = till.voucher(1_000, "MANY").await;
    let charged = till.reservation("MANY", 200).await;
    let charge = match till.charge_at(T0, &charged, "O-1").await {
        Ok(Outcome::Charge { entry, .. }) => entry,
        other => panic!("charge refused: {other:?}"),
    };
    let live = till.reservation("MANY", 100).await;
    let reserve = |amount_minor| Command::Reserve {
        code: "MANY".into(),
        pin: None,
        amount_minor,
        currency: eur(),
    };
    let batch: Vec<CommandRequest> = [
        // Remaining 800 - 100.
        Command::ChargeReservation {
            reservation_id: live,
            order_number: "O-2".into(),
        },
        // + 50.
        Command::Refund {
            charge_id: charge.id,
            amount_minor: 50,
            currency: eur(),
        },
        // + 10: 760.
        Command::Recharge {
            voucher: VoucherRef::Id(voucher_id),
            amount_minor: 10,
            currency: eur(),
            order_number: "TOPUP".into(),
        },
        reserve(760),
        reserve(761),
    ]
    .into_iter()
    .map(|command| batch_request(Actor::Client("till-1".into()), command))
    .collect();
    let (_, answers) = store
        .engine_batch_statements(&batch)
        .await
        .expect("the batch runs");
    let (last, decided) = answers.split_last().expect("answers");
    assert!(
        decided
            .iter()
            .all(|answer| matches!(answer, Execution::Done(Ok(_)))),
        "{decided:?}"
    );
    assert!(
        matches!(last, Execution::Done(Err(DomainError::InsufficientBalance))),
        "{last:?}"
    );
}

/// A batch of `size` payments, as tills send them: each a charge of a live reservation and a
/// new reservation on another voucher (vouchers coded `{prefix}-{n}-A` and `-B`).
async fn payment_batch(till: &Caller, prefix: &str, size: usize) -> Vec<CommandRequest> {
    let mut batch = Vec::new();
    for n in 0..size {
        let charged = format!("{prefix}-{n}-A");
        let reserved = format!("{prefix}-{n}-B");
        till.voucher(1_000, &charged).await;
        till.voucher(1_000, &reserved).await;
        let reservation = till.reservation(&charged, 100).await;
        for command in [
            Command::ChargeReservation {
                reservation_id: reservation,
                order_number: "O".into(),
            },
            Command::Reserve {
                code: reserved,
                pin: None,
                amount_minor: 100,
                currency: eur(),
            },
        ] {
            batch.push(batch_request(Actor::Client("till-1".into()), command));
        }
    }
    batch
}

/// The statements a batch of four payments runs (each once, sorted), its events' included,
/// for a store's own checks of how its database runs them.
pub async fn payment_batch_statements<B>(store: Arc<crate::sql::SqlStore<B>>) -> Vec<String>
where
    B: crate::sql::Backend,
{
    let dyn_store: Arc<dyn Store> = store.clone();
    let till = tenant(&dyn_store, "default").await;
    let batch = payment_batch(&till, "P", 4).await;
    statement_shape(&store, &batch).await.1
}

/// A command of a statement-budget batch, in the default tenant at [`T0`].
fn batch_request(actor: Actor, command: Command) -> CommandRequest {
    CommandRequest {
        context: CommandContext {
            tenant_id: "default".into(),
            actor,
            request_id: "statements".into(),
            now: T0,
        },
        command,
        idempotency: None,
    }
}

/// How many statements a batch ran, and which (each once, sorted); every command must be
/// accepted.
async fn statement_shape<B: crate::sql::Backend>(
    store: &crate::sql::SqlStore<B>,
    batch: &[CommandRequest],
) -> (usize, Vec<String>) {
    let (statements, answers) = store
        .engine_batch_statements(batch)
        .await
        .expect("the batch runs");
    assert!(
        answers.iter().all(|a| matches!(a, Execution::Done(Ok(_)))),
        "{answers:?}"
    );
    let mut distinct = statements.clone();
    distinct.sort();
    distinct.dedup();
    (statements.len(), distinct)
}

/// Batches of every size ran the same statements; on PostgreSQL exactly `postgres_count`.
fn assert_same_statements(
    shapes: &[(usize, Vec<String>)],
    dialect: crate::sql::Dialect,
    postgres_count: usize,
) {
    let (count, distinct) = &shapes[0];
    for (other_count, other_distinct) in &shapes[1..] {
        assert_eq!(
            other_distinct, distinct,
            "a larger batch ran other statements"
        );
        if dialect == crate::sql::Dialect::Postgres {
            assert_eq!(other_count, count, "a larger batch ran more statements");
        }
    }
    if dialect == crate::sql::Dialect::Postgres {
        assert_eq!(*count, postgres_count, "{distinct:#?}");
    }
}

fn keyed(key: &str, digest: &str) -> Option<IdempotencyRequest> {
    Some(IdempotencyRequest {
        caller: "till-1".into(),
        key: key.into(),
        request_digest: digest.into(),
        render: Box::new(|result| StoredResponse {
            status: if result.is_ok() { 201 } else { 422 },
            body: format!("{result:?}"),
        }),
    })
}

pub async fn idempotent_replay_changes_nothing(store: Arc<dyn Store>) {
    let till = tenant(&store, "default").await;
    let voucher_id = till.voucher(1_000, "IDEM").await;
    let recharge = || Command::Recharge {
        voucher: VoucherRef::Id(voucher_id.clone()),
        amount_minor: 100,
        currency: eur(),
        order_number: "R".into(),
    };
    let first = till.submit(T0, recharge(), keyed("k-1", "digest-a")).await;
    let Execution::Done(Ok(Outcome::Recharge(entry))) = first else {
        panic!("{first:?}")
    };
    let replay = till.submit(T0, recharge(), keyed("k-1", "digest-a")).await;
    assert_eq!(
        replay,
        Execution::Replayed(StoredResponse {
            status: 201,
            body: format!("{:?}", Ok::<_, DomainError>(Outcome::Recharge(entry)))
        })
    );
    assert_eq!(
        till.submit(T0, recharge(), keyed("k-1", "digest-b")).await,
        Execution::KeyReused
    );
    assert_eq!(till.remaining(&voucher_id).await, (1_100, 0));
    // A refusal is stored too, and replayed even after the cause is gone.
    let refused = till
        .submit(
            T0,
            Command::Reserve {
                code: "IDEM".into(),
                pin: None,
                amount_minor: 5_000,
                currency: eur(),
            },
            keyed("k-2", "d"),
        )
        .await;
    assert_eq!(
        refused,
        Execution::Done(Err(DomainError::InsufficientBalance))
    );
    let replayed = till
        .submit(
            T0,
            Command::Reserve {
                code: "IDEM".into(),
                pin: None,
                amount_minor: 5_000,
                currency: eur(),
            },
            keyed("k-2", "d"),
        )
        .await;
    assert!(
        matches!(
            replayed,
            Execution::Replayed(StoredResponse { status: 422, .. })
        ),
        "{replayed:?}"
    );
    // After 24 hours the key is free again.
    let day_later = T0 + Duration::hours(24);
    assert!(matches!(
        till.submit(day_later, recharge(), keyed("k-1", "digest-b"))
            .await,
        Execution::Done(Ok(_))
    ));
}

/// A caller that gives up before its answer (a client that hangs up) neither undoes its command
/// halfway nor makes a retry apply it twice: the store, not the caller, owns a submitted command.
pub async fn an_abandoned_command_is_applied_once_and_whole(store: Arc<dyn Store>) {
    let till = tenant(&store, "default").await;
    let voucher_id = till.voucher(1_000, "GONE").await;
    let recharge = || Command::Recharge {
        voucher: VoucherRef::Id(voucher_id.clone()),
        amount_minor: 100,
        currency: eur(),
        order_number: "R".into(),
    };
    let abandoning = Caller::new(&store, "default", Actor::Client("till-1".into()));
    let abandoned_command = recharge();
    let abandoned = tokio::spawn(async move {
        abandoning
            .submit(T0, abandoned_command, keyed("gone", "d"))
            .await
    });
    // Let the submission get under way, then drop it before it is answered.
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    abandoned.abort();
    // The caller retries with the same key: whichever of the two runs first applies the
    // recharge, the other replays it.
    let again = till.submit(T0, recharge(), keyed("gone", "d")).await;
    assert!(
        matches!(
            again,
            Execution::Done(Ok(Outcome::Recharge(_))) | Execution::Replayed(_)
        ),
        "{again:?}"
    );
    assert_eq!(till.remaining(&voucher_id).await, (1_100, 0));
    till.assert_integrity(T0).await;
}

pub async fn tenants_are_isolated(store: Arc<dyn Store>) {
    let a = tenant(&store, "default").await;
    let b = tenant(&store, "tenant-b").await;
    let voucher_id = a.voucher(1_000, "SHARED-CODE").await;
    assert_eq!(
        store
            .voucher("tenant-b", &voucher_id, T0)
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        b.reserve_at(T0, "SHARED-CODE", 100).await.err(),
        Some(DomainError::VoucherNotFound)
    );
    // The same code may exist in both tenants, each its own voucher.
    let b_voucher = b.voucher(500, "SHARED-CODE").await;
    let reservation = a.reservation("SHARED-CODE", 100).await;
    assert_eq!(
        b.charge_at(T0, &reservation, "X").await.err(),
        Some(DomainError::ReservationNotFound)
    );
    let listed = store
        .vouchers(
            "tenant-b",
            &VoucherFilter::default(),
            PageRequest {
                page: 1,
                per_page: 10,
            },
            T0,
        )
        .await
        .expect("list");
    assert_eq!(
        listed
            .items
            .iter()
            .map(|v| v.id.clone())
            .collect::<Vec<_>>(),
        [b_voucher]
    );
    a.assert_integrity(T0).await;
}

async fn connected_client(store: &Arc<dyn Store>, scopes: Vec<Scope>) -> (Caller, String, String) {
    let admin = Caller::new(store, "default", Actor::Admin("test".into()));
    store.bootstrap(T0).await.expect("bootstrap");
    let Ok(Outcome::ClientGroup(group)) = admin
        .run(Command::CreateClientGroup {
            name: "Shops".into(),
            scopes,
        })
        .await
    else {
        panic!("group");
    };
    let Ok(Outcome::Client(client)) = admin
        .run(Command::CreateClient {
            name: "Till".into(),
            client_group_id: group.id,
            client_type: "pos".into(),
        })
        .await
    else {
        panic!("client");
    };
    let Ok(Outcome::ConnectionPin { pin, .. }) = admin
        .run(Command::IssueConnectionPin {
            client_id: client.id.clone(),
        })
        .await
    else {
        panic!("pin");
    };
    (admin, client.id, pin)
}

pub async fn connection_pins_are_single_use_and_expire(store: Arc<dyn Store>) {
    let (admin, client_id, pin) = connected_client(&store, vec![Scope::Read]).await;
    let anonymous = Caller::new(&store, "", Actor::Anonymous);
    let connected = anonymous
        .run(Command::ConnectClient { pin: pin.clone() })
        .await;
    assert!(
        matches!(&connected, Ok(Outcome::Connected { tenant_id, .. }) if tenant_id == "default"),
        "{connected:?}"
    );
    assert_eq!(
        anonymous.run(Command::ConnectClient { pin }).await,
        Err(DomainError::PinInvalid)
    );
    let Ok(Outcome::ConnectionPin { pin: late, .. }) =
        admin.run(Command::IssueConnectionPin { client_id }).await
    else {
        panic!("pin");
    };
    assert_eq!(
        anonymous
            .run_at(
                T0 + Duration::minutes(30),
                Command::ConnectClient { pin: late.clone() }
            )
            .await,
        Err(DomainError::PinInvalid)
    );
    assert!(
        anonymous
            .run_at(
                T0 + Duration::minutes(29),
                Command::ConnectClient { pin: late }
            )
            .await
            .is_ok()
    );
}

pub async fn tokens_are_revoked_on_disconnect(store: Arc<dyn Store>) {
    let (admin, client_id, pin) = connected_client(&store, vec![Scope::Read, Scope::Use]).await;
    let anonymous = Caller::new(&store, "", Actor::Anonymous);
    let Ok(Outcome::Connected { secret, .. }) = anonymous.run(Command::ConnectClient { pin }).await
    else {
        panic!("connect");
    };
    let token_for = |scopes: Option<Vec<Scope>>, secret: &str| Command::IssueToken {
        client_id: client_id.clone(),
        secret: secret.into(),
        scopes,
        client_type: Some("my_pos".into()),
    };
    assert_eq!(
        anonymous.run(token_for(None, "wrong")).await,
        Err(DomainError::ClientCredentialsInvalid)
    );
    assert_eq!(
        anonymous
            .run(token_for(Some(vec![Scope::Manage]), &secret))
            .await,
        Err(DomainError::ScopeNotAllowed)
    );
    let Ok(Outcome::Token { token, scopes, .. }) = anonymous.run(token_for(None, &secret)).await
    else {
        panic!("token");
    };
    assert_eq!(scopes, [Scope::Read, Scope::Use]);
    let digest = voucherd_domain::secret::digest(&token);
    let grant = store
        .token_grant(&digest, T0)
        .await
        .expect("read")
        .expect("valid");
    assert_eq!(
        (grant.tenant_id.as_str(), grant.client_id.as_str()),
        ("default", client_id.as_str())
    );
    assert_eq!(
        store
            .token_grant(&digest, T0 + Duration::hours(1))
            .await
            .expect("read"),
        None
    );
    let client = Caller::new(&store, "default", Actor::Client(client_id.clone()));
    assert_eq!(
        client
            .run(Command::DisconnectClient {
                client_id: client_id.clone()
            })
            .await,
        Ok(Outcome::Disconnected)
    );
    assert_eq!(store.token_grant(&digest, T0).await.expect("read"), None);
    assert_eq!(
        anonymous.run(token_for(None, &secret)).await,
        Err(DomainError::ClientCredentialsInvalid)
    );
    let _ = admin;
}

pub async fn only_untouched_vouchers_can_be_deleted(store: Arc<dyn Store>) {
    let till = tenant(&store, "default").await;
    let fresh = till.voucher(1_000, "DEL-FRESH").await;
    let used = till.voucher(1_000, "DEL-USED").await;
    till.reservation("DEL-USED", 100).await;
    let delete = |id: &str| Command::DeleteVoucher {
        id: id.into(),
        comment: "sold by mistake".into(),
    };
    assert_eq!(
        till.run(delete(&used)).await,
        Err(DomainError::VoucherNotDeletable)
    );
    assert_eq!(till.run(delete(&fresh)).await, Ok(Outcome::VoucherDeleted));
    assert_eq!(
        store.voucher("default", &fresh, T0).await.expect("read"),
        None
    );
    // Its id and code stay taken.
    let again = till
        .run(Command::CreateVoucher(NewVoucher {
            id: Some(fresh.clone()),
            code: Some("DEL-FRESH".into()),
            kind: VoucherKind::Print,
            ..NewVoucher::digital(1, eur(), VoucherStatus::Inactive)
        }))
        .await;
    assert_eq!(again, Err(DomainError::VoucherIdAndCodeTaken));
    till.assert_integrity(T0).await;
}

/// How many tills race for one voucher in the concurrency story.
const RACERS: usize = 200;

pub async fn concurrent_reserve_and_charge_never_overdraw(store: Arc<dyn Store>) {
    let till = Arc::new(tenant(&store, "default").await);
    // Room for exactly 50 charges of 1.00.
    let voucher_id = till.voucher(5_000, "RACE").await;
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let till = till.clone();
        tasks.push(tokio::spawn(async move {
            let actor = Caller::new(&till.store, "default", Actor::Client(format!("till-{i}")));
            match actor.reserve_at(T0, "RACE", 100).await {
                Ok(Outcome::Reservation(h)) => matches!(
                    actor.charge_at(T0, &h.id, &format!("O-{i}")).await,
                    Ok(Outcome::Charge { .. })
                ),
                _ => false,
            }
        }));
    }
    let mut charged = 0;
    for task in tasks {
        if task.await.expect("task") {
            charged += 1;
        }
    }
    let (remaining, held) = till.remaining(&voucher_id).await;
    assert!(
        charged <= 50,
        "{charged} charges of 1.00 on a 50.00 voucher"
    );
    assert_eq!(remaining, 5_000 - 100 * charged);
    assert!(held <= remaining);
    till.assert_integrity(T0).await;
}

/// Vouchers beside the contended ones, so that the database plans as it does for a shop.
const CROWD: usize = 5_000;
/// Tills paying on the contended vouchers at once, and payments each.
const CROWD_TILLS: usize = 32;
const CROWD_PAYMENTS: usize = 20;

/// Many tills paying on a few vouchers among thousands: every reserve finds its voucher and
/// every charge its reservation, whatever batch changed them while the command waited for them
/// (a superseded reservation is expired, never missing).
pub async fn contended_vouchers_are_never_reported_missing(store: Arc<dyn Store>) {
    let till = Arc::new(tenant(&store, "default").await);
    let rows = (0..CROWD)
        .map(|n| NewVoucher {
            code: Some(format!("CROWD-{n}")),
            ..NewVoucher::digital(1_000, eur(), VoucherStatus::Active)
        })
        .collect();
    let imported = till.run(Command::ImportVouchers { rows }).await;
    assert!(imported.is_ok(), "{imported:?}");
    let mut tasks = Vec::new();
    for i in 0..CROWD_TILLS {
        let till = till.clone();
        tasks.push(tokio::spawn(async move {
            let actor = Caller::new(&till.store, "default", Actor::Client(format!("till-{i}")));
            for n in 0..CROWD_PAYMENTS {
                let code = format!("CROWD-{}", (i + n) % 4);
                let reservation = match actor.reserve_at(T0, &code, 1).await {
                    Ok(Outcome::Reservation(hold)) => hold.id,
                    other => return Err(format!("reserve on {code}: {other:?}")),
                };
                match actor
                    .charge_at(T0, &reservation, &format!("O-{i}-{n}"))
                    .await
                {
                    Ok(Outcome::Charge { .. }) | Err(DomainError::ReservationExpired) => {}
                    other => return Err(format!("charge of {reservation}: {other:?}")),
                }
            }
            Ok(())
        }));
    }
    for task in tasks {
        if let Err(wrong) = task.await.expect("task") {
            panic!("{wrong}");
        }
    }
    till.assert_integrity(T0).await;
}

/// Tills that charge one reservation at the same moment, each with its own order number.
const CHARGERS: usize = 32;

/// Exactly one of many simultaneous charges of one reservation is made; every other till is
/// told the reservation is already charged, and the voucher pays once.
pub async fn a_reservation_charged_from_many_tills_at_once_is_charged_once(store: Arc<dyn Store>) {
    let till = Arc::new(tenant(&store, "default").await);
    let voucher_id = till.voucher(1_000, "ONCE").await;
    let reservation = till.reservation("ONCE", 300).await;
    let mut tasks = Vec::new();
    for i in 0..CHARGERS {
        let (till, reservation) = (till.clone(), reservation.clone());
        tasks.push(tokio::spawn(async move {
            till.charge_at(T0, &reservation, &format!("O-{i}")).await
        }));
    }
    let mut charged = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(Outcome::Charge {
                first_time: true, ..
            }) => charged += 1,
            Err(DomainError::ReservationAlreadyCharged) => {}
            other => panic!("a charge answered {other:?}"),
        }
    }
    assert_eq!(charged, 1);
    assert_eq!(till.remaining(&voucher_id).await, (700, 0));
    till.assert_integrity(T0).await;
}

pub async fn lists_filter_and_paginate(store: Arc<dyn Store>) {
    let till = tenant(&store, "default").await;
    for i in 0..7 {
        let new = NewVoucher {
            id: Some(format!("LIST-{i}")),
            batch: Some(if i % 2 == 0 {
                "even".into()
            } else {
                "odd".into()
            }),
            ..NewVoucher::digital(100, eur(), VoucherStatus::Inactive)
        };
        till.run_at(T0 + Duration::seconds(i), Command::CreateVoucher(new))
            .await
            .expect("created");
    }
    let page = |page, per_page| PageRequest { page, per_page };
    let all = store
        .vouchers("default", &VoucherFilter::default(), page(2, 3), T0)
        .await
        .expect("list");
    assert_eq!(all.total, 7);
    assert_eq!(
        all.items.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        ["LIST-3", "LIST-4", "LIST-5"]
    );
    let even = VoucherFilter {
        batch: Some("even".into()),
        ..VoucherFilter::default()
    };
    assert_eq!(
        store
            .vouchers("default", &even, page(1, 10), T0)
            .await
            .expect("list")
            .total,
        4
    );
    let window = VoucherFilter {
        created_from: Some(T0 + Duration::seconds(2)),
        created_to: Some(T0 + Duration::seconds(4)),
        ..VoucherFilter::default()
    };
    assert_eq!(
        store
            .vouchers("default", &window, page(1, 10), T0)
            .await
            .expect("list")
            .total,
        3
    );
    let generated = &all.items[0];
    assert_eq!(
        generated.code.len(),
        12,
        "code generated from the default pattern"
    );
}

/// How many commands race in the mixed-outcome story.
const MIXED_COMMANDS: usize = 120;

/// Commands submitted together (and so, on a group-committing store, committed together) each
/// get their own answer: refusals do not disturb accepted commands, and stored answers of
/// refused commands replay.
pub async fn concurrent_commands_each_get_their_own_answer(store: Arc<dyn Store>) {
    let till = Arc::new(tenant(&store, "default").await);
    let voucher_id = till.voucher(1_000, "MIXED").await;
    let usd = Currency::parse("USD").expect("USD");
    let mut tasks = Vec::new();
    for i in 0..MIXED_COMMANDS {
        let (till, voucher_id) = (till.clone(), voucher_id.clone());
        tasks.push(tokio::spawn(async move {
            let accepted = i % 2 == 0;
            let command = Command::Recharge {
                voucher: VoucherRef::Id(voucher_id),
                amount_minor: 1,
                currency: if accepted { eur() } else { usd },
                order_number: format!("R-{i}"),
            };
            let key = if i % 3 == 0 {
                keyed(&format!("mixed-{i}"), "d")
            } else {
                None
            };
            let first = till.submit(T0, command.clone(), key).await;
            match (&first, accepted) {
                (Execution::Done(Ok(Outcome::Recharge(_))), true) => {}
                (Execution::Done(Err(DomainError::CurrencyMismatch)), false) => {}
                other => panic!("command {i}: unexpected {other:?}"),
            }
            if i % 3 == 0 {
                let again = till
                    .submit(T0, command, keyed(&format!("mixed-{i}"), "d"))
                    .await;
                assert!(
                    matches!(again, Execution::Replayed(_)),
                    "command {i}: {again:?}"
                );
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let accepted = i64::try_from(MIXED_COMMANDS.div_ceil(2)).expect("small");
    assert_eq!(till.remaining(&voucher_id).await, (1_000 + accepted, 0));
    till.assert_integrity(T0).await;
}

/// An endpoint's record of delivery attempts stays bounded: recording more than
/// [`crate::webhooks::WEBHOOK_DELIVERIES_KEPT`] forgets the oldest, in one round or one by one.
pub async fn webhook_deliveries_keep_only_the_latest(store: Arc<dyn Store>) {
    use crate::webhooks::{WEBHOOK_DELIVERIES_KEPT, WebhookAttempt, WebhookProgress};
    let till = tenant(&store, "default").await;
    let admin = Caller::new(&store, "default", Actor::Admin("test".into()));
    let endpoint = match admin
        .run(Command::CreateWebhookEndpoint {
            url: "https://hooks.example.com/in".into(),
            types: Vec::new(),
            allow_private: false,
        })
        .await
    {
        Ok(Outcome::WebhookEndpointCreated { endpoint, .. }) => endpoint.id,
        other => panic!("endpoint not created: {other:?}"),
    };
    till.voucher(1_000, "HOOK-1").await;
    let now = T0 + Duration::seconds(1);
    let claimed = store
        .claim_webhooks(now, now + Duration::minutes(1), 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1, "the endpoint has an event to send");
    let target = &claimed[0];
    let kept = usize::try_from(WEBHOOK_DELIVERIES_KEPT).expect("small");
    let attempt = |n: usize| WebhookAttempt {
        seq: target.cursor + 1,
        kind: "voucher.created".into(),
        status: Some(500),
        latency_ms: i64::try_from(n).expect("small"),
        at: now,
        error: Some("answered 500".into()),
    };
    let attempts: Vec<WebhookAttempt> = (0..kept + 5).map(attempt).collect();
    store
        .record_webhook(
            target,
            &WebhookProgress::Attempted {
                attempts,
                retry_at: Some(Some(now + Duration::seconds(5))),
            },
            now,
        )
        .await
        .expect("recorded");
    let on_record = store
        .webhook_deliveries("default", &endpoint, WEBHOOK_DELIVERIES_KEPT * 2)
        .await
        .expect("read");
    assert_eq!(on_record.len(), kept);
    assert_eq!(
        on_record[0].latency_ms,
        i64::try_from(kept + 4).expect("small")
    );
    assert_eq!(
        on_record[kept - 1].latency_ms,
        5,
        "the oldest five were forgotten"
    );
    let mut test = attempt(9_999);
    test.seq = 0;
    store
        .record_webhook_attempt(target, &test)
        .await
        .expect("recorded");
    let on_record = store
        .webhook_deliveries("default", &endpoint, WEBHOOK_DELIVERIES_KEPT * 2)
        .await
        .expect("read");
    assert_eq!(on_record.len(), kept);
    assert_eq!(on_record[0].latency_ms, 9_999);
    assert_eq!(on_record[kept - 1].latency_ms, 6);
}
