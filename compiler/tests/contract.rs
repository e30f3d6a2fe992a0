//! Contracts (a gate's `contract`, a route's `body`) beyond the ui cases:
//!
//! - hostile contract files (alias bombs, deep nesting, non-UTF-8, random
//!   bytes, cyclic `$ref`s, every prefix of the flagship's contract, files
//!   over the size cap) never panic, and each diagnostic keeps its shape;
//! - the checker reads the same contract the same way from disk
//!   (`scalec check`) and from memory (the language server's path), for
//!   every contract ui case;
//! - the flagship's contract, in YAML and as JSON, 3.1 and rewritten as
//!   3.0, checks clean against the flagship; with a route removed from the
//!   contract, or a method changed, it does not.

use scalec::diagnostics::{self, Code, Diagnostic};
use scalec::project::{Asset, Project};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

const TRIAGE: &str = include_str!("../../examples/triage/triage.scale");
const TRIAGE_OPENAPI: &str = include_str!("../../examples/triage/openapi.yaml");
const TICKET: &str = include_str!("../../examples/triage/schemas/ticket.json");

const SPEC: &str = r#"app shop { owner = "team" }

service api {
  image = "shop/api:1"
  route list GET "/v1/orders" {}
  route create POST "/v1/orders" { body = "schemas/order.json" }
}

gate deploy { contract = "openapi.yaml" }
"#;

/// Checks `SPEC` with `contract` as `openapi.yaml`; `Err` on a panic or a
/// diagnostic without a primary label or a help line.
fn check_contract(contract: &[u8]) -> Result<Vec<Diagnostic>, String> {
    catch_unwind(AssertUnwindSafe(|| {
        let mut p = Project::from_memory(&[
            ("main.scale", SPEC),
            ("schemas/order.json", r#"{"type": "object"}"#),
        ]);
        p.add_asset("openapi.yaml".into(), contract.to_vec());
        let c = scalec::check(p);
        let _ = diagnostics::render(&c.project.sources, &c.diagnostics, false);
        let _ = diagnostics::to_json_lines(&c.project.sources, &c.diagnostics);
        c.diagnostics
    }))
    .map_err(|_| "panicked".to_string())
    .and_then(|ds| {
        for d in &ds {
            if d.primary_span().is_none() || d.help.is_none() {
                return Err(format!("{} lacks a primary label or help", d.code));
            }
        }
        Ok(ds)
    })
}

fn codes(ds: &[Diagnostic]) -> Vec<&'static str> {
    let mut v: Vec<&str> = ds.iter().map(|d| d.code.as_str()).collect();
    v.sort();
    v
}

/// A small deterministic generator (no dependency for random bytes).
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

