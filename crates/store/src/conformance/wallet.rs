//! A bleepay payer for the conformance stories: signed up, with vouchers in its account, and a
//! context open over them; payees reserve voucher codes in that context.

use std::sync::Arc;

use voucherd_domain::bleepay::CodeFormat;

use super::Caller;
use crate::bleepay::{BleepayCaller, ContextAddress, PayerKind};
use crate::{Actor, Command, Outcome, Store};

/// A payer with a context open over some vouchers.
pub(super) struct Wallet {
    pub(super) payer: Caller,
    pub(super) payer_id: String,
    pub(super) context_id: String,
    context_code: String,
}

impl Wallet {
    /// Signs a payer `name` up in `tenant_id`, adds the vouchers with these codes (no PIN) to
    /// its account, in this order, and opens a context over them.
    pub(super) async fn open(
        store: &Arc<dyn Store>,
        tenant_id: &str,
        name: &str,
        codes: &[&str],
    ) -> Wallet {
        let system = Caller::new(store, tenant_id, Actor::System);
        let sign_up = Command::PayerSignUp {
            kind: PayerKind::EmailPassword,
            identifier: format!("{name}@shop.example"),
            password_hash: "not-a-real-hash".into(),
        };
        let Ok(Outcome::BleepayToken {
            payer_id: Some(payer_id),
            ..
        }) = system.run(sign_up).await
        else {
            panic!("sign-up refused");
        };
        let payer = Caller::new(store, tenant_id, Actor::Payer(payer_id.clone()));
        for code in codes {
            let add = Command::AddPayerVoucher {
                payer_id: payer_id.clone(),
                code: code.to_string(),
                pin: None,
            };
            let answer = payer.run(add).await;
            assert!(matches!(answer, Ok(Outcome::PayerVoucher(_))), "{answer:?}");
        }
        let open = Command::OpenContext {
            payer_id: payer_id.clone(),
            format: CodeFormat::Numeric,
            addresses: codes
                .iter()
                .map(|code| ContextAddress {
                    code: code.to_string(),
                    pin: None,
                })
                .collect(),
        };
        let Ok(Outcome::Context(context)) = payer.run(open).await else {
            panic!("context refused");
        };
        Wallet {
            payer,
            payer_id,
            context_id: context.id,
            context_code: context.code,
        }
    }

    /// The payee's side of the context.
    pub(super) fn payee(&self) -> BleepayCaller {
        BleepayCaller::Payee {
            context_id: self.context_id.clone(),
        }
    }

    /// A voucher code reserved by the context's payee; answers its id.
    pub(super) async fn reserve_code(&self) -> String {
        let reserve = Command::ReserveCode {
            caller: self.payee(),
            context_code: self.context_code.clone(),
        };
        match self.payer.run(reserve).await {
            Ok(Outcome::Code(code)) => code.id,
            other => panic!("code refused: {other:?}"),
        }
    }
}
