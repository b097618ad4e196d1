//! Accepts TCP connections and serves HTTP/1.1 on each, with the limits a public listener
//! needs against slow or oversized clients:
//! - a request head of at most [`HEAD_BYTES_MAX`] bytes and [`HEADER_FIELDS_MAX`] fields
//!   (431 beyond), sent within the client timeout or the connection is closed;
//! - a request body that keeps pace: it must be done by the client timeout plus one second
//!   per [`BODY_BYTES_PER_SECOND_MIN`] bytes received so far, or reading it fails with
//!   [`BodyTooSlow`] (each face answers that with 408). Sizes are bounded by [`crate::wire`].
//!
//! On shutdown it stops accepting, lets requests in flight finish and closes idle connections.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// The largest request head (request line and header fields) a client may send.
pub const HEAD_BYTES_MAX: usize = 16 * 1024;
/// The most header fields one request may carry.
pub const HEADER_FIELDS_MAX: usize = 64;
/// The slowest pace a request body may keep after the client timeout's grace.
pub const BODY_BYTES_PER_SECOND_MIN: u64 = 1024;
/// How long to back off when accepting fails (too many open files, say).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` completes, then waits for the connections'
/// requests in flight. `client_timeout` bounds how long a client may take to send a request
/// head, and paces its body.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    client_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(client_timeout)
        .max_buf_size(HEAD_BYTES_MAX)
        .max_headers(HEADER_FIELDS_MAX);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            let request = request.map(|body| Body::new(PacedBody::new(body, client_timeout)));
            app.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Reading a request body failed because the client sent it too slowly.
#[derive(Debug)]
pub struct BodyTooSlow;

impl std::fmt::Display for BodyTooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body was sent too slowly")
    }
}

impl std::error::Error for BodyTooSlow {}

/// A request body with a deadline that moves out as bytes arrive. The timer is made only
/// when the body first has to wait for the client.
struct PacedBody {
    inner: Incoming,
    started: Instant,
    grace: Duration,
    received: u64,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl PacedBody {
    fn new(inner: Incoming, grace: Duration) -> Self {
        PacedBody {
            inner,
            started: Instant::now(),
            grace,
            received: 0,
            deadline: None,
        }
    }

    /// When the body must be done, given what has arrived so far.
    fn due(&self) -> Instant {
        let earned = Duration::from_millis(self.received * 1000 / BODY_BYTES_PER_SECOND_MIN);
        self.started + self.grace + earned
    }
}

impl hyper::body::Body for PacedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let due = this.due();
                    if let Some(deadline) = &mut this.deadline {
                        deadline.as_mut().reset(due);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => Poll::Ready(other.map(|r| r.map_err(Into::into))),
            Poll::Pending => {
                let due = this.due();
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTooSlow)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
