//! Property test of the ledger: random sequences of JTL's reserve, charge, release, refund and
//! recharge, interleaved with Front Payment's pay, capture, cancel and complete and bleepay's
//! redeem, resolve and discard on the same few vouchers, each answer compared with a model
//! (balances, what each voucher holds for JTL, for each Front Payment reservation and for each
//! bleepay code, what each charge may still refund), then the integrity check. proptest makes the sequences and, when one fails, shrinks it to a shortest failing
//! one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use voucherd_domain::DomainError;
use voucherd_domain::bleepay::BleepayRefusal;
use voucherd_domain::front::PayingVoucher;

use super::wallet::Wallet;
use super::{Caller, T0, eur, tenant};
use crate::command::VoucherRef;
use crate::front::{FrontLineInput, LineAmount, NewFrontReservation};
use crate::{Actor, Command, Outcome, Store};

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
    Reserve {
        voucher: usize,
        amount: i64,
    },
    Charge {
        voucher: usize,
    },
    Release {
        voucher: usize,
    },
    Refund {
        charge: Index,
        amount: i64,
    },
    Recharge {
        voucher: usize,
        amount: i64,
    },
    /// A Front Payment reservation of `amount` in one line, paid with the voucher.
    FrontPay {
        voucher: usize,
        amount: i64,
    },
    FrontCapture {
        reservation: Index,
        amount: i64,
    },
    /// Cancels (before anything was captured) or completes (after) a reservation.
    FrontEnd {
        reservation: Index,
        complete: bool,
    },
    /// A payee reserves a bleepay code in the sequence's context and redeems `amount`: the
    /// first of the vouchers, in order, that can carry it holds it.
    BleepayRedeem {
        amount: i64,
    },
    /// The payer resolves (charges) a redeemed code, or discards it.
    BleepayEnd {
        code: Index,
        resolve: bool,
    },
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
        (voucher.clone(), amount.clone())
            .prop_map(|(voucher, amount)| Step::Recharge { voucher, amount }),
        (voucher, amount.clone()).prop_map(|(voucher, amount)| Step::FrontPay { voucher, amount }),
        (any::<Index>(), amount.clone()).prop_map(|(reservation, amount)| Step::FrontCapture {
            reservation,
            amount
        }),
        (any::<Index>(), any::<bool>()).prop_map(|(reservation, complete)| Step::FrontEnd {
            reservation,
            complete
        }),
        amount
            .clone()
            .prop_map(|amount| Step::BleepayRedeem { amount }),
        (any::<Index>(), any::<bool>())
            .prop_map(|(code, resolve)| Step::BleepayEnd { code, resolve }),
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

/// A Front Payment reservation of the model.
struct ModelFront {
    id: String,
    voucher: usize,
    /// The id of its one line, which captures draw from.
    line_id: i64,
    /// What its hold still holds.
    held: i64,
    /// Whether anything was captured.
    drawn: bool,
    /// Cancelled or completed.
    closed: bool,
}

impl ModelFront {
    fn held_on(fronts: &[ModelFront], voucher: usize) -> i64 {
        fronts
            .iter()
            .filter(|f| f.voucher == voucher && !f.closed)
            .map(|f| f.held)
            .sum()
    }
}

/// A redeemed bleepay code of the model: it holds `amount` on `voucher` while open.
struct ModelCode {
    id: String,
    voucher: usize,
    amount: i64,
    open: bool,
}

