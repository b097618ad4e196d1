//! Outgoing HTTPS: a Front Payment status callback to an `https://` URL reaches a TLS receiver
//! whose certificate the machine trusts. The receiver's authority is handed to the `voucherd`
//! binary through `SSL_CERT_FILE`, as an operator would add a private authority; the receiver
//! is a real TLS server on loopback.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::binary::{Logs, serve_with};
use crate::crash::{ADMIN, prepare};

/// A certificate authority and a certificate for `localhost` it signed, as PEM, with the key.
fn certificates() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "voucherd test authority");
    let ca = ca.self_signed(&ca_key).expect("authority");
    let key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .signed_by(&key, &ca, &ca_key)
        .expect("certificate");
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

/// Accepts one TLS connection after another and answers 200 to each request; sends each
/// request's first line to `requests`.
async fn receiver(certificate: &str, key: &str) -> (u16, tokio::sync::mpsc::Receiver<String>) {
    let chain = vec![rustls::pki_types::CertificateDer::from(
        rustls::pki_types::pem::PemObject::from_pem_slice(certificate.as_bytes())
            .map(|c: rustls::pki_types::CertificateDer<'static>| c.to_vec())
            .expect("certificate pem"),
    )];
    let key: rustls::pki_types::PrivateKeyDer<'static> =
        rustls::pki_types::pem::PemObject::from_pem_slice(key.as_bytes()).expect("key pem");
    // ring, as the client uses; its lack of post-quantum key exchange (why rustls deprecates
    // this constructor) does not matter on loopback.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(socket).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buffer = [0_u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let first = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = stream.shutdown().await;
                let _ = tx.send(first).await;
            });
        }
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_callback_reaches_an_https_receiver() {
    let (authority, certificate, key) = certificates();
    let dir = std::env::temp_dir().join(format!("voucherd-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("folder");
    let authority_file = dir.join("authority.pem");
    std::fs::write(&authority_file, authority).expect("authority written");
    let (port, mut requests) = receiver(&certificate, &key).await;

    let database = format!("sqlite://{}/voucherd.db", dir.display());
    let (mut child, address, _stdout) = serve_with(
        &database,
        &["--admin-token", ADMIN],
        &[("SSL_CERT_FILE", authority_file.to_str().expect("path"))],
        Logs::Collected,
    );
    let base = format!("http://{address}");
    let (_token, vouchers) = prepare(&base).await;
    let http = reqwest::Client::new();
    let merchant: Value = http
        .post(format!(
            "{base}/admin/api/v1/tenants/default/merchant-tokens"
        ))
        .bearer_auth(ADMIN)
        .json(&json!({ "name": "Hotel" }))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let due = time::OffsetDateTime::now_utc().unix_timestamp() + 86_400;
    let submitted: Value = http
        .post(format!("{base}/api/v1/connect/reservations/submit"))
        .bearer_auth(merchant["token"].as_str().expect("token"))
        .json(&json!({
            "customerDetails": { "type": "private", "countryCode": "+47", "msisdn": "46567468",
                "email": "kari@example.no", "name": "Kari", "preferredLanguage": "en",
                "address": { "street": "Gate 1", "zip": "0150", "city": "Oslo", "country": "NO" } },
            "orderDate": "01 Mar, 2026",
            "dueDateForPaymentLink": due.to_string(),
            "sendOrderBy": { "sms": false, "email": true },
            "products": { "0": { "name": "Room", "productId": "R1", "rate": 40, "tax": "12", "amount": 40 } },
            "orderSummary": { "subTotal": "35.71", "totalTax": "4.29", "grandTotal": 40 },
            "callback": { "callbackUrl": format!("https://localhost:{port}/callbacks") }
        }))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let id = submitted["data"]["reservationUuid"]
        .as_str()
        .unwrap_or_else(|| panic!("submitted: {submitted}"));
    let paid = http
        .post(format!("{base}/pay/{id}"))
        .form(&[("code", vouchers[0].1.as_str()), ("pin", "")])
        .send()
        .await
        .expect("paid");
    assert_eq!(paid.status(), StatusCode::OK);

    // The callback worker sends it within its first round; a minute bounds a failure.
    let first = tokio::time::timeout(std::time::Duration::from_secs(60), requests.recv())
        .await
        .expect("a callback within a minute")
        .expect("a request");
    assert!(
        first.starts_with("GET /callbacks?") && first.contains(&format!("orderUuid={id}")),
        "{first}"
    );
    assert!(first.contains("checksum="), "{first}");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
