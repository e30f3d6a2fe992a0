//! What the live tests and the benchmark share: a server on loopback that
//! stops when dropped, a minimal keep-alive HTTP/1.1 client that can bind a
//! chosen 127.0.0.x source address, and signed test tokens.
#![allow(dead_code)]

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use scale_runtime::rotation::Calendar;
use scale_runtime::KeySet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const DAY: Duration = Duration::from_secs(86_400);

/// A server task, aborted on drop.
pub struct Server {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start(config: scale_runtime::Config, d: triage_service::Downstream) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = triage_service::serve(listener, config, d).await;
    });
    Server { addr, task }
}

/// The test calendar: now lies in the overlap of k0 and k1 (k0 stops
/// signing half an overlap from now, k1 was published half an overlap ago).
pub fn calendar() -> Calendar {
    let r = triage_service::generated::api::SPEC
        .jwt
        .unwrap()
        .rotation
        .unwrap();
    let now = SystemTime::now();
    Calendar::new(r.every, r.overlap).anchored_at(now - r.every + r.overlap / 2)
}

pub fn keys() -> KeySet {
    let c = calendar();
    let mut ks = KeySet::new();
    for (kid, n) in [("k0", 0), ("k1", 1), ("k5", 5)] {
        let file = if kid == "k5" { "k1" } else { kid };
        let pem = std::fs::read(format!(
            "{}/tests/keys/{file}.pub.pem",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        ks.insert(
            kid,
            scale_runtime::jwt::DecodingKey::from_ec_pem(&pem).unwrap(),
            c.window(n),
        );
    }
    ks
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims that pass every check of the flagship for an admin with MFA.
pub fn good_claims() -> serde_json::Value {
    serde_json::json!({
        "iss": "https://id.acme.dev", "aud": "triage", "sub": "user-1",
        "exp": now_secs() + 600, "roles": ["admin"], "amr": ["pwd", "mfa"],
        "device_id": "dev-1", "region": "eu-west-1", "session_start": now_secs() - 3600,
    })
}

/// Signs `claims` with the private key file `key` under `kid`.
pub fn token(kid: &str, key: &str, claims: &serde_json::Value) -> String {
    let pem = std::fs::read(format!(
        "{}/tests/keys/{key}.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some(kid.to_string());
    jsonwebtoken::encode(&h, claims, &EncodingKey::from_ec_pem(&pem).unwrap()).unwrap()
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One keep-alive connection.
pub struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects from `127.0.0.<src>` (0: any loopback source).
    pub async fn open(addr: SocketAddr, src: u8) -> std::io::Result<Conn> {
        let sock = tokio::net::TcpSocket::new_v4()?;
        if src != 0 {
            sock.bind(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, src)),
                0,
            ))?;
        }
        let s = sock.connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Conn { s, buf: Vec::new() })
    }

    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> std::io::Result<()> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nhost: t\r\ncontent-length: 0\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.s.write_all(req.as_bytes()).await
    }

    pub async fn recv(&mut self) -> std::io::Result<Resp> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                let mut lines = head.split("\r\n");
                let status: u16 = lines
                    .next()
                    .and_then(|l| l.split(' ').nth(1))
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .and_then(|(_, v)| v.parse().ok())
                    .ok_or_else(|| std::io::Error::other("no content-length"))?;
                while self.buf.len() < end + 4 + len {
                    self.fill().await?;
                }
                let body = String::from_utf8_lossy(&self.buf[end + 4..end + 4 + len]).into_owned();
                self.buf.drain(..end + 4 + len);
                return Ok(Resp {
                    status,
                    headers,
                    body,
                });
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 8192];
        let n = self.s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> std::io::Result<Resp> {
        self.send(method, path, headers).await?;
        self.recv().await
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// One request on a fresh connection.
pub async fn once(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    let mut c = Conn::open(addr, 0).await.unwrap();
    c.call(method, path, headers).await.unwrap()
}
