//! A client for the tests and the bench: starts a language server, sends
//! JSON-RPC over its stdin, reads its stdout on a thread; the process is
//! killed when the client is dropped.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(30);

/// The server process, killed when dropped.
pub struct Server {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    next_id: i64,
    /// Notifications read while waiting for something else.
    pub stash: Vec<Value>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_message(r: &mut impl BufRead) -> Option<Value> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            len = v.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; len?];
    r.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

impl Server {
    pub fn start(exe: &Path, args: &[&str], cache: &Path) -> Server {
        Server::start_with(exe, args, cache, &[])
    }

    pub fn start_with(exe: &Path, args: &[&str], cache: &Path, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(exe)
            .args(args)
            .envs(env.iter().copied())
            .env("SCALEC_LSP_CACHE", cache)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            while let Some(m) = read_message(&mut r) {
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        Server {
            child,
            stdin,
            rx,
            next_id: 0,
            stash: Vec::new(),
        }
    }

    pub fn send(&mut self, msg: &Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.stdin.flush().expect("flush");
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    pub fn recv(&mut self, what: &str) -> Value {
        self.rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("no answer from the server within {WAIT:?} for {what}"))
    }

    /// A request's response: `{"result": …}` or `{"error": …}`.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let m = self.recv(method);
            if m.get("id") == Some(&json!(id)) && m.get("method").is_none() {
                return match m.get("error") {
                    Some(e) => json!({ "error": e }),
                    None => json!({ "result": m.get("result").cloned().unwrap_or(Value::Null) }),
                };
            }
            self.stash.push(m);
        }
    }

    /// Forgets the diagnostics received so far (call it after a request:
    /// the server sent every earlier notification before its answer).
    pub fn forget_diagnostics(&mut self) {
        self.stash
            .retain(|m| m["method"] != "textDocument/publishDiagnostics");
    }

    /// The diagnostics published for `uri` at `version`.
    pub fn diagnostics(&mut self, uri: &str, version: i64) -> Value {
        self.diagnostics_at(uri, json!(version))
    }

    /// The diagnostics published for `uri` at `version` (`null` for a
    /// file that is not open).
    pub fn diagnostics_at(&mut self, uri: &str, version: Value) -> Value {
        let matches = |m: &Value| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == uri
                && m["params"]["version"] == version
        };
        if let Some(i) = self.stash.iter().position(matches) {
            return self.stash.remove(i)["params"].clone();
        }
        loop {
            let m = self.recv("publishDiagnostics");
            if matches(&m) {
                return m["params"].clone();
            }
            self.stash.push(m);
        }
    }

    pub fn initialize(&mut self, root: &Path) -> Value {
        let r = self.request(
            "initialize",
            json!({"processId": null, "rootUri": uri(root), "capabilities": {}}),
        );
        self.notify("initialized", json!({}));
        r
    }

    pub fn shutdown(mut self) -> Option<i32> {
        let r = self.request("shutdown", Value::Null);
        assert_eq!(r, json!({"result": null}));
        self.notify("exit", Value::Null);
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not exit after `exit`"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub fn uri(p: &Path) -> String {
    format!("file://{}", p.display())
}

/// The UTF-16 (line, character) of a byte offset.
pub fn position(text: &str, offset: usize) -> Value {
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[start..offset].encode_utf16().count();
    json!({"line": line, "character": col})
}
