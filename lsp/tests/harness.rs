//! Drives the real `scalec-lsp` binary over stdio with JSON-RPC, from the
//! scripts in `lsp/tests/cases/*/script`, checks each answer against the
//! script's expectations and snapshots the whole exchange.
//!
//! A case is a folder: its `.scale` files are copied into a fresh temporary
//! folder (so `use "…"` reads real files and the URIs are real paths), and
//! `script` holds one step a line:
//!
//! ```text
//! open FILE                      didOpen; waits for its diagnostics
//! replace FILE `old` `new`       didChange (incremental: the range of the
//!                                first `old`); waits for its diagnostics
//! apply                          applies the last answer's edits (rename,
//!                                format, the first code action) to the
//!                                buffers as a full-text didChange
//! hover FILE `nee|dle`           and definition, references, completion,
//!                                prepareRename, action (a code action
//!                                request at the cursor), sourceAction
//!                                (the same, asking only for `source`)
//! rename FILE `nee|dle` NAME
//! format FILE / symbols FILE / tokens FILE / close FILE
//! disk FILE `old` `new`          FILE (not open) changes on disk; waits
//!                                for its diagnostics
//! diagnostics FILE               waits for the next diagnostics of FILE
//!                                (after a `close`: what the server says
//!                                of the files it answered for)
//! ~ TEXT                         the answer holds TEXT (in its JSON or in
//!                                one of its strings)
//! !~ TEXT                        it does not
//! ```
//!
//! In needles and replacement texts `\n` is a line break; `|` is the cursor.

mod client;

use client::{position, uri, Server};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn server_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_scalec-lsp"))
}

fn unescape(s: &str) -> String {
    s.replace("\\n", "\n")
}

/// The backtick-quoted pieces of a step, in order.
fn quoted(line: &str) -> Vec<String> {
    line.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| unescape(s))
        .collect()
}

/// The byte offset of the `|` in a needle, found in `text`.
fn cursor(text: &str, needle: &str) -> usize {
    let at = needle
        .find('|')
        .unwrap_or_else(|| panic!("needle `{needle}` has no `|`"));
    let plain = needle.replace('|', "");
    let start = text
        .find(&plain)
        .unwrap_or_else(|| panic!("needle `{plain}` not found in the text"));
    start + at
}

/// Every string in a JSON value.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn holds(v: &Value, needle: &str) -> bool {
    let mut all = Vec::new();
    strings(v, &mut all);
    v.to_string().contains(needle) || all.iter().any(|s| s.contains(needle))
}

/// Applies LSP text edits (UTF-16 ranges) to a text, last first.
fn apply_edits(text: &str, edits: &[Value]) -> String {
    let offset = |p: &Value| {
        let line = p["line"].as_u64().expect("line") as usize;
        let ch = p["character"].as_u64().expect("character") as usize;
        let mut start = 0;
        for _ in 0..line {
            start = text[start..]
                .find('\n')
                .map_or(text.len(), |i| start + i + 1);
        }
        let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let mut units = 0;
        for (i, c) in text[start..end].char_indices() {
            if units >= ch {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    };
    let mut spans: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().expect("newText").to_string(),
            )
        })
        .collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut t = text.to_string();
    for (a, b, new) in spans {
        t.replace_range(a..b, &new);
    }
    t
}

/// The edits of an answer, per URI: a WorkspaceEdit, a TextEdit list, or
/// the first code action's edit.
fn edits_of(answer: &Value) -> BTreeMap<String, Vec<Value>> {
    let r = &answer["result"];
    let ws = if r.is_array() && r.get(0).is_some_and(|a| a.get("edit").is_some()) {
        &r[0]["edit"]
    } else {
        r
    };
    let mut out = BTreeMap::new();
    if let Some(changes) = ws.get("changes").and_then(Value::as_object) {
        for (u, edits) in changes {
            out.insert(u.clone(), edits.as_array().cloned().unwrap_or_default());
        }
    } else if let Some(list) = r.as_array() {
        out.insert(String::new(), list.clone());
    }
    out
}

