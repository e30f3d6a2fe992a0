//! `cargo run -p triage-service -- 127.0.0.1:8080`: the triage API with its
//! generated middleware, JWT keys from `SCALE_JWT_KEYS` (`kid=path.pem,…`,
//! EC public keys, each verifying over its rotation window).

use scale_runtime::KeySet;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let mut keys = KeySet::new();
    let jwt = triage_service::generated::api::SPEC.jwt;
    let calendar = jwt.and_then(|j| j.rotation).map(|r| r.calendar());
    for entry in std::env::var("SCALE_JWT_KEYS")
        .unwrap_or_default()
        .split(',')
        .filter(|e| !e.is_empty())
    {
        let (kid, path) = entry
            .split_once('=')
            .ok_or_else(|| std::io::Error::other("SCALE_JWT_KEYS: kid=path"))?;
        let pem = std::fs::read(path)?;
        let key =
            scale_runtime::jwt::DecodingKey::from_ec_pem(&pem).map_err(std::io::Error::other)?;
        // `k{n}` follows the calendar; any other kid verifies always.
        let window = match (calendar, kid.strip_prefix('k').and_then(|n| n.parse().ok())) {
            (Some(c), Some(n)) => c.window(n),
            _ => scale_runtime::rotation::Window::always(),
        };
        keys.insert(kid, key, window);
    }
    let config = scale_runtime::Config::new()
        .hooks(triage_service::PeerIp)
        .keys(keys);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("triage-service on {addr}");
    triage_service::serve(listener, config, triage_service::Downstream::default()).await
}
