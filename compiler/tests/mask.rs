//! `scalec mask`: no unmasked value survives, the same input masks the same
//! way twice (and joins between requests hold), and the trace is otherwise
//! unchanged. Through the binary on a small project, and through the
//! library on generated traces (proptest).

mod support;

use proptest::prelude::*;
use scalec::mask::{percent_encode, Masker};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const SPEC: &str = r#"
app shop { owner = "team" }

service api {
  image = "shop/api:1"
  route search GET "/v1/search" class read
  route report GET "/v1/reports/{id}" class admin
  route ticket POST "/v1/tickets" class write
}

load_test replayed {
  target = api
  stages { hold 10 rps for 1m }
  replay = "traces/prod.masked.jsonl"
  mask   = ["email", "authorization", "x-api-key", "id", "session"]
}
"#;

const KEY: &str = "test-only-masking-key-0123456789";

/// Sensitive values, each in a masked field somewhere below; some also
/// appear where no field names them (free text, a URL, a nested body).
const EMAIL: &str = "ann.lee@customer.example";
const EMAIL2: &str = "bo@shop.example";
const TOKEN: &str = "Bearer eyJhbGciOiJFUzI1NiJ9.payload.sig";
const API_KEY: &str = "k_live_9f8e7d6c5b4a";
const SESSION: &str = "sess-00112233445566";
const REPORT_ID: &str = "7314";

fn raw_trace() -> String {
    let lines = [
        json!({"t_ms": 0, "method": "GET", "path": format!("/v1/search?q=printer&email={}", percent_encode(EMAIL)),
               "headers": {"Authorization": TOKEN, "X-Api-Key": API_KEY, "accept": "application/json"}}),
        json!({"t_ms": 40, "method": "POST", "path": "/v1/tickets",
               "headers": {"authorization": TOKEN, "content-type": "application/json"},
               "body": {"email": EMAIL, "subject": format!("printer broken, call me at {EMAIL}"),
                        "meta": {"session": SESSION, "seen": [1, 2, 3]}}}),
        json!({"t_ms": 95, "method": "GET", "path": format!("/v1/reports/{REPORT_ID}"),
               "headers": {"x-api-key": API_KEY, "referer": format!("https://app.example/r?session={SESSION}")}}),
        json!({"t_ms": 120, "method": "POST", "path": "/v1/tickets",
               "headers": {"authorization": "Bearer another.token.value"},
               "body": json!({"EMAIL": EMAIL2, "id": 12345678, "text": "ok"}).to_string()}),
        json!({"t_ms": 130, "method": "GET", "path": "/v1/search?q=id&page=2", "headers": {}}),
    ];
    lines.iter().map(|l| l.to_string() + "\n").collect()
}

fn project(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("shop.scale"), SPEC).unwrap();
    std::fs::write(dir.join("raw.jsonl"), raw_trace()).unwrap();
    dir
}