/// Semantic tokens made readable: `LINE:COL text type modifiers`, from
/// the legend of the server's `initialize` answer.
fn decode_tokens(answer: &Value, init: &Value, text: &str) -> Value {
    let legend = &init["result"]["capabilities"]["semanticTokensProvider"]["legend"];
    let types: Vec<&str> = legend["tokenTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let mods: Vec<&str> = legend["tokenModifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let Some(data) = answer["result"]["data"].as_array() else {
        return answer.clone();
    };
    let lines: Vec<&str> = text.split('\n').collect();
    let (mut line, mut col) = (0usize, 0usize);
    let mut out = Vec::new();
    for t in data.chunks(5) {
        let n = |i: usize| t[i].as_u64().unwrap() as usize;
        if n(0) > 0 {
            line += n(0);
            col = n(1);
        } else {
            col += n(1);
        }
        let units: Vec<u16> = lines[line].encode_utf16().collect();
        let word = String::from_utf16_lossy(&units[col..col + n(2)]);
        let m: Vec<&str> = (0..mods.len())
            .filter(|b| n(4) & (1 << b) != 0)
            .map(|b| mods[b])
            .collect();
        out.push(json!(format!(
            "{line}:{col} {word} {} {}",
            types[n(3)],
            m.join("+")
        )
        .trim_end()
        .to_string()));
    }
    json!({ "tokens": out })
}

fn copy_case(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("case folder") {
        let e = e.expect("entry");
        let p = e.path();
        if p.is_dir() {
            copy_case(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

/// Runs one case; returns the transcript (paths redacted). `chunk_lines`
/// sets how finely the server splits files (`SCALEC_LSP_CHUNK_LINES`).
fn run_case(case: &Path, chunk_lines: &str) -> String {
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let tmp = std::env::temp_dir().join(format!(
        "scalec-lsp-harness-{}-{name}-{chunk_lines}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    let root = tmp.join("project");
    let cache = tmp.join("cache");
    copy_case(case, &root);
    let script = std::fs::read_to_string(root.join("script")).expect("script");
    let mut server = Server::start_with(
        &server_exe(),
        &[],
        &cache,
        &[("SCALEC_LSP_CHUNK_LINES", chunk_lines)],
    );
    let init = server.initialize(&root);
    assert!(holds(&init, "\"hoverProvider\":true"), "{init}");
    let mut texts: BTreeMap<String, String> = BTreeMap::new();
    let mut versions: BTreeMap<String, i64> = BTreeMap::new();
    let mut transcript = String::new();
    let mut last = Value::Null;
    let mut last_file = String::new();
    for (n, line) in script.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{name}/script:{}: {line}", n + 1);
        if let Some(want) = line.strip_prefix("!~ ") {
            assert!(
                !holds(&last, &unescape(want)),
                "{at}\nthe answer holds it:\n{last:#}"
            );
            continue;
        }
        if let Some(want) = line.strip_prefix("~ ") {
            assert!(
                holds(&last, &unescape(want)),
                "{at}\nthe answer does not hold it:\n{last:#}"
            );
            continue;
        }
        let mut words = line.split_whitespace();
        let cmd = words.next().unwrap_or_default();
        let file = words.next().unwrap_or_default().to_string();
        let path = root.join(&file);
        let u = uri(&path);
        let q = quoted(line);
        let text = || {
            texts
                .get(&file)
                .cloned()
                .unwrap_or_else(|| panic!("{at}: {file} is not open"))
        };
        let doc_pos = |t: &str| json!({"textDocument": {"uri": u}, "position": position(t, cursor(t, &q[0]))});
        let answer = match cmd {
            "open" => {
                let t = std::fs::read_to_string(&path).expect("case file");
                texts.insert(file.clone(), t.clone());
                versions.insert(file.clone(), 1);
                server.notify(
                    "textDocument/didOpen",
                    json!({"textDocument": {"uri": u, "languageId": "scale", "version": 1, "text": t}}),
                );
                server.diagnostics(&u, 1)
            }
            "replace" => {
                let t = text();
                let a = t.find(&q[0]).unwrap_or_else(|| panic!("{at}: `{}` not found", q[0]));
                let b = a + q[0].len();
                let v = versions.get(&file).copied().unwrap_or(1) + 1;
                versions.insert(file.clone(), v);
                let mut new = t.clone();
                new.replace_range(a..b, &q[1]);
                texts.insert(file.clone(), new);
                server.notify(
                    "textDocument/didChange",
                    json!({"textDocument": {"uri": u, "version": v}, "contentChanges": [
                        {"range": {"start": position(&t, a), "end": position(&t, b)}, "text": q[1]}
                    ]}),
                );
                server.diagnostics(&u, v)
            }
            "apply" => {
                let mut published = Vec::new();
                for (target, edits) in edits_of(&last) {
                    let f = if target.is_empty() {
                        last_file.clone()
                    } else {
                        target
                            .strip_prefix("file://$ROOT")
                            .map(|s| s.trim_start_matches('/').to_string())
                            .unwrap_or_else(|| panic!("{at}: an edit outside the project: {target}"))
                    };
                    let t = texts.get(&f).cloned().unwrap_or_else(|| panic!("{at}: {f} is not open"));
                    let new = apply_edits(&t, &edits);
                    let v = versions[&f] + 1;
                    versions.insert(f.clone(), v);
                    texts.insert(f.clone(), new.clone());
                    let fu = uri(&root.join(&f));
                    server.notify(
                        "textDocument/didChange",
                        json!({"textDocument": {"uri": fu, "version": v}, "contentChanges": [{"text": new}]}),
                    );
                    published.push(json!({"file": f, "text": new, "diagnostics": server.diagnostics(&fu, v)}));
                }
                assert!(!published.is_empty(), "{at}: the last answer has no edits");
                Value::Array(published)
            }
            "close" => {
                texts.remove(&file);
                server.forget_diagnostics();
                server.notify("textDocument/didClose", json!({"textDocument": {"uri": u}}));
                Value::Null
            }
            "diagnostics" => server.diagnostics(&u, versions[&file]),
            "disk" => {
                // A file that is not open changes on disk.
                let t = std::fs::read_to_string(&path).expect("case file");
                let new = t.replacen(&q[0], &q[1], 1);
                assert_ne!(t, new, "{at}: `{}` not found", q[0]);
                std::fs::write(&path, new).expect("write");
                server.forget_diagnostics();
                server.notify(
                    "workspace/didChangeWatchedFiles",
                    json!({"changes": [{"uri": u, "type": 2}]}),
                );
                server.diagnostics_at(&u, Value::Null)
            }
            "hover" => server.request("textDocument/hover", doc_pos(&text())),
            "definition" => server.request("textDocument/definition", doc_pos(&text())),
            "completion" => server.request("textDocument/completion", doc_pos(&text())),
            "prepareRename" => server.request("textDocument/prepareRename", doc_pos(&text())),
            "references" => {
                let mut p = doc_pos(&text());
                p["context"] = json!({"includeDeclaration": true});
                server.request("textDocument/references", p)
            }
            "rename" => {
                let mut p = doc_pos(&text());
                p["newName"] = json!(line.rsplit(' ').next().unwrap_or_default());
                server.request("textDocument/rename", p)
            }
            "action" | "sourceAction" => {
                let t = text();
                let pos = position(&t, cursor(&t, &q[0]));
                let mut context = json!({"diagnostics": []});
                if cmd == "sourceAction" {
                    context["only"] = json!(["source"]);
                }
                server.request(
                    "textDocument/codeAction",
                    json!({"textDocument": {"uri": u}, "range": {"start": pos, "end": pos},
                           "context": context}),
                )
            }
            "format" => server.request(
                "textDocument/formatting",
                json!({"textDocument": {"uri": u}, "options": {"tabSize": 2, "insertSpaces": true}}),
            ),
            "symbols" => server.request("textDocument/documentSymbol", json!({"textDocument": {"uri": u}})),
            "tokens" => {
                let r = server.request(
                    "textDocument/semanticTokens/full",
                    json!({"textDocument": {"uri": u}}),
                );
                decode_tokens(&r, &init, &text())
            }
            other => panic!("{at}: unknown step `{other}`"),
        };
        if cmd != "apply" {
            last_file = file.clone();
        }
        // Paths redacted, for the expectations and the snapshot alike.
        let answer: Value = serde_json::from_str(
            &answer
                .to_string()
                .replace(&cache.display().to_string(), "$CACHE")
                .replace(&root.display().to_string(), "$ROOT"),
        )
        .expect("JSON");
        transcript.push_str(&format!(">> {line}\n{answer:#}\n\n"));
        last = answer;
    }
    assert_eq!(
        server.shutdown(),
        Some(0),
        "{name}: the server's exit status"
    );
    let _ = std::fs::remove_dir_all(&tmp);
    transcript
}

/// The lines of `b` that are not in `a` and the reverse, for a failure.
fn similar_lines(a: &str, b: &str) -> String {
    let la: Vec<&str> = a.lines().collect();
    let lb: Vec<&str> = b.lines().collect();
    let mut out = String::new();
    for (i, (x, y)) in la.iter().zip(&lb).enumerate() {
        if x != y {
            out.push_str(&format!("line {}:\n- {x}\n+ {y}\n", i + 1));
            if out.len() > 4000 {
                break;
            }
        }
    }
    if la.len() != lb.len() {
        out.push_str(&format!("{} lines against {}\n", la.len(), lb.len()));
    }
    out
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

#[test]
fn scripted_sessions() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("lsp/tests/cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("script").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 4, "the cases are missing: {cases:?}");
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let transcript = run_case(&case, "100");
        // Split at every declaration, the server must answer the same:
        // the reuse of unchanged chunks changes nothing a client sees.
        let fine = run_case(&case, "1");
        if transcript != fine {
            let diff = similar_lines(&transcript, &fine);
            panic!("{name}: the answers differ when every declaration is a chunk:\n{diff}");
        }
        insta::assert_snapshot!(name, transcript);
    }
}

/// The explanation a diagnostic's code links to is a real file holding
/// the explanation, and `std/` definitions open real files with the
/// standard library's text.
#[test]
fn links_point_at_real_files() {
    let tmp = std::env::temp_dir().join(format!("scalec-lsp-links-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let file = tmp.join("main.scale");
    let text = "use std.budgets.{web}\napp a { owner = \"t\" }\nbudget b { p99 = 1s }\nservice s {\n  image = \"x/y:1\"\n  route r GET \"/\" { budget = webb }\n}\n";
    std::fs::write(&file, text).unwrap();
    let mut server = Server::start(&server_exe(), &[], &tmp.join("cache"));
    server.initialize(&tmp);
    let u = uri(&file);
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": u, "languageId": "scale", "version": 1, "text": text}}),
    );
    let d = server.diagnostics(&u, 1);
    let diags = d["diagnostics"].as_array().unwrap();
    let unknown = diags.iter().find(|d| d["code"] == "S0101").expect("S0101");
    let href = unknown["codeDescription"]["href"].as_str().unwrap();
    let page = std::fs::read_to_string(href.strip_prefix("file://").unwrap()).unwrap();
    assert!(page.contains("S0101"), "{page}");
    let def = server.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": u}, "position": {"line": 0, "character": 18}}),
    );
    let target = def["result"]["uri"].as_str().expect("a location");
    let std_text = std::fs::read_to_string(target.strip_prefix("file://").unwrap()).unwrap();
    assert!(std_text.contains("budget web {"), "{std_text}");
    let line = def["result"]["range"]["start"]["line"].as_u64().unwrap() as usize;
    assert!(std_text.lines().nth(line).unwrap().contains("budget web"));
    // Opened in the editor, the standard library file answers hovers from
    // the unit that loads it, and is not checked as a project of its own.
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": target, "languageId": "scale", "version": 1, "text": std_text}}),
    );
    let col = std_text.lines().nth(line).unwrap().find("web").unwrap() + 1;
    let h = server.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": target}, "position": {"line": line, "character": col}}),
    );
    let md = h["result"]["contents"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(md.contains("**budget** `web`"), "{h}");
    assert!(
        !server.stash.iter().any(|m| m["params"]["uri"] == target),
        "diagnostics were published for the standard library: {:?}",
        server.stash
    );
    assert_eq!(server.shutdown(), Some(0));
    let _ = std::fs::remove_dir_all(&tmp);
}

/// `scalec lsp` runs this server (the binary beside `scalec`), and says
/// how to install it when it is missing.
#[test]
fn scalec_lsp_runs_the_server() {
    let scalec = server_exe().with_file_name(format!("scalec{}", std::env::consts::EXE_SUFFIX));
    if !scalec.is_file() {
        let msg = format!(
            "{} is not built (run `cargo test --workspace`, or `cargo build -p scalec` first)",
            scalec.display()
        );
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        eprintln!("SKIP scalec_lsp_runs_the_server: {msg}");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("scalec-lsp-cmd-{}", std::process::id()));
    let mut server = Server::start(&scalec, &["lsp", "--stdio"], &tmp);
    let init = server.initialize(&tmp);
    assert_eq!(init["result"]["serverInfo"]["name"], "scalec-lsp", "{init}");
    assert_eq!(server.shutdown(), Some(0));
    let out = Command::new(&scalec)
        .arg("lsp")
        .env("SCALEC_LSP", tmp.join("no-such-server"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cargo install --path lsp"), "{err}");
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Every request at every position of a broken, mixed-script text answers
/// (a result, or for rename a refusal) and the server lives on; with the
/// file split at every declaration, so the chunk mapping is exercised too.
#[test]
fn every_position_of_broken_text_answers() {
    let tmp = std::env::temp_dir().join(format!("scalec-lsp-positions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let file = tmp.join("main.scale");
    let text = "use std.budgets.{web, nope}\n\napp démo { owner = \"😀 t\" colr = 1 }\nbudget fast { p99 = 100ms }\n}}} ))) \"open\nservice db { kind = postgres }\n/* é */ service api {\n  image = \"a/b:1\"\n  calls db, ghost\n  route r GET \"/😀\" { budget = fast }\n  route s POST \"/s\" {\n    budget = \nservice\tx { budget = w";
    std::fs::write(&file, text).unwrap();
    let mut server = Server::start_with(
        &server_exe(),
        &[],
        &tmp.join("cache"),
        &[("SCALEC_LSP_CHUNK_LINES", "1")],
    );
    server.initialize(&tmp);
    let u = uri(&file);
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": u, "languageId": "scale", "version": 1, "text": text}}),
    );
    let d = server.diagnostics(&u, 1);
    assert!(!d["diagnostics"].as_array().unwrap().is_empty(), "{d}");
    let mut requests = 0;
    for (line, l) in text.split('\n').enumerate() {
        let width = l.encode_utf16().count();
        for col in 0..=width + 1 {
            let pos =
                json!({"textDocument": {"uri": u}, "position": {"line": line, "character": col}});
            for method in [
                "textDocument/hover",
                "textDocument/completion",
                "textDocument/definition",
                "textDocument/references",
                "textDocument/prepareRename",
            ] {
                let mut p = pos.clone();
                if method.ends_with("references") {
                    p["context"] = json!({"includeDeclaration": false});
                }
                let r = server.request(method, p);
                requests += 1;
                let refused = method.ends_with("prepareRename") && r["error"]["code"] == -32602;
                assert!(
                    r.get("result").is_some() || refused,
                    "{method} at {line}:{col}: {r}"
                );
            }
            let r = server.request(
                "textDocument/codeAction",
                json!({"textDocument": {"uri": u},
                       "range": {"start": {"line": 0, "character": 0}, "end": {"line": line, "character": col}},
                       "context": {"diagnostics": []}}),
            );
            assert!(r.get("result").is_some(), "codeAction to {line}:{col}: {r}");
        }
    }
    for method in [
        "textDocument/documentSymbol",
        "textDocument/semanticTokens/full",
        "textDocument/formatting",
    ] {
        let r = server.request(
            method,
            json!({"textDocument": {"uri": u}, "options": {"tabSize": 2, "insertSpaces": true}}),
        );
        assert!(r.get("result").is_some(), "{method}: {r}");
    }
    assert!(requests > 1000, "{requests}");
    assert_eq!(server.shutdown(), Some(0));
    let _ = std::fs::remove_dir_all(&tmp);
}
