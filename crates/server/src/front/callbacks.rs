//! Front Payment's status callbacks, one kind of parcel of the shared outbox
//! ([`crate::outbox`]): each is sent as a GET to the merchant's `callbackUrl` with
//! `orderUuid, status, createdAt, paymentMethod, amount, timestamp, checksum`, and its outcome
//! recorded. A failed delivery is retried on the outbox's backoff, at most [`ATTEMPTS_MAX`]
//! times; delivery is at least once (a node that dies mid-send leaves the callback to be sent
//! again after the lease).

use std::sync::Arc;

use time::OffsetDateTime;
use voucherd_domain::front::{FrontStatus, callback_checksum};
use voucherd_domain::money::format_two_decimals;
use voucherd_store::Store;
use voucherd_store::front::{CallbackAttempt, FrontCallback};

use crate::clock::Clock;
use crate::outbox::{self, Courier, REQUEST_TIMEOUT, backoff};

/// Attempts before a callback is given up.
pub const ATTEMPTS_MAX: i64 = 10;
/// Callbacks claimed per round.
const CLAIM_BATCH: i64 = 32;

/// The status word sent for a status. Front Payment's callbacks spell the reserved status
/// `RESEVRED`; clients written against them compare with that spelling.
pub fn callback_status(status: FrontStatus) -> &'static str {
    match status {
        FrontStatus::Reserved => "RESEVRED",
        other => other.wire(),
    }
}

/// The query parameters of a callback sent at `sent_at`, checksum last.
pub fn query(callback: &FrontCallback, sent_at: OffsetDateTime) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("orderUuid", callback.order_uuid.clone()),
        ("status", callback_status(callback.status).to_string()),
        (
            "createdAt",
            callback.created_at.unix_timestamp().to_string(),
        ),
        ("paymentMethod", "voucher".to_string()),
        ("amount", format_two_decimals(callback.amount_minor)),
        ("timestamp", sent_at.unix_timestamp().to_string()),
    ];
    let values: Vec<&str> = params.iter().map(|(_, v)| v.as_str()).collect();
    let checksum = callback_checksum(&values, &callback.secret);
    params.push(("checksum", checksum));
    params
}

/// When to try again after `attempts` failed attempts, or `None` to give up.
pub fn retry_at(attempts: i64, now: OffsetDateTime) -> Option<OffsetDateTime> {
    (attempts < ATTEMPTS_MAX).then(|| backoff(attempts, now))
}

async fn deliver(
    client: &reqwest::Client,
    callback: &FrontCallback,
    now: OffsetDateTime,
) -> CallbackAttempt {
    let sent = client
        .get(&callback.url)
        .query(&query(callback, now))
        .send()
        .await;
    let error = match sent {
        Ok(response) if response.status().is_success() => return CallbackAttempt::Delivered,
        Ok(response) => format!("answered {}", response.status().as_u16()),
        Err(error) => format!(
            "not delivered: {}",
            if error.is_timeout() {
                "timeout"
            } else {
                "connection failed"
            }
        ),
    };
    CallbackAttempt::Failed {
        error,
        retry_at: retry_at(callback.attempts + 1, now),
    }
}

/// The callbacks' courier: claims due callbacks, sends each, records the outcome.
struct Callbacks {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
}

impl Courier for Callbacks {
    type Parcel = FrontCallback;
    const NAME: &'static str = "front callbacks";

    async fn claim(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<FrontCallback>, voucherd_store::StoreError> {
        self.store
            .claim_front_callbacks(now, lease_until, CLAIM_BATCH)
            .await
    }

    async fn deliver(&self, callback: &FrontCallback) {
        let attempt = deliver(&self.client, callback, self.clock.now()).await;
        if let CallbackAttempt::Failed { error, retry_at } = &attempt {
            tracing::warn!(order_uuid = %callback.order_uuid, %error, gives_up = retry_at.is_none(), "callback failed");
        }
        metrics::counter!("voucherd_front_callbacks_total", "outcome" => match attempt {
            CallbackAttempt::Delivered => "delivered",
            CallbackAttempt::Failed { retry_at: Some(_), .. } => "retry",
            CallbackAttempt::Failed { retry_at: None, .. } => "abandoned",
        })
        .increment(1);
        if let Err(error) = self
            .store
            .record_front_callback(callback.pk, &attempt, self.clock.now())
            .await
        {
            tracing::warn!(%error, "could not record a callback attempt; it is sent again after its lease");
        }
    }
}

/// Sends what is due, round after round, until the task is aborted.
pub async fn run(store: Arc<dyn Store>, clock: Arc<dyn Clock>) {
    let client = match reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "callback client could not be built; callbacks stay queued");
            return;
        }
    };
    let signal = store.event_signal();
    let callbacks = Callbacks {
        store,
        clock: clock.clone(),
        client,
    };
    outbox::run(callbacks, signal, clock).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    #[test]
    fn retries_back_off_and_end() {
        let now = datetime!(2026-01-01 0:00 UTC);
        assert_eq!(retry_at(1, now), Some(now + Duration::seconds(5)));
        assert_eq!(retry_at(2, now), Some(now + Duration::seconds(10)));
        assert_eq!(retry_at(9, now), Some(now + Duration::seconds(1_280)));
        assert_eq!(retry_at(ATTEMPTS_MAX, now), None);
    }

    #[test]
    fn the_checksum_covers_the_values_in_order_then_the_secret() {
        let callback = FrontCallback {
            pk: 1,
            url: "http://127.0.0.1/cb".into(),
            order_uuid: "RES0000000001".into(),
            status: FrontStatus::Reserved,
            created_at: datetime!(2026-01-01 0:00 UTC),
            amount_minor: 12_345,
            attempts: 0,
            secret: "s3cret".into(),
        };
        let params = query(&callback, datetime!(2026-01-01 0:01 UTC));
        let names: Vec<&str> = params.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "orderUuid",
                "status",
                "createdAt",
                "paymentMethod",
                "amount",
                "timestamp",
                "checksum"
            ]
        );
        assert_eq!(params[1].1, "RESEVRED");
        assert_eq!(params[4].1, "123.45");
        let expected = callback_checksum(
            &[
                "RES0000000001",
                "RESEVRED",
                "1767225600",
                "voucher",
                "123.45",
                "1767225660",
            ],
            "s3cret",
        );
        assert_eq!(params[6].1, expected);
    }
}
