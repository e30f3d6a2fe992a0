//! Include with `#[path = "support/backend.rs"] mod backend;` from a live test.
//!
//! A small HTTP/1.1 test backend for live tests (k6 runs, proxies in front
//! of it): loopback only, a thread per connection, keep-alive, stopped when
//! dropped. It answers every request with `200` and a JSON body naming the
//! method, the path, a serial number and the request headers, so a test can
//! see what reached it (a header a proxy added, whether a response came
//! from a cache). Its latency can be changed while it runs.
//!
//! ```ignore
//! let b = Backend::start();
//! b.set_delay(Duration::from_millis(300));      // every answer is late
//! b.set_path_delay("/slow", Duration::from_secs(2));
//! let n = b.count("GET", "/v1/search");
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the backend has seen and how it behaves; shared with its threads.
#[derive(Default)]
struct State {
    stop: AtomicBool,
    serial: AtomicU64,
    delay_ms: AtomicU64,
    path_delays: Mutex<BTreeMap<String, u64>>,
    extra_headers: Mutex<Vec<(String, String)>>,
    counts: Mutex<BTreeMap<(String, String), u64>>,
    last_headers: Mutex<BTreeMap<String, Vec<(String, String)>>>,
}

pub struct Backend {
    addr: SocketAddr,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

/// The longest a request head may be; a larger one is answered 431.
const MAX_HEAD: usize = 64 * 1024;

impl Backend {
    /// Starts on a free port of 127.0.0.1.
    pub fn start() -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State::default());
        let st = state.clone();
        let acceptor = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || serve(conn, &st));
            }
        });
        Backend {
            addr,
            state,
            acceptor: Some(acceptor),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every answer waits this long first.
    pub fn set_delay(&self, d: Duration) {
        self.state
            .delay_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// Answers for this exact path (query string excluded) wait this long
    /// instead of the global delay.
    pub fn set_path_delay(&self, path: &str, d: Duration) {
        self.state
            .path_delays
            .lock()
            .unwrap()
            .insert(path.to_string(), d.as_millis() as u64);
    }

    /// A header added to every answer (for example `Cache-Control`).
    pub fn add_response_header(&self, name: &str, value: &str) {
        self.state
            .extra_headers
            .lock()
            .unwrap()
            .push((name.to_string(), value.to_string()));
    }

    /// How many requests with this method and path (query excluded) arrived.
    pub fn count(&self, method: &str, path: &str) -> u64 {
        let counts = self.state.counts.lock().unwrap();
        counts
            .get(&(method.to_string(), path.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Every request that arrived, by method and path.
    pub fn counts(&self) -> BTreeMap<(String, String), u64> {
        self.state.counts.lock().unwrap().clone()
    }

    /// The total number of requests that arrived.
    pub fn total(&self) -> u64 {
        self.state.counts.lock().unwrap().values().sum()
    }

    /// The headers (lower-cased names) of the last request for this path.
    pub fn last_headers(&self, path: &str) -> Option<Vec<(String, String)>> {
        self.state.last_headers.lock().unwrap().get(path).cloned()
    }

    /// Forgets the counts.
    pub fn reset(&self) {
        self.state.counts.lock().unwrap().clear();
        self.state.last_headers.lock().unwrap().clear();
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

fn serve(conn: TcpStream, st: &State) {
    // Connection threads notice `stop` within a second.
    let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = conn.set_nodelay(true);
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    loop {
        let head = match read_head(&mut reader, st) {
            Some(h) => h,
            None => break,
        };
        let Head {
            method,
            target,
            headers,
            too_large,
        } = head;
        if too_large {
            let _ = out.write_all(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
            break;
        }
        let len = header(&headers, "content-length")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if len > 0 && std::io::copy(&mut (&mut reader).take(len), &mut std::io::sink()).is_err() {
            break;
        }
        let path = target.split('?').next().unwrap_or("").to_string();
        *st.counts
            .lock()
            .unwrap()
            .entry((method.clone(), path.clone()))
            .or_insert(0) += 1;
        st.last_headers
            .lock()
            .unwrap()
            .insert(path.clone(), headers.clone());
        let delay = st
            .path_delays
            .lock()
            .unwrap()
            .get(&path)
            .copied()
            .unwrap_or_else(|| st.delay_ms.load(Ordering::SeqCst));
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        let serial = st.serial.fetch_add(1, Ordering::SeqCst) + 1;
        let body = serde_json::json!({
            "method": method,
            "path": path,
            "target": target,
            "serial": serial,
            "headers": headers.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect::<Vec<_>>(),
        })
        .to_string();
        let close = header(&headers, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let mut resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-backend-serial: {serial}\r\n",
            body.len()
        );
        for (k, v) in st.extra_headers.lock().unwrap().iter() {
            resp.push_str(&format!("{k}: {v}\r\n"));
        }
        if close {
            resp.push_str("connection: close\r\n");
        }
        resp.push_str("\r\n");
        resp.push_str(&body);
        if out.write_all(resp.as_bytes()).is_err() || close {
            break;
        }
    }
    let _ = out.shutdown(Shutdown::Both);
}

struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    too_large: bool,
}

/// Reads one request head; `None` at end of stream, on an error, or when
/// the backend stops.
fn read_head(reader: &mut BufReader<TcpStream>, st: &State) -> Option<Head> {
    let mut lines: Vec<String> = Vec::new();
    let mut size = 0usize;
    let mut line = Vec::new();
    loop {
        if st.stop.load(Ordering::SeqCst) {
            return None;
        }
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => return None,
        }
        if !line.ends_with(b"\n") {
            continue; // a partial line after a timeout: keep reading
        }
        size += line.len();
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        line.clear();
        if text.is_empty() {
            if lines.is_empty() {
                continue; // stray CRLF between requests
            }
            break;
        }
        if size > MAX_HEAD {
            return Some(Head {
                method: String::new(),
                target: String::new(),
                headers: Vec::new(),
                too_large: true,
            });
        }
        lines.push(text);
    }
    let mut first = lines[0].split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("").to_string();
    let headers = lines[1..]
        .iter()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    Some(Head {
        method,
        target,
        headers,
        too_large: false,
    })
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nhost: x\r\nx-probe: yes\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let mut r = String::new();
        s.read_to_string(&mut r).unwrap();
        r
    }

    #[test]
    fn backend_answers_counts_and_delays() {
        let b = Backend::start();
        let r = get(b.addr(), "/a?x=1");
        assert!(r.starts_with("HTTP/1.1 200 OK"), "{r}");
        assert!(r.contains("\"path\":\"/a\""), "{r}");
        assert_eq!(b.count("GET", "/a"), 1);
        let h = b.last_headers("/a").unwrap();
        assert!(h.contains(&("x-probe".to_string(), "yes".to_string())));
        b.set_path_delay("/slow", Duration::from_millis(200));
        let t = std::time::Instant::now();
        get(b.addr(), "/slow");
        assert!(t.elapsed() >= Duration::from_millis(200));
        assert_eq!(b.total(), 2);
    }
}
