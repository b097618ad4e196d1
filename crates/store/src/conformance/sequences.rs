//! Property test of the ledger: random sequences of reserve, charge, release, refund and
//! recharge on a few vouchers, each answer compared with a model (balances, the live
//! reservation, what each charge may still refund), then the integrity check. proptest makes
//! the sequences and, when one fails, shrinks it to a shortest failing one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use voucherd_domain::DomainError;

use super::{Caller, T0, eur, tenant};
use crate::command::VoucherRef;
use crate::{Command, Outcome, Store};

/// Sequences tried per run (each on fresh vouchers).
const CASES: u32 = 64;
/// The longest sequence.
const STEPS_MAX: usize = 60;
/// Vouchers per sequence.
const VOUCHERS: usize = 3;
/// What each voucher starts with, in minor units.
const START_MINOR: i64 = 10_000;
/// The largest amount of one step.
const AMOUNT_MAX: i64 = 4_000;

/// One command of a sequence.
#[derive(Debug, Clone)]
enum Step {
    Reserve { voucher: usize, amount: i64 },
    Charge { voucher: usize },
    Release { voucher: usize },
    Refund { charge: Index, amount: i64 },
    Recharge { voucher: usize, amount: i64 },
}

fn step() -> impl Strategy<Value = Step> {
    let voucher = 0..VOUCHERS;
    let amount = 1..=AMOUNT_MAX;
    prop_oneof![
        (voucher.clone(), amount.clone())
            .prop_map(|(voucher, amount)| Step::Reserve { voucher, amount }),
        voucher.clone().prop_map(|voucher| Step::Charge { voucher }),
        voucher
            .clone()
            .prop_map(|voucher| Step::Release { voucher }),
        (any::<Index>(), amount.clone())
            .prop_map(|(charge, amount)| Step::Refund { charge, amount }),
        (voucher, amount).prop_map(|(voucher, amount)| Step::Recharge { voucher, amount }),
    ]
}

/// The model of one voucher.
struct ModelVoucher {
    id: String,
    code: String,
    remaining: i64,
    /// The live JTL reservation: its id and amount.
    live: Option<(String, i64)>,
}

/// A charge of the model: its id, its voucher, its amount and what was refunded of it.
struct ModelCharge {
    id: String,
    voucher: usize,
    amount: i64,
    refunded: i64,
}

pub async fn random_command_sequences_keep_the_balance_invariant(store: Arc<dyn Store>) {
    let till = tenant(&store, "default").await;
    let handle = tokio::runtime::Handle::current();
    let outcome = tokio::task::spawn_blocking(move || {
        let sequence = AtomicUsize::new(0);
        let mut runner = TestRunner::new(Config {
            failure_persistence: None,
            ..Config::with_cases(CASES)
        });
        runner
            .run(&proptest::collection::vec(step(), 1..=STEPS_MAX), |steps| {
                let n = sequence.fetch_add(1, Ordering::Relaxed);
                handle.block_on(run_sequence(&till, n, &steps));
                Ok(())
            })
            .map_err(|failure| failure.to_string())
    })
    .await
    .expect("the property runner ended");
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

/// Runs one sequence on fresh vouchers, checking every answer against the model.
async fn run_sequence(till: &Caller, n: usize, steps: &[Step]) {
    let mut vouchers = Vec::new();
    for i in 0..VOUCHERS {
        let code = format!("MODEL-{n}-{i}");
        let id = till.voucher(START_MINOR, &code).await;
        vouchers.push(ModelVoucher {
            id,
            code,
            remaining: START_MINOR,
            live: None,
        });
    }
    let mut charges: Vec<ModelCharge> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let context = format!("sequence {n}, step {i}: {step:?}");
        let touched = match step.clone() {
            Step::Reserve { voucher, amount } => {
                let v = &mut vouchers[voucher];
                let fits = amount <= v.remaining;
                match till.reserve_at(T0, &v.code, amount).await {
                    Ok(Outcome::Reservation(hold)) if fits => v.live = Some((hold.id, amount)),
                    Err(DomainError::InsufficientBalance) if !fits => {}
                    other => panic!("{context}: {} left: {other:?}", v.remaining),
                }
                voucher
            }
            Step::Charge { voucher } => {
                let v = &mut vouchers[voucher];
                let Some((hold, held)) = v.live.take() else {
                    continue;
                };
                match till.charge_at(T0, &hold, &format!("model-{n}-{i}")).await {
                    Ok(Outcome::Charge {
                        entry,
                        first_time: true,
                    }) => {
                        assert_eq!(entry.amount_minor, held, "{context}");
                        v.remaining -= held;
                        charges.push(ModelCharge {
                            id: entry.id,
                            voucher,
                            amount: held,
                            refunded: 0,
                        });
                    }
                    other => panic!("{context}: {other:?}"),
                }
                voucher
            }
            Step::Release { voucher } => {
                let Some((hold, _)) = vouchers[voucher].live.take() else {
                    continue;
                };
                let answer = till
                    .run(Command::ReleaseReservation {
                        reservation_id: hold,
                    })
                    .await;
                assert!(
                    matches!(answer, Ok(Outcome::Released)),
                    "{context}: {answer:?}"
                );
                voucher
            }
            Step::Refund { charge, amount } => {
                if charges.is_empty() {
                    continue;
                }
                let picked = charge.index(charges.len());
                let c = &mut charges[picked];
                let fits = c.refunded + amount <= c.amount;
                let answer = till
                    .run(Command::Refund {
                        charge_id: c.id.clone(),
                        amount_minor: amount,
                        currency: eur(),
                    })
                    .await;
                match answer {
                    Ok(Outcome::Refund(_)) if fits => {
                        c.refunded += amount;
                        vouchers[c.voucher].remaining += amount;
                    }
                    Err(DomainError::RefundExceedsCharge) if !fits => {}
                    other => panic!(
                        "{context}: {} charged, {} back: {other:?}",
                        c.amount, c.refunded
                    ),
                }
                c.voucher
            }
            Step::Recharge { voucher, amount } => {
                let v = &mut vouchers[voucher];
                let answer = till
                    .run(Command::Recharge {
                        voucher: VoucherRef::Code(v.code.clone()),
                        amount_minor: amount,
                        currency: eur(),
                        order_number: format!("model-{n}-{i}"),
                    })
                    .await;
                assert!(
                    matches!(answer, Ok(Outcome::Recharge(_))),
                    "{context}: {answer:?}"
                );
                v.remaining += amount;
                voucher
            }
        };
        let v = &vouchers[touched];
        let (remaining, held) = till.remaining(&v.id).await;
        let model_held = v.live.as_ref().map_or(0, |(_, amount)| *amount);
        assert_eq!((remaining, held), (v.remaining, model_held), "{context}");
    }
    till.assert_integrity(T0).await;
}