fn run_mask(dir: &Path, key: Option<&str>, extra: &[&str]) -> (i32, String) {
    let mut cmd = support::scalec();
    cmd.arg("mask")
        .arg(dir.join("shop.scale"))
        .args(["--test", "replayed", "--trace"])
        .arg(dir.join("raw.jsonl"))
        .args(extra)
        .env_remove("SCALE_MASK_KEY");
    if let Some(k) = key {
        cmd.env("SCALE_MASK_KEY", k);
    }
    let out = cmd.output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn cli_masks_every_named_value_stably() {
    let dir = project("mask-cli");
    let (code, text) = run_mask(&dir, Some(KEY), &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("masked 5 requests"), "{text}");
    let out_path = dir.join("traces/prod.masked.jsonl");
    let masked = std::fs::read_to_string(&out_path).unwrap();

    // No unmasked value survives, as written or percent-encoded.
    for v in [
        EMAIL,
        EMAIL2,
        TOKEN,
        API_KEY,
        SESSION,
        "another.token.value",
        "12345678",
    ] {
        assert!(!masked.contains(v), "{v} survived:\n{masked}");
        assert!(
            !masked.contains(&percent_encode(v)),
            "{v} (encoded) survived"
        );
    }
    let got = lines(&masked);
    let raw = lines(&raw_trace());
    assert_eq!(got.len(), raw.len());
    // A short id is replaced where it is a path parameter, and only there.
    let report_path = got[2]["path"].as_str().unwrap();
    assert!(report_path.starts_with("/v1/reports/"), "{report_path}");
    assert_ne!(report_path, format!("/v1/reports/{REPORT_ID}"));
    assert_eq!(
        report_path.len(),
        format!("/v1/reports/{REPORT_ID}").len(),
        "digits stay digits"
    );
    assert_eq!(
        got[4]["path"], "/v1/search?q=id&page=2",
        "nothing named here"
    );
    // Everything not named is unchanged.
    for (g, r) in got.iter().zip(&raw) {
        assert_eq!(g["t_ms"], r["t_ms"]);
        assert_eq!(g["method"], r["method"]);
    }
    assert_eq!(got[0]["headers"]["accept"], "application/json");
    assert_eq!(got[1]["body"]["meta"]["seen"], json!([1, 2, 3]));
    // Joins hold: one e-mail, one pseudonym, wherever it was.
    let p = got[1]["body"]["email"].as_str().unwrap();
    assert!(p.ends_with("@masked.invalid"), "{p}");
    assert!(got[1]["body"]["subject"].as_str().unwrap().contains(p));
    assert!(got[0]["path"]
        .as_str()
        .unwrap()
        .contains(&percent_encode(p)));
    assert_eq!(
        got[0]["headers"]["Authorization"],
        got[1]["headers"]["authorization"]
    );
    assert_eq!(
        got[0]["headers"]["X-Api-Key"],
        got[2]["headers"]["x-api-key"]
    );
    // A body that is JSON text is masked inside and stays JSON text.
    let body: Value = serde_json::from_str(got[3]["body"].as_str().unwrap()).unwrap();
    assert!(body["EMAIL"].as_str().unwrap().ends_with("@masked.invalid"));
    assert!(body["id"].is_u64() && body["id"] != json!(12345678));
    assert_eq!(body["text"], "ok");

    // The same input and key: the same bytes.
    let (code, _) = run_mask(&dir, Some(KEY), &[]);
    assert_eq!(code, 0);
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), masked);
    // Another key: other pseudonyms.
    let other = dir.join("other.jsonl");
    let (code, text) = run_mask(
        &dir,
        Some("a-different-key-0123456789"),
        &["-o", other.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{text}");
    let o = std::fs::read_to_string(&other).unwrap();
    assert_ne!(o, masked);
    assert!(!o.contains(EMAIL));
}

#[test]
fn cli_refuses_without_a_proper_key_or_test() {
    let dir = project("mask-refuse");
    let (code, text) = run_mask(&dir, None, &[]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("SCALE_MASK_KEY"), "{text}");
    let (code, text) = run_mask(&dir, Some("short"), &[]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("at least 16"), "{text}");
    assert!(!dir.join("traces").exists(), "nothing written");
    let out = support::scalec()
        .arg("mask")
        .arg(dir.join("shop.scale"))
        .args(["--test", "nope", "--trace"])
        .arg(dir.join("raw.jsonl"))
        .env("SCALE_MASK_KEY", KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(dir.join("raw.jsonl"), "{\"t_ms\": 1}\nnot json\n").unwrap();
    let (code, text) = run_mask(&dir, Some(KEY), &[]);
    assert_eq!(code, 2);
    assert!(text.contains("line 2"), "{text}");
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        // Pieces of what pseudonyms are made of: masking them must not
        // touch the pseudonyms of other values.
        Just("masked.invalid".to_string()),
        Just("invalid".to_string()),
        "[0-9a-f]{6,8}",
        "[a-z]{2,8}\\.[a-z]{2,8}@[a-z]{3,8}\\.example",
        "[A-Za-z0-9_]{6,24}",
        "[0-9]{1,12}",
        "[ -~]{6,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the values (even ones that look like parts of pseudonyms),
    /// every masked field holds exactly the value's pseudonym, long values
    /// are gone from free text, and a second run gives the same output.
    #[test]
    fn no_value_survives(vals in prop::collection::vec(value(), 1..6), noise in "[a-z ]{0,20}") {
        let fields = vec!["email".to_string(), "token".to_string(), "id".to_string()];
        let m = Masker::new(KEY.as_bytes(), &fields, &["/v1/reports/{id}".to_string()]).unwrap();
        let mut trace = String::new();
        for (i, v) in vals.iter().enumerate() {
            let line = json!({
                "t_ms": i * 10,
                "method": "GET",
                "path": format!("/v1/reports/{}?token={}", percent_encode(v), percent_encode(v)),
                "headers": {"Email": v},
                "body": {"note": format!("{noise}{v}{noise}"), "nested": {"ID": v}},
            });
            trace.push_str(&line.to_string());
            trace.push('\n');
        }
        let (out, _) = m.mask(&trace).unwrap();
        let (again, _) = m.mask(&trace).unwrap();
        prop_assert_eq!(&out, &again);
        let got = lines(&out);
        for (v, g) in vals.iter().zip(&got) {
            let p = m.pseudonym(v);
            prop_assert_eq!(g["headers"]["Email"].as_str().unwrap(), p.as_str());
            prop_assert_eq!(g["body"]["nested"]["ID"].as_str().unwrap(), p.as_str());
            // Long values are gone from the text that is not a pseudonym.
            if v.chars().count() >= 6 {
                let note = g["body"]["note"].as_str().unwrap();
                prop_assert!(!note.contains(v.as_str()), "{} survived in {}", v, note);
            }
            let path = g["path"].as_str().unwrap();
            let expected_path = format!("/v1/reports/{}?token={}", percent_encode(&p), percent_encode(&p));
            prop_assert_eq!(path, expected_path.as_str());
        }
    }
}
