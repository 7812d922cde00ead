//! TLS and mTLS on the router's port, with a CA and certificates generated
//! in the test (rcgen): a TLS client trusting the CA is served; a plaintext
//! client, a client trusting another CA, and (with client certificates
//! required) a client without one or with one from another CA are refused.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use finroute_proto::v1 as pb;
use finroute_server::Config;
use finroute_server::config::ServerTlsConfig;
use pb::financing_router_client::FinancingRouterClient;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::net::TcpListener;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A leaf certificate for `names`, as (cert pem, key pem).
    fn leaf(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Starts a TLS router; returns its port and the shutdown sender.
async fn start(
    dir: &Path,
    ca: &Ca,
    client_ca: Option<&Ca>,
) -> (u16, tokio::sync::oneshot::Sender<()>) {
    start_with_handshake(dir, ca, client_ca, 5_000).await
}

async fn start_with_handshake(
    dir: &Path,
    ca: &Ca,
    client_ca: Option<&Ca>,
    handshake_timeout_ms: u64,
) -> (u16, tokio::sync::oneshot::Sender<()>) {
    let (cert, key) = ca.leaf(&["localhost"]);
    let mut config = Config::default();
    config.store.url = format!("sqlite://{}", dir.join("finroute.db").display());
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    config.server.metrics_listen = probe.local_addr().unwrap();
    drop(probe);
    config.server.tls = Some(ServerTlsConfig {
        cert_file: write(dir, "server.pem", &cert),
        key_file: write(dir, "server.key", &key),
        client_ca_file: client_ca.map(|c| write(dir, "clients-ca.pem", &c.pem())),
        handshake_timeout_ms,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(finroute_server::run(config, listener, async {
        let _ = rx.await;
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    (port, tx)
}

async fn tls_client(
    port: u16,
    trust: &Ca,
    identity: Option<(String, String)>,
) -> Result<FinancingRouterClient<Channel>, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(trust.pem()))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    let channel = Channel::from_shared(format!("https://localhost:{port}"))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await?;
    Ok(FinancingRouterClient::new(channel))
}

async fn routes(client: Result<FinancingRouterClient<Channel>, tonic::transport::Error>) -> bool {
    match client {
        Ok(mut c) => c
            .route_financing(finroute_testkit::refused_borrower())
            .await
            .is_ok(),
        Err(_) => false,
    }
}

#[tokio::test]
async fn tls_serves_trusting_clients_and_refuses_plaintext_and_strangers() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("finroute test CA");
    let other = Ca::new("someone else");
    let (port, _stop) = start(dir.path(), &ca, None).await;

    assert!(
        routes(tls_client(port, &ca, None).await).await,
        "TLS client served"
    );
    assert!(
        !routes(tls_client(port, &other, None).await).await,
        "untrusted server cert refused"
    );
    let plain = FinancingRouterClient::connect(format!("http://127.0.0.1:{port}")).await;
    assert!(!routes(plain).await, "plaintext refused");
}

#[tokio::test]
async fn mtls_requires_a_client_certificate_from_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("finroute test CA");
    let clients = Ca::new("platform clients CA");
    let stranger = Ca::new("stranger CA");
    let (port, _stop) = start(dir.path(), &ca, Some(&clients)).await;

    let good = clients.leaf(&["mobile-backend-a"]);
    assert!(
        routes(tls_client(port, &ca, Some(good)).await).await,
        "client cert accepted"
    );
    assert!(
        !routes(tls_client(port, &ca, None).await).await,
        "no client cert refused"
    );
    let bad = stranger.leaf(&["mobile-backend-a"]);
    assert!(
        !routes(tls_client(port, &ca, Some(bad)).await).await,
        "other CA refused"
    );
}

fn tls_partner_spec(
    id: &str,
    port: u16,
    ca_file: &Path,
    identity: Option<(&Path, &Path)>,
) -> finroute_adapters::spec::AdapterSpec {
    let mut text = format!(
        "id = {id:?}\nkind = \"remote\"\nendpoint = \"https://localhost:{port}\"\ntimeout_ms = 1000\n[tls]\nca_file = {:?}\n",
        ca_file.display().to_string()
    );
    if let Some((cert, key)) = identity {
        text.push_str(&format!(
            "cert_file = {:?}\nkey_file = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        ));
    }
    toml::from_str(&text).unwrap()
}

/// mTLS to partners: a partner whose certificate chains to the configured
/// CA and who accepts our client certificate is used; one presenting a
/// certificate from another CA is refused (ERROR) and receives no quote.
#[tokio::test]
async fn partners_are_reached_over_mtls_and_an_impostor_is_refused() {
    use finroute_testkit::{Behaviour, FakePartner, TestRouter, config_with, partner_offer};
    let dir = tempfile::tempdir().unwrap();
    let partners_ca = Ca::new("partner bank CA");
    let impostor_ca = Ca::new("impostor CA");
    let router_ca = Ca::new("router client CA");
    let offers = || Behaviour::Offers(vec![partner_offer("P-1", 1_000_000, 1100, 0.7)]);

    let (cert, key) = partners_ca.leaf(&["localhost"]);
    let good = FakePartner::start_tls(offers(), cert, key, Some(router_ca.pem())).await;
    let (cert, key) = impostor_ca.leaf(&["localhost"]);
    let impostor = FakePartner::start_tls(offers(), cert, key, None).await;

    let ca_file = write(dir.path(), "partners-ca.pem", &partners_ca.pem());
    let (cert, key) = router_ca.leaf(&["finroute"]);
    let cert_file = write(dir.path(), "router.pem", &cert);
    let key_file = write(dir.path(), "router.key", &key);
    let router = TestRouter::start(config_with(vec![
        tls_partner_spec(
            "good",
            good.addr.port(),
            &ca_file,
            Some((&cert_file, &key_file)),
        ),
        tls_partner_spec(
            "impostor",
            impostor.addr.port(),
            &ca_file,
            Some((&cert_file, &key_file)),
        ),
    ]))
    .await;
    let mut client = router.client().await;
    let r = client
        .route_financing(finroute_testkit::refused_borrower())
        .await
        .unwrap()
        .into_inner();
    let status = |id: &str| {
        let c = r
            .channel_reports
            .iter()
            .find(|c| c.adapter_id == id)
            .unwrap();
        pb::ChannelStatus::try_from(c.status).unwrap()
    };
    assert_eq!(status("good"), pb::ChannelStatus::Ok);
    assert_eq!(status("impostor"), pb::ChannelStatus::Error);
    assert_eq!(good.quotes().len(), 1);
    assert!(impostor.quotes().is_empty(), "no data reached the impostor");

    // Without our client certificate the partner refuses us.
    let router2 = TestRouter::start(config_with(vec![tls_partner_spec(
        "good",
        good.addr.port(),
        &ca_file,
        None,
    )]))
    .await;
    let mut client2 = router2.client().await;
    let r = client2
        .route_financing(finroute_testkit::refused_borrower())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        r.channel_reports[0].status,
        pb::ChannelStatus::Error as i32,
        "{:?}",
        r.channel_reports
    );
    assert_eq!(good.quotes().len(), 1);
}

/// 200 connections that never send a ClientHello: each is closed after the
/// handshake timeout, and a real client is served meanwhile.
#[tokio::test]
async fn silent_connections_are_closed_after_the_handshake_timeout() {
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("finroute test CA");
    let (port, _stop) = start_with_handshake(dir.path(), &ca, None, 300).await;
    let mut silent = Vec::new();
    for _ in 0..200 {
        silent.push(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap(),
        );
    }
    let started = tokio::time::Instant::now();
    assert!(
        routes(tls_client(port, &ca, None).await).await,
        "served while 200 sit idle"
    );
    assert!(
        started.elapsed() < Duration::from_millis(1_000),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut closed = 0;
    for s in &mut silent {
        let mut buf = [0u8; 16];
        // Closed by the server: EOF (or a reset), at once.
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => closed += 1,
            _ => {}
        }
    }
    assert_eq!(closed, 200, "every silent connection was dropped");
}

/// A TLS router with `server.first_request_timeout_ms`; its port and the
/// address of its metrics.
async fn start_with_first_request_timeout(
    dir: &Path,
    ca: &Ca,
    first_request_timeout_ms: u64,
) -> (u16, std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let (cert, key) = ca.leaf(&["localhost"]);
    let mut config = Config::default();
    config.store.url = format!("sqlite://{}", dir.join("finroute.db").display());
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    config.server.metrics_listen = probe.local_addr().unwrap();
    drop(probe);
    config.server.first_request_timeout_ms = first_request_timeout_ms;
    config.server.tls = Some(ServerTlsConfig {
        cert_file: write(dir, "server.pem", &cert),
        key_file: write(dir, "server.key", &key),
        client_ca_file: None,
        handshake_timeout_ms: 5_000,
    });
    let metrics = config.server.metrics_listen;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(finroute_server::run(config, listener, async {
        let _ = rx.await;
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    (port, metrics, tx)
}

async fn scrape(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).await.unwrap();
    text
}

/// Clients that finish the TLS handshake (and the HTTP/2 preface) but never
/// ask anything are closed after `server.first_request_timeout_ms`, as on
/// plaintext: the timer runs under the TLS layer, from the accept.
#[tokio::test]
async fn tls_clients_that_never_send_a_request_are_closed_after_the_first_request_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("finroute test CA");
    let (port, metrics, _stop) = start_with_first_request_timeout(dir.path(), &ca, 500).await;
    let fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let base = fds();
    let mut quiet = Vec::new();
    for _ in 0..50 {
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca.pem()))
            .domain_name("localhost");
        let channel = Channel::from_shared(format!("https://localhost:{port}"))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap();
        quiet.push(channel);
    }
    let held = fds().saturating_sub(base);
    assert!(
        routes(tls_client(port, &ca, None).await).await,
        "served meanwhile"
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let left = fds().saturating_sub(base);
    let text = scrape(metrics).await;
    eprintln!("50 quiet TLS connections: {held} fds (both ends) before the timeout, {left} after");
    assert!(
        text.contains("finroute_connections_closed_total{reason=\"first_request_timeout\"} 50\n"),
        "{text}"
    );
    assert!(left <= 6, "fds left: {left}");
    assert!(
        routes(tls_client(port, &ca, None).await).await,
        "served after"
    );
}

/// The console under `[server.tls]`: HTTPS with the router's certificate,
/// its session cookies `Secure` and HSTS sent; plain HTTP gets no page.
#[tokio::test]
async fn the_console_serves_https_with_secure_cookies_under_tls() {
    use sha2::{Digest, Sha256};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;

    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("finroute test CA");
    let (cert, key) = ca.leaf(&["localhost"]);
    let mut config = Config::default();
    config.store.url = format!("sqlite://{}", dir.path().join("finroute.db").display());
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    config.server.metrics_listen = probe.local_addr().unwrap();
    let console_probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let console = console_probe.local_addr().unwrap();
    drop((probe, console_probe));
    config.server.console_listen = Some(console);
    config.server.tls = Some(ServerTlsConfig {
        cert_file: write(dir.path(), "server.pem", &cert),
        key_file: write(dir.path(), "server.key", &key),
        client_ca_file: None,
        handshake_timeout_ms: 5_000,
    });
    config.auth.keys = vec![finroute_server::config::ApiKeyConfig {
        id: "ops-a".into(),
        sha256: hex::encode(Sha256::digest(b"fr_live_operator_a")),
        tenant: "t".into(),
        roles: vec!["operator".into()],
        rate_per_second: None,
        burst: None,
        adapter_id: None,
    }];
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let router = tokio::spawn(finroute_server::run(config, listener, async {
        let _ = rx.await;
    }));
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(ca.pem().as_bytes()).unwrap())
        .unwrap();
    let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let mut answer = String::new();
    for _ in 0..100 {
        let Ok(tcp) = tokio::net::TcpStream::connect(console).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        tls.write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut raw = Vec::new();
        let _ = tls.read_to_end(&mut raw).await;
        answer = String::from_utf8_lossy(&raw).into_owned();
        break;
    }
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(
        lower.contains("strict-transport-security: max-age="),
        "{answer}"
    );
    let cookie = lower
        .lines()
        .find(|l| l.starts_with("set-cookie: finroute_console_login="))
        .unwrap()
        .to_owned();
    assert!(cookie.contains("; secure"), "{cookie}");
    assert!(cookie.contains("httponly") && cookie.contains("samesite=strict"));

    // Plain HTTP to the TLS console gets no page.
    let mut tcp = tokio::net::TcpStream::connect(console).await.unwrap();
    tcp.write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut raw)).await;
    assert!(!String::from_utf8_lossy(&raw).contains("200 OK"));
    let _ = tx.send(());
    router.await.unwrap().unwrap();
}
