//! The client's address behind a trusted reverse proxy. Behind a proxy every connection comes
//! from the proxy's address, so the per-address limits (requests, failed logins, connection
//! pins, context codes) would count every client together. When the connection comes from an
//! address the operator named as a proxy (`--trusted-proxy`), the client is the last address in
//! `X-Forwarded-For` that is not itself a trusted proxy, and every later layer and handler sees
//! that address. A connection from anywhere else keeps its own address, whatever it sends, so a
//! client cannot choose the address it is counted under.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// Middleware: replaces the connection's address by the forwarded client's, for connections
/// from a trusted proxy.
pub async fn layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if state.trusted_proxies.is_empty() {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    if let Some(peer) = peer.filter(|p| state.trusted_proxies.contains(&p.ip()))
        && let Some(client) = forwarded_client(request.headers(), &state.trusted_proxies)
    {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(client, peer.port())));
    }
    next.run(request).await
}

/// The client a trusted proxy forwarded for: the right-most `X-Forwarded-For` address that is
/// not a trusted proxy (the ones left of it were written by the client and prove nothing).
/// `None` when there is no such header or an entry that is not an address is reached first.
fn forwarded_client(headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut last_trusted = None;
    for entry in entries.iter().rev() {
        let address = parse_entry(entry)?;
        if !trusted.contains(&address) {
            return Some(address);
        }
        last_trusted = Some(address);
    }
    last_trusted
}

/// An address as proxies write it: `192.0.2.1`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().expect("header value"));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn the_client_is_the_last_address_no_trusted_proxy_wrote() {
        let trusted = [ip("10.0.0.2"), ip("10.0.0.3")];
        let h = headers(&["198.51.100.7, 203.0.113.9", "10.0.0.3"]);
        assert_eq!(forwarded_client(&h, &trusted), Some(ip("203.0.113.9")));
        let h = headers(&["2001:db8::1"]);
        assert_eq!(forwarded_client(&h, &trusted), Some(ip("2001:db8::1")));
        let h = headers(&["[2001:db8::2]:443"]);
        assert_eq!(forwarded_client(&h, &trusted), Some(ip("2001:db8::2")));
    }

    #[test]
    fn no_header_or_garbage_before_the_client_names_nobody() {
        let trusted = [ip("10.0.0.2")];
        assert_eq!(forwarded_client(&headers(&[]), &trusted), None);
        let h = headers(&["203.0.113.9, unknown"]);
        assert_eq!(forwarded_client(&h, &trusted), None);
        // Only proxies: the first of them is where the request entered.
        let h = headers(&["10.0.0.2"]);
        assert_eq!(forwarded_client(&h, &trusted), Some(ip("10.0.0.2")));
    }
}
