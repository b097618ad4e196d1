//! Row locks in a stable order for a batch of commands on a database with many writers.
//!
//! A batch runs its commands one after another in one transaction, so without care two
//! batches on two nodes could lock voucher A then B and B then A, and deadlock. Before the
//! first command runs, [`lock_vouchers_in_order`] locks every voucher the batch will change,
//! in primary-key order, in one statement. Every batch everywhere takes its voucher locks in
//! that same order, so batches wait for each other but never deadlock over vouchers; the
//! commands' own `FOR UPDATE` then find the rows already theirs.

use super::{SqlExec, Value};
use crate::StoreError;
use crate::command::{Command, CommandRequest, VoucherRef};

/// How a command names the voucher it changes.
enum VoucherName<'a> {
    Id(&'a str),
    Code(&'a str),
    Reservation(&'a str),
    Charge(&'a str),
    FrontReservation(&'a str),
    /// A bleepay voucher code that already holds or paid on a voucher.
    BleepayCode(&'a str),
    /// Every voucher the context of a bleepay voucher code binds (redeem picks one of them).
    BleepayCodeContext(&'a str),
}

fn voucher_names(command: &Command) -> Vec<VoucherName<'_>> {
    match command {
        Command::UpdateVoucher { id, .. }
        | Command::SetVoucherStatus { id, .. }
        | Command::DeleteVoucher { id, .. } => vec![VoucherName::Id(id)],
        Command::Reserve { code, .. } => vec![VoucherName::Code(code)],
        Command::ChargeReservation { reservation_id, .. }
        | Command::ReleaseReservation { reservation_id } => {
            vec![VoucherName::Reservation(reservation_id)]
        }
        Command::Refund { charge_id, .. } => vec![VoucherName::Charge(charge_id)],
        Command::FrontPay { vouchers, .. } => vouchers
            .iter()
            .map(|given| VoucherName::Code(&given.code))
            .collect(),
        Command::FrontOpenLink { reservation_id }
        | Command::FrontCapture { reservation_id, .. }
        | Command::FrontCharge { reservation_id, .. }
        | Command::FrontCancel { reservation_id, .. }
        | Command::FrontComplete { reservation_id, .. }
        | Command::FrontResend { reservation_id, .. }
        | Command::FrontRefund { reservation_id, .. } => {
            vec![VoucherName::FrontReservation(reservation_id)]
        }
        Command::RedeemCode { code_id, .. } => vec![VoucherName::BleepayCodeContext(code_id)],
        Command::ResolveCode { code_id, .. } | Command::DiscardCode { code_id, .. } => {
            vec![VoucherName::BleepayCode(code_id)]
        }
        Command::Recharge { voucher, .. } => match voucher {
            VoucherRef::Id(id) => vec![VoucherName::Id(id)],
            VoucherRef::Code(code) => vec![VoucherName::Code(code)],
            VoucherRef::Both { id, code } => vec![VoucherName::Id(id), VoucherName::Code(code)],
        },
        Command::CreateTenant { .. }
        | Command::UpdateSettings(_)
        | Command::SetBranding(_)
        | Command::SetLogo(_)
        | Command::CreateClientGroup { .. }
        | Command::CreateClient { .. }
        | Command::IssueConnectionPin { .. }
        | Command::ConnectClient { .. }
        | Command::IssueToken { .. }
        | Command::DisconnectClient { .. }
        | Command::CreateMerchantToken { .. }
        | Command::RevokeMerchantToken { .. }
        | Command::CreateWebhookEndpoint { .. }
        | Command::DeleteWebhookEndpoint { .. }
        | Command::RedeliverWebhook { .. }
        | Command::RotateWebhookSecret { .. }
        | Command::CreateVoucher(_)
        | Command::FrontSubmit(_)
        | Command::PayerSignUp { .. }
        | Command::PayerSignIn { .. }
        | Command::PayeeSignIn { .. }
        | Command::AddPayerVoucher { .. }
        | Command::OpenContext { .. }
        | Command::CloseContext { .. }
        | Command::ContextMiss { .. }
        | Command::ReserveCode { .. }
        | Command::CreateConsoleUser { .. }
        | Command::ChangeConsoleUser { .. }
        | Command::ConsoleLoginFailed { .. }
        | Command::OpenConsoleSession { .. }
        | Command::TouchConsoleSession { .. }
        | Command::CloseConsoleSession { .. }
        | Command::StartSeries { .. }
        | Command::IssueSeriesChunk { .. }
        | Command::ImportVouchers { .. } => Vec::new(),
    }
}

/// Builds the statement that locks, in primary-key order, every live voucher the commands
/// name; `None` when they name none.
fn lock_statement<'a>(
    requests: impl Iterator<Item = &'a CommandRequest>,
) -> Option<(String, Vec<Value>)> {
    let mut params: Vec<Value> = Vec::new();
    let mut arms: Vec<String> = Vec::new();
    for request in requests {
        for name in voucher_names(&request.command) {
            // Where the voucher key is found, and by which tenant and key columns.
            let (keys, tenant_column, column, value) = match name {
                VoucherName::Id(id) => ("SELECT pk FROM vouchers", "tenant_id", "id", id),
                VoucherName::Code(code) => ("SELECT pk FROM vouchers", "tenant_id", "code", code),
                VoucherName::Reservation(id) => {
                    ("SELECT voucher_pk FROM holds", "tenant_id", "id", id)
                }
                VoucherName::Charge(id) => {
                    ("SELECT voucher_pk FROM entries", "tenant_id", "id", id)
                }
                VoucherName::FrontReservation(id) => (
                    "SELECT p.voucher_pk FROM front_payers p \
                     JOIN front_reservations r ON r.pk = p.reservation_pk",
                    "r.tenant_id",
                    "r.id",
                    id,
                ),
                VoucherName::BleepayCode(id) => (
                    "SELECT voucher_pk FROM bleepay_vouchers",
                    "tenant_id",
                    "id",
                    id,
                ),
                VoucherName::BleepayCodeContext(id) => (
                    "SELECT b.voucher_pk FROM bleepay_bindings b \
                     JOIN bleepay_vouchers c ON c.context_pk = b.context_pk",
                    "c.tenant_id",
                    "c.id",
                    id,
                ),
            };
            params.push(request.context.tenant_id.as_str().into());
            params.push(value.into());
            let tenant = params.len() - 1;
            let named = params.len();
            arms.push(format!(
                "{keys} WHERE {tenant_column} = ${tenant} AND {column} = ${named}"
            ));
        }
    }
    if arms.is_empty() {
        return None;
    }
    let sql = format!(
        "SELECT pk FROM vouchers WHERE pk IN ({}) ORDER BY pk FOR UPDATE",
        arms.join(" UNION ALL ")
    );
    Some((sql, params))
}

/// Locks the vouchers `requests` will change, in primary-key order.
pub(super) async fn lock_vouchers_in_order<'a, T: SqlExec>(
    tx: &mut T,
    requests: impl Iterator<Item = &'a CommandRequest>,
) -> Result<(), StoreError> {
    if let Some((sql, params)) = lock_statement(requests) {
        tx.fetch(&sql, params).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, CommandContext};

    fn request(command: Command) -> CommandRequest {
        CommandRequest {
            context: CommandContext {
                tenant_id: "t1".into(),
                actor: Actor::System,
                request_id: "r".into(),
                now: time::OffsetDateTime::UNIX_EPOCH,
            },
            command,
            idempotency: None,
        }
    }

    #[test]
    fn names_every_voucher_of_a_batch_in_one_ordered_statement() {
        let batch = [
            request(Command::ChargeReservation {
                reservation_id: "h1".into(),
                order_number: "o".into(),
            }),
            request(Command::CreateMerchantToken { name: "m".into() }),
            request(Command::Recharge {
                voucher: VoucherRef::Both {
                    id: "v1".into(),
                    code: "C1".into(),
                },
                amount_minor: 1,
                currency: voucherd_domain::Currency::parse("EUR").expect("EUR"),
                order_number: "o".into(),
            }),
        ];
        let (sql, params) = lock_statement(batch.iter()).expect("vouchers to lock");
        assert_eq!(
            sql,
            "SELECT pk FROM vouchers WHERE pk IN (\
             SELECT voucher_pk FROM holds WHERE tenant_id = $1 AND id = $2 UNION ALL \
             SELECT pk FROM vouchers WHERE tenant_id = $3 AND id = $4 UNION ALL \
             SELECT pk FROM vouchers WHERE tenant_id = $5 AND code = $6) ORDER BY pk FOR UPDATE"
        );
        assert_eq!(
            params,
            vec![
                Value::from("t1"),
                Value::from("h1"),
                Value::from("t1"),
                Value::from("v1"),
                Value::from("t1"),
                Value::from("C1"),
            ]
        );
    }

    #[test]
    fn a_batch_that_names_no_voucher_locks_nothing() {
        let batch = [request(Command::CreateMerchantToken { name: "m".into() })];
        assert!(lock_statement(batch.iter()).is_none());
    }
}