#[test]
fn hostile_contracts_never_panic() {
    let mut cases: Vec<(String, Vec<u8>, Option<Code>)> = Vec::new();
    // A billion laughs: aliases that expand exponentially.
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 0..9 {
        let prev = if i == 0 {
            "a".to_string()
        } else {
            format!("b{}", i - 1)
        };
        let refs = vec![format!("*{prev}"); 9].join(",");
        bomb.push_str(&format!("b{i}: &b{i} [{refs}]\n"));
    }
    bomb.push_str("openapi: 3.1.0\npaths: {}\n");
    cases.push((
        "alias bomb".into(),
        bomb.into_bytes(),
        Some(Code::ContractUnreadable),
    ));
    cases.push((
        "deep YAML flow".into(),
        format!(
            "openapi: 3.1.0\npaths: {}{}\n",
            "[".repeat(5000),
            "]".repeat(5000)
        )
        .into_bytes(),
        Some(Code::ContractUnreadable),
    ));
    let mut deep_block = String::from("openapi: 3.1.0\npaths:\n");
    for i in 0..200 {
        deep_block.push_str(&format!("{}k{i}:\n", "  ".repeat(i + 1)));
    }
    cases.push((
        "deep YAML block".into(),
        deep_block.into_bytes(),
        Some(Code::ContractUnreadable),
    ));
    cases.push((
        "not UTF-8".into(),
        b"openapi: 3.1.0\ninfo: \xff\xfe\n".to_vec(),
        Some(Code::ContractUnreadable),
    ));
    cases.push(("empty".into(), Vec::new(), Some(Code::ContractNotOpenApi)));
    cases.push((
        "null".into(),
        b"~\n".to_vec(),
        Some(Code::ContractNotOpenApi),
    ));
    cases.push((
        "a list".into(),
        b"- openapi: 3.1.0\n".to_vec(),
        Some(Code::ContractNotOpenApi),
    ));
    cases.push((
        "swagger".into(),
        b"swagger: '2.0'\npaths: {}\n".to_vec(),
        Some(Code::ContractNotOpenApi),
    ));
    cases.push((
        "version a number".into(),
        b"openapi: 3.1\npaths: {}\n".to_vec(),
        Some(Code::ContractNotOpenApi),
    ));
    cases.push((
        "3.0 without paths".into(),
        b"openapi: 3.0.3\n".to_vec(),
        Some(Code::ContractNotOpenApi),
    ));
    cases.push((
        "paths a list".into(),
        b"openapi: 3.1.0\npaths: [1, 2]\n".to_vec(),
        Some(Code::ContractNotOpenApi),
    ));
    cases.push((
        "non-scalar key".into(),
        b"openapi: 3.1.0\npaths:\n  ? [a]\n  : 1\n".to_vec(),
        Some(Code::ContractUnreadable),
    ));
    cases.push(("BOM".into(), "\u{FEFF}openapi: 3.1.0\npaths:\n  /v1/orders: {get: {}, post: {requestBody: {content: {application/json: {schema: {type: object}}}}}}\n".as_bytes().to_vec(), None));
    // Odd but parseable shapes: nothing may panic on them.
    for (name, text) in [
        ("path item a string", "openapi: 3.1.0\npaths:\n  /v1/orders: hello\n"),
        ("operation a list", "openapi: 3.1.0\npaths:\n  /v1/orders: {get: [1], post: 3}\n"),
        ("servers odd", "openapi: 3.1.0\nservers: [1, {url: 3}, {url: ''}, {url: '://'}, {url: 'http://h'}, {url: '/x/', variables: {a: 1}}]\npaths: {}\n"),
        ("cyclic path item ref", "openapi: 3.1.0\npaths:\n  /v1/orders: {$ref: '#/paths/~1v1~1orders'}\n"),
        ("cyclic request body", "openapi: 3.1.0\npaths:\n  /v1/orders:\n    get: {}\n    post: {requestBody: {$ref: '#/components/requestBodies/A'}}\ncomponents: {requestBodies: {A: {$ref: '#/components/requestBodies/A'}}}\n"),
        ("cyclic schema", "openapi: 3.1.0\npaths:\n  /v1/orders:\n    get: {}\n    post: {requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/A'}}}}}\ncomponents: {schemas: {A: {type: object, properties: {a: {$ref: '#/components/schemas/A'}, b: {$ref: '#/components/schemas/A'}}}}}\n"),
        ("ref odd pointers", "openapi: 3.1.0\npaths:\n  /v1/orders:\n    get: {}\n    post: {requestBody: {content: {application/json: {schema: {$ref: '#/%zz/~2/%'}}}}}\n"),
        ("tags and anchors", "openapi: !!str 3.1.0\npaths: &p\n  /v1/orders: !custom {get: {}}\nx: *p\n"),
        ("integer keys", "openapi: 3.1.0\npaths:\n  /v1/orders: {get: {responses: {200: {description: x}}}}\n  1: 2\n"),
        ("braces", "openapi: 3.1.0\npaths:\n  '/v1/{{}}': {get: {}}\n  '/v1/orders/{': {get: {}}\n  '}': {get: {}}\n"),
    ] {
        cases.push((name.into(), text.as_bytes().to_vec(), None));
    }
    // Random bytes, and random printable junk.
    let mut seed = 0x5eed_u64;
    for n in 0..40 {
        let len = (lcg(&mut seed) % 400) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                let b = lcg(&mut seed) as u8;
                if n % 2 == 0 {
                    b
                } else {
                    b" \n:-[]{}'\"&*!#|>ab/01"
                        .get((b % 21) as usize)
                        .copied()
                        .unwrap_or(b'a')
                }
            })
            .collect();
        cases.push((format!("random {n}"), bytes, None));
    }
    // Every 13th prefix of the flagship's contract (and of a JSON copy).
    let json = serde_json::to_string_pretty(
        &yaml_serde::from_str::<serde_json::Value>(TRIAGE_OPENAPI).unwrap(),
    )
    .unwrap();
    for text in [TRIAGE_OPENAPI, json.as_str()] {
        for i in (0..text.len())
            .step_by(13)
            .filter(|i| text.is_char_boundary(*i))
        {
            cases.push((format!("prefix {i}"), text.as_bytes()[..i].to_vec(), None));
        }
    }
    let mut failures = Vec::new();
    for (name, bytes, want) in &cases {
        match check_contract(bytes) {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok(ds) => {
                if let Some(code) = want {
                    if !ds.iter().any(|d| d.code == *code) {
                        failures.push(format!("{name}: expected {code}, got {:?}", codes(&ds)));
                    }
                }
            }
        }
    }
    assert!(cases.len() > 100, "only {} cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn a_contract_over_the_size_cap_is_refused() {
    let mut big = b"openapi: 3.1.0\npaths: {}\nx: \"".to_vec();
    big.resize(scalec::project::MAX_ASSET_BYTES as usize + 10, b'a');
    big.extend_from_slice(b"\"\n");
    let mut p = Project::from_memory(&[("main.scale", SPEC)]);
    p.add_asset("openapi.yaml".into(), big);
    assert!(matches!(
        p.assets.get("openapi.yaml"),
        Some(Asset::TooLarge(_))
    ));
    let c = scalec::check(p);
    let d = c
        .diagnostics
        .iter()
        .find(|d| d.code == Code::ContractUnreadable && d.message.contains("\"openapi.yaml\""))
        .expect("S1301 for the contract");
    assert!(
        d.message.contains("more than the 8388608 bytes"),
        "{}",
        d.message
    );

    // On disk, the loader stops reading at the cap.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract-big");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.scale"), SPEC).unwrap();
    let f = std::fs::File::create(dir.join("openapi.yaml")).unwrap();
    f.set_len(scalec::project::MAX_ASSET_BYTES + 1).unwrap();
    let p = Project::load(std::slice::from_ref(&dir)).unwrap();
    assert!(matches!(
        p.assets.get("openapi.yaml"),
        Some(Asset::TooLarge(_))
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

/// (name, text) of every file below `dir`, names relative to it.
fn files_below(dir: &Path, base: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_below(&p, base, out);
        } else {
            let name = p
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(&p).unwrap();
            out.push((name, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
}

/// The language server checks from memory; `scalec check` from disk. For
/// every contract case, both say the same (the non-UTF-8 case aside: a
/// text buffer cannot hold its bytes).
#[test]
fn disk_and_memory_read_contracts_alike() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/ui/contract");
    let mut compared = 0;
    for e in std::fs::read_dir(&root).unwrap() {
        let dir = e.unwrap().path();
        if !dir.is_dir() || dir.ends_with("unparsable") {
            continue;
        }
        let disk = scalec::check(Project::load(std::slice::from_ref(&dir)).unwrap());
        let mut files = Vec::new();
        files_below(&dir, &dir, &mut files);
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let memory = scalec::check(Project::from_memory(&refs));
        let render = |c: &scalec::Compilation| {
            diagnostics::render(&c.project.sources, &c.diagnostics, false)
        };
        assert_eq!(render(&disk), render(&memory), "{}", dir.display());
        assert!(!disk.diagnostics.is_empty() || dir.ends_with("contract_ok_json31"));
        compared += 1;
    }
    assert!(compared >= 7, "only {compared} cases compared");
}

fn check_flagship(contract_name: &str, contract: &str) -> Vec<Diagnostic> {
    let spec = TRIAGE.replace(
        "contract    = \"openapi.yaml\"",
        &format!("contract    = \"{contract_name}\""),
    );
    scalec::check(Project::from_memory(&[
        ("triage.scale", spec.as_str()),
        (contract_name, contract),
        ("schemas/ticket.json", TICKET),
    ]))
    .diagnostics
}

/// The flagship's contract in the four forms checks clean; a route missing
/// from it, or a method that differs, is reported on the route.
#[test]
fn the_flagship_contract_in_every_form() {
    let v31: serde_json::Value = yaml_serde::from_str(TRIAGE_OPENAPI).unwrap();
    let json31 = serde_json::to_string_pretty(&v31).unwrap();
    // 3.0: the same document, its version changed (nothing in it is 3.1-only).
    let yaml30 = TRIAGE_OPENAPI.replace("openapi: 3.1.0", "openapi: 3.0.3");
    assert_ne!(yaml30, TRIAGE_OPENAPI);
    let json30 = json31.replace("\"openapi\": \"3.1.0\"", "\"openapi\": \"3.0.3\"");
    assert_ne!(json30, json31);
    for (name, text) in [
        ("openapi.yaml", TRIAGE_OPENAPI),
        ("openapi.json", json31.as_str()),
        ("api/v30.yaml", yaml30.as_str()),
        ("api/v30.json", json30.as_str()),
    ] {
        let ds = check_flagship(name, text);
        assert!(ds.is_empty(), "{name}: {:?}", codes(&ds));

        // A route the contract lacks: /v1/search removed.
        let mut doc: serde_json::Value = yaml_serde::from_str(text).unwrap();
        doc["paths"]
            .as_object_mut()
            .unwrap()
            .remove("/v1/search")
            .unwrap();
        let lacking = serde_json::to_string(&doc).unwrap();
        let ds = check_flagship(name, &lacking);
        assert_eq!(codes(&ds), vec!["S1303"], "{name}");
        assert!(
            ds[0].message.contains("GET \"/v1/search\""),
            "{}",
            ds[0].message
        );
        assert!(
            ds[0].message.contains(name),
            "names the contract: {}",
            ds[0].message
        );

        // A mismatched method: the contract opens tickets with PUT.
        let mut doc: serde_json::Value = yaml_serde::from_str(text).unwrap();
        let item = doc["paths"]["/v1/tickets"].as_object_mut().unwrap();
        let op = item.remove("post").unwrap();
        item.insert("put".into(), op);
        let mismatched = serde_json::to_string(&doc).unwrap();
        let ds = check_flagship(name, &mismatched);
        assert_eq!(codes(&ds), vec!["S1304", "S1305"], "{name}");
        let s1304 = ds
            .iter()
            .find(|d| d.code == Code::MethodNotInContract)
            .unwrap();
        assert!(
            s1304.message.contains("has no POST for \"/v1/tickets\""),
            "{}",
            s1304.message
        );
        assert!(
            s1304
                .help
                .as_deref()
                .unwrap()
                .contains("the contract has PUT"),
            "{:?}",
            s1304.help
        );
    }
}

/// A contract that is a FIFO (opening it would block) or a folder is
/// reported, not read.
#[test]
fn special_files_are_not_read() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract-special");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("schemas/order.json")).unwrap();
    std::fs::write(dir.join("main.scale"), SPEC).unwrap();
    let ok = std::process::Command::new("mkfifo")
        .arg(dir.join("openapi.yaml"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo");
    let (tx, rx) = std::sync::mpsc::channel();
    let d = dir.clone();
    std::thread::spawn(move || {
        let c = scalec::check(Project::load(&[d]).unwrap());
        let _ = tx.send(
            c.diagnostics
                .iter()
                .map(|d| d.message.clone())
                .collect::<Vec<_>>(),
        );
    });
    let messages = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the check does not block on a FIFO");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("\"openapi.yaml\": it is not a regular file")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("\"schemas/order.json\": it is a folder")),
        "{messages:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