impl ModelCode {
    fn held_on(codes: &[ModelCode], voucher: usize) -> i64 {
        codes
            .iter()
            .filter(|c| c.voucher == voucher && c.open)
            .map(|c| c.amount)
            .sum()
    }
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
    let merchant = merchant(&store).await;
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
                handle.block_on(run_sequence(&till, &merchant, n, &steps));
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
async fn run_sequence(till: &Caller, merchant: &Caller, n: usize, steps: &[Step]) {
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
    let mut fronts: Vec<ModelFront> = Vec::new();
    let mut codes: Vec<ModelCode> = Vec::new();
    let names: Vec<&str> = vouchers.iter().map(|v| v.code.as_str()).collect();
    let wallet = Wallet::open(&till.store, "default", &format!("model-{n}"), &names).await;
    // What the other faces hold on a voucher besides its JTL reservation.
    let others = |fronts: &[ModelFront], codes: &[ModelCode], voucher: usize| {
        ModelFront::held_on(fronts, voucher) + ModelCode::held_on(codes, voucher)
    };
    for (i, step) in steps.iter().enumerate() {
        let context = format!("sequence {n}, step {i}: {step:?}");
        let touched = match step.clone() {
            Step::Reserve { voucher, amount } => {
                let others_held = others(&fronts, &codes, voucher);
                let v = &mut vouchers[voucher];
                // The new reservation supersedes the live one; the other faces' holds stay.
                let fits = amount <= v.remaining - others_held;
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
            Step::FrontPay { voucher, amount } => {
                let held = vouchers[voucher].live.as_ref().map_or(0, |(_, a)| *a)
                    + others(&fronts, &codes, voucher);
                let fits = amount <= vouchers[voucher].remaining - held;
                let id = front_reservation(merchant, amount, &context).await;
                let answer = merchant
                    .run(Command::FrontPay {
                        reservation_id: id.0.clone(),
                        vouchers: vec![PayingVoucher {
                            code: vouchers[voucher].code.clone(),
                            pin: None,
                        }],
                        currency: None,
                    })
                    .await;
                match answer {
                    Ok(Outcome::FrontReservation(_)) if fits => fronts.push(ModelFront {
                        id: id.0,
                        voucher,
                        line_id: id.1,
                        held: amount,
                        drawn: false,
                        closed: false,
                    }),
                    Err(DomainError::VouchersShort { .. }) if !fits => {}
                    other => panic!("{context}: {held} held: {other:?}"),
                }
                voucher
            }
            Step::FrontCapture {
                reservation,
                amount,
            } => {
                if fronts.is_empty() {
                    continue;
                }
                let picked = reservation.index(fronts.len());
                let f = &mut fronts[picked];
                let fits = !f.closed && amount <= f.held;
                let answer = merchant
                    .run(Command::FrontCapture {
                        reservation_id: f.id.clone(),
                        lines: vec![LineAmount {
                            line_id: f.line_id,
                            amount_minor: amount,
                        }],
                        note: None,
                    })
                    .await;
                match answer {
                    Ok(Outcome::FrontPosting { .. }) if fits => {
                        f.held -= amount;
                        f.drawn = true;
                        vouchers[f.voucher].remaining -= amount;
                    }
                    Err(_) if !fits => {}
                    other => panic!("{context}: {} held: {other:?}", f.held),
                }
                f.voucher
            }
            Step::FrontEnd {
                reservation,
                complete,
            } => {
                if fronts.is_empty() {
                    continue;
                }
                let picked = reservation.index(fronts.len());
                let f = &mut fronts[picked];
                // Cancel before any capture, complete only after one.
                let may = !f.closed && f.drawn == complete;
                let (reservation_id, note) = (f.id.clone(), "model".to_string());
                let command = if complete {
                    Command::FrontComplete {
                        reservation_id,
                        note,
                    }
                } else {
                    Command::FrontCancel {
                        reservation_id,
                        note,
                    }
                };
                match merchant.run(command).await {
                    Ok(_) if may => f.closed = true,
                    Err(_) if !may => {}
                    other => panic!("{context}: {other:?}"),
                }
                f.voucher
            }
            Step::BleepayRedeem { amount } => {
                let chosen = (0..VOUCHERS).find(|&v| {
                    let held = vouchers[v].live.as_ref().map_or(0, |(_, a)| *a)
                        + others(&fronts, &codes, v);
                    amount <= vouchers[v].remaining - held
                });
                let id = wallet.reserve_code().await;
                let answer = wallet
                    .payer
                    .run(Command::RedeemCode {
                        caller: wallet.payee(),
                        code_id: id.clone(),
                        amount_minor: amount,
                        currency: eur(),
                    })
                    .await;
                match (answer, chosen) {
                    (Ok(Outcome::Code(code)), Some(voucher))
                        if code.voucher_id.as_ref() == Some(&vouchers[voucher].id) =>
                    {
                        codes.push(ModelCode {
                            id,
                            voucher,
                            amount,
                            open: true,
                        });
                        voucher
                    }
                    (Err(DomainError::Bleepay(BleepayRefusal::InsufficientFunds)), None) => {
                        continue;
                    }
                    (other, chosen) => panic!("{context}: expected {chosen:?}: {other:?}"),
                }
            }
            Step::BleepayEnd { code, resolve } => {
                if codes.is_empty() {
                    continue;
                }
                let picked = code.index(codes.len());
                let c = &mut codes[picked];
                let code_id = c.id.clone();
                let command = if resolve {
                    Command::ResolveCode {
                        payer_id: wallet.payer_id.clone(),
                        code_id,
                    }
                } else {
                    Command::DiscardCode {
                        caller: wallet.payee(),
                        code_id,
                    }
                };
                match wallet.payer.run(command).await {
                    Ok(Outcome::Code(_)) if c.open => {
                        c.open = false;
                        if resolve {
                            vouchers[c.voucher].remaining -= c.amount;
                        }
                    }
                    Err(DomainError::Bleepay(_)) if !c.open => {}
                    other => panic!("{context}: {other:?}"),
                }
                c.voucher
            }
        };
        let v = &vouchers[touched];
        let (remaining, held) = till.remaining(&v.id).await;
        let model_held =
            v.live.as_ref().map_or(0, |(_, amount)| *amount) + others(&fronts, &codes, touched);
        assert_eq!((remaining, held), (v.remaining, model_held), "{context}");
    }
    till.assert_integrity(T0).await;
}

/// A merchant of the default tenant.
pub(super) async fn merchant(store: &Arc<dyn Store>) -> Caller {
    let admin = Caller::new(store, "default", Actor::Admin("model".into()));
    let Ok(Outcome::MerchantToken { id, .. }) = admin
        .run(Command::CreateMerchantToken {
            name: "model".into(),
        })
        .await
    else {
        panic!("no merchant token");
    };
    Caller::new(store, "default", Actor::Merchant(id))
}

/// Submits a Front Payment reservation of `amount` in one line; answers its id and the line's.
pub(super) async fn front_reservation(
    merchant: &Caller,
    amount: i64,
    context: &str,
) -> (String, i64) {
    let new = NewFrontReservation {
        customer_id: None,
        details: serde_json::json!({}),
        due_at: T0 + time::Duration::days(1),
        charge_limit_minor: None,
        charge_validity_days: 30,
        charge_partially_refundable: true,
        lines: vec![FrontLineInput {
            name: "line".into(),
            product_id: None,
            rate_minor: amount,
            tax: "0".into(),
            amount_minor: amount,
        }],
        grand_total_minor: amount,
        callback_url: None,
        success_url: None,
        failure_url: None,
        sent_to: None,
    };
    match merchant.run(Command::FrontSubmit(new)).await {
        Ok(Outcome::FrontReservation(view)) => (view.id, view.lines[0].id),
        other => panic!("{context}: submit refused: {other:?}"),
    }
}
