//! The hostile corpus: every hostile value in every place text enters a
//! spec, through the real `scalec` binary and every target's real tool.
//!
//! "Nothing lost, nothing left behind, no input that crashes." For each
//! (place, value) the driver writes a small spec (a clean base spec with one
//! field replaced) and runs `scalec build SPEC -o OUT --emit ir
//! --message-format json`. Exactly one of:
//!
//! 1. **refused**: exit 1, at least one error whose primary span lies on the
//!    line of the hostile field, with a code and a help line; and, for a
//!    value that is not printable ASCII, the human output of `scalec check`
//!    holds no raw control, bidi or line-separator character;
//! 2. **accepted**: exit 0, no diagnostic; every file of every target
//!    parses; the value is exactly at its place in `ir.json`
//!    ([`ir_pointer`]) and found intact (decoded, not grepped: YAML scalars,
//!    PromQL label values and names inside them, the `generator:` header)
//!    in each target the place says carries it; no YAML comment carries a
//!    raw control or bidi character; and each target's real tool accepts
//!    its files (batched: one call per tool for all accepted cases,
//!    identical files once).
//!
//! Anything else (exit 2, a panic, a hang over 10 s, an altered value, a
//! tool refusing the output) fails the test.
//!
//! Data: `tests/hostile/values.txt` (the values, as `.scale` string bodies)
//! plus the generated ones in [`generated_values`]; the places are
//! [`PLACES`] (string fields) and [`IDENT_PLACES`] (declaration names, tried
//! with [`IDENT_VALUES`]).
//!
//! **Adding a target** (k6, nginx/HAProxy/Envoy, CI, Rust): add one row to
//! [`TARGETS`]: its name, the globs of its files under the output folder,
//! `value_intact` (parse every file, and find the decoded value in it) and
//! `validate` (run the real tool on many files at once). Then list the
//! target in the `carried` column of the places whose value it outputs. If
//! `scalec build` does not write it by default, add its `--target` here.
//!
//! Missing tools fail under `CI=true` and print a loud SKIP otherwise.
//! Known compiler bugs are listed in [`KNOWN_BUGS`]: each is run, printed
//! loudly, and fails the test once it is fixed (so the list stays true).

#[path = "support/rust_check.rs"]
mod rust_check;
mod support;

/// Prints past libtest's output capture (which only takes `print!` and
/// `eprint!`), so the summary and the known bugs show on a passing run too.
macro_rules! loud {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), $($t)*);
    }};
}

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// The base spec and the places
// ---------------------------------------------------------------------------

/// A clean spec that uses every string-valued field the language has. Each
/// place replaces one line of it. It builds with no diagnostic.
const BASE: &str = r#"app hx {
  owner      = "team-core"
  region     = "eu-west-1"
  generator  = "gen@1.0"
  scalec     = "0.1"
  tenant     = header("x-tenant-id")
  prometheus = "http://prom.example:9090"
  alert_severities { page = "P1"  ticket = "P3" }
}

service api {
  image    = "reg.example/api:1.0"
  cpu      = 500m
  memory   = 256Mi
  replicas = 2..6
  health   = "/healthz"
  ready    = "/readyz"
  warmup   = "/warmup"
  prewarm  = on
  autoscale on queue_depth("tickets") target 10
  metrics {
    requests = counter("reqs_total")
    latency  = histogram("lat_seconds", buckets = [100ms, 400ms, 1s])
    status   = label("code")
    route    = label("route")
    method   = label("method")
    service  = label("svc")
  }
  route items GET "/v1/items/{id}" class read { idempotency = header("Idempotency-Key")  auth = role("admin") }
  route post POST "/v1/items" {
    idempotency = query("key")
    retry { attempts = 2 }
    limit = [per_tenant, per_tenant(5/s)]
  }
}

limits {
  per tenant { rate = 10/s  from = header("x-org") }
  per identity { rate = 10/s  from = claim("sub") }
  overflow = queue("spill")
}

auth {
  jwt {
    issuer     = "https://id.example"
    audience   = "aud"
    algorithms = [ES256]
    jwks       = "https://id.example/jwks.json"
  }
  risk_scoring = hook("risk.score")
}

alert_policy pol {
  fast { severity = page  long = 1h  short = 5m  budget = 2% }
}

slo avail { service = api  objective = 99.9%  sli = errors(status >= 500) / requests  for = 2m }
slo lat { service = api.items  objective = 99%  sli = latency < 400ms  alerts = pol }

service side {
  image = "reg.example/side:1"  cpu = 100m  memory = 128Mi
  calls api { timeout = 5s  retries = 1 }
}

load_test lt { target = api  stages { hold 10 rps for 1m } }

chaos ch { target = api  kill pod every 1m }

gate deploy { contract = "openapi.yaml" }

observe {
  attach = [model]
  drift { token_usage = 10%  error_taxonomy = 10% }
}
"#;

/// How a target shows a value: as written, lowercased (header names), or
/// with a suffix (a histogram's `_bucket` series).
#[derive(Clone, Copy)]
enum Shown {
    Same,
    Lower,
    Suffix(&'static str),
}

impl Shown {
    fn apply(self, v: &str) -> String {
        match self {
            Shown::Same => v.to_string(),
            Shown::Lower => v.to_lowercase(),
            Shown::Suffix(s) => format!("{v}{s}"),
        }
    }
}

/// One place text enters a spec: `old` (a unique piece of [`BASE`]) is
/// replaced by `new`, where `%V%` stands for the value. `carried` lists the
/// targets that must output the decoded field, and how.
struct Place {
    name: &'static str,
    old: &'static str,
    new: &'static str,
    carried: &'static [(&'static str, Shown)],
}

const IR: (&str, Shown) = ("ir", Shown::Same);
const K8S: (&str, Shown) = ("k8s", Shown::Same);
const PROM: (&str, Shown) = ("prometheus", Shown::Same);
const IR_LOWER: (&str, Shown) = ("ir", Shown::Lower);
const K6: (&str, Shown) = ("k6", Shown::Same);
const K6_LOWER: (&str, Shown) = ("k6", Shown::Lower);
const PROXY: (&str, Shown) = ("proxy", Shown::Same);

macro_rules! place {
    ($name:literal, $old:literal => $new:literal, [$($t:expr),*]) => {
        Place { name: $name, old: $old, new: $new, carried: &[$($t),*] }
    };
}

/// Every string-valued field of the language, and a few name positions
/// given a string instead (those must be refused). Request values share one
/// check, so `query`, `claim` and `cookie` are each tried in one place
/// (`tenant = query(…)` and `claim(…)`, `idempotency = cookie(…)` and
/// `ready` behave like their siblings here); `health` and `warmup` cover the
/// probe paths; `metrics.method` shares the label check; a string where a
/// name is due is tried in four declarations (the check is one).
const PLACES: &[Place] = &[
    place!("app.owner", r#"owner      = "team-core""# => r#"owner = "%V%""#, [IR]),
    place!("app.region", r#"region     = "eu-west-1""# => r#"region = "%V%""#, [IR]),
    place!("app.generator", r#"generator  = "gen@1.0""# => r#"generator = "%V%@1.0""#, [IR, K8S, PROM, PROXY]),
    place!("app.scalec", r#"scalec     = "0.1""# => r#"scalec = "%V%""#, [IR, K8S, PROM, PROXY]),
    place!("app.tenant.header", r#"tenant     = header("x-tenant-id")"# => r#"tenant = header("%V%")"#, [IR_LOWER, K6_LOWER]),
    place!("app.tenant.cookie", r#"tenant     = header("x-tenant-id")"# => r#"tenant = cookie("%V%")"#, [IR]),
    place!("app.alert_severities.page", r#"page = "P1""# => r#"page = "%V%""#, [IR, K8S, PROM]),
    place!("app.prometheus", r#"prometheus = "http://prom.example:9090""# => r#"prometheus = "http://prom.example:9090/%V%""#, [IR, K8S]),
    place!("service.image", r#"image    = "reg.example/api:1.0""# => r#"image = "reg.example/%V%:1.0""#, [IR, K8S]),
    place!("service.health", r#"health   = "/healthz""# => r#"health = "/%V%""#, [IR, K8S]),
    place!("service.warmup", r#"warmup   = "/warmup""# => r#"warmup = "/%V%/w""#, [IR, K8S]),
    place!("autoscale.queue_depth", r#"queue_depth("tickets")"# => r#"queue_depth("%V%")"#, [IR, K8S]),
    place!("metrics.counter", r#"counter("reqs_total")"# => r#"counter("%V%")"#, [IR, K8S, PROM]),
    place!("metrics.histogram", r#"histogram("lat_seconds","# => r#"histogram("%V%","#, [IR, ("k8s", Shown::Suffix("_bucket")), ("prometheus", Shown::Suffix("_bucket"))]),
    place!("metrics.status", r#"label("code")"# => r#"label("%V%")"#, [IR, K8S, PROM]),
    place!("metrics.route", r#"label("route")"# => r#"label("%V%")"#, [IR, K8S, PROM]),
    place!("metrics.service", r#"label("svc")"# => r#"label("%V%")"#, [IR, K8S, PROM]),
    place!("route.path", r#""/v1/items/{id}""# => r#""/v1/%V%/{id}""#, [IR, K8S, PROM]),
    place!("route.param", r#""/v1/items/{id}""# => r#""/v1/items/{%V%}""#, [IR, K8S, PROM, K6]),
    place!("route.idempotency.header", r#"idempotency = header("Idempotency-Key")"# => r#"idempotency = header("%V%")"#, [IR_LOWER, K6_LOWER]),
    place!("route.idempotency.query", r#"idempotency = query("key")"# => r#"idempotency = query("%V%")"#, [IR, K6]),
    place!("route.auth.role", r#"role("admin")"# => r#"role("%V%")"#, [IR]),
    place!("limits.from.header", r#"from = header("x-org")"# => r#"from = header("%V%")"#, [IR_LOWER, ("proxy", Shown::Lower)]),
    place!("limits.from.claim", r#"from = claim("sub")"# => r#"from = claim("%V%")"#, [IR, PROXY]),
    place!("limits.overflow.queue", r#"queue("spill")"# => r#"queue("%V%")"#, [IR]),
    place!("jwt.issuer", r#"issuer     = "https://id.example""# => r#"issuer = "https://id.example/%V%""#, [IR, PROXY]),
    place!("jwt.audience", r#"audience   = "aud""# => r#"audience = "%V%""#, [IR, PROXY]),
    place!("jwt.jwks", r#"jwks       = "https://id.example/jwks.json""# => r#"jwks = "https://id.example/%V%""#, [IR, PROXY]),
    place!("auth.risk_scoring.hook", r#"hook("risk.score")"# => r#"hook("%V%")"#, [IR]),
    place!("gate.contract", r#"contract = "openapi.yaml""# => r#"contract = "specs/%V%.yaml""#, [IR]),
    // A file path: the file does not exist, so at best S0110; never a
    // crash, whatever the path holds.
    place!("use.path", "app hx {" => "use \"%V%\"\napp hx {", []),
    // Name positions given a string: never a valid value.
    place!("slo.service(string)", "slo avail { service = api " => r#"slo avail { service = "%V%" "#, [IR]),
    place!("slo.alerts(string)", "alerts = pol" => r#"alerts = "%V%""#, [IR]),
    place!("load_test.target(string)", "load_test lt { target = api" => r#"load_test lt { target = "%V%""#, [IR]),
    place!("observe.attach(string)", "attach = [model]" => r#"attach = ["%V%"]"#, [IR]),
    place!("route.limit.own(string)", "per_tenant(5/s)" => r#"per_tenant("%V%")"#, [IR]),
    place!("calls.timeout(string)", "timeout = 5s  retries" => r#"timeout = "%V%"  retries"#, [IR]),
];

/// Declaration names and other identifiers: `%V%` is replaced by the raw
/// text (no quotes). Only what the grammar's `ident` allows may pass.
const IDENT_PLACES: &[Place] = &[
    place!("ident.service", "service side {" => "service %V% {", [IR]),
    place!("ident.route", "route post POST" => "route %V% POST", [IR]),
    place!("ident.route_class", "class read {" => "class %V% {", [IR, K6]),
    place!("ident.slo", "slo avail {" => "slo %V% {", [IR]),
    // Window names are not carried: the IR keeps each window's values.
    place!("ident.alert_policy_window", "fast { severity" => "%V% { severity", []),
    place!("ident.load_test", "load_test lt {" => "load_test %V% {", [IR, K6]),
    // A callee with options, and a route's own rate's key: a name the
    // checker resolves (an unknown one is S0101 / S0402).
    place!("ident.callee", "calls api {" => "calls %V% {", []),
    place!("ident.own_rate_key", "per_tenant(5/s)" => "%V%(5/s)", []),
];

/// Where the IR keeps a place's field (a JSON pointer into `ir.json`):
/// the accepted value must be exactly there, not merely somewhere.
fn ir_pointer(place: &str) -> Option<&'static str> {
    Some(match place {
        "app.owner" => "/ir/app/owner",
        "app.region" => "/ir/app/region",
        "app.generator" => "/ir/app/generator",
        "app.scalec" => "/ir/app/scalec",
        "app.tenant.header" | "app.tenant.cookie" => "/ir/app/tenant/name",
        "app.prometheus" => "/ir/app/prometheus_url",
        "app.alert_severities.page" => "/ir/app/alert_severities/page",
        "service.image" => "/ir/services/0/image",
        "service.health" => "/ir/services/0/health/path",
        "service.warmup" => "/ir/services/0/warmup/path",
        "autoscale.queue_depth" => "/ir/services/0/autoscale/queue",
        "metrics.counter" => "/ir/services/0/metrics/requests",
        "metrics.histogram" => "/ir/services/0/metrics/latency_histogram",
        "metrics.status" => "/ir/services/0/metrics/status_label",
        "metrics.route" => "/ir/services/0/metrics/route_label",
        "metrics.service" => "/ir/services/0/metrics/service_label",
        "route.path" | "route.param" => "/ir/services/0/routes/0/path",
        "route.idempotency.header" => "/ir/services/0/routes/0/idempotency/name",
        "route.idempotency.query" => "/ir/services/0/routes/1/idempotency/name",
        "route.auth.role" => "/ir/services/0/routes/0/auth/of",
        "limits.from.header" => "/ir/limits/keys/0/source/name",
        "limits.from.claim" => "/ir/limits/keys/1/source/name",
        "limits.overflow.queue" => "/ir/limits/overflow/name",
        "jwt.issuer" => "/ir/auth/jwt/issuer",
        "jwt.audience" => "/ir/auth/jwt/audience",
        "jwt.jwks" => "/ir/auth/jwt/jwks_uri",
        "auth.risk_scoring.hook" => "/ir/auth/risk_scoring",
        "gate.contract" => "/ir/gates/0/contract",
        _ => return None,
    })
}

/// Identifier attempts, as raw text.
fn ident_values() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = IDENT_VALUES
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
    v.push(("long_300".into(), "a".repeat(300)));
    v.push(("long_10k".into(), "b".repeat(10_000)));
    v
}

const IDENT_VALUES: &[(&str, &str)] = &[
    ("ok_caps", "Api_V2"),
    ("underscore", "_"),
    ("proto", "__proto__"),
    ("keyword", "route"),
    ("on_word", "on"),
    ("yaml11_off", "off"),
    ("yaml11_yes", "yes"),
    ("yaml11_no", "no"),
    ("yaml11_y", "y"),
    ("yaml_true", "true"),
    ("yaml_null", "null"),
    ("yaml_Null", "Null"),
    ("dash", "a-b"),
    ("digit_first", "9lives"),
    ("dot", "a.b"),
    ("space", "a b"),
    ("dquote", "a\"b"),
    ("semicolon", "a;b"),
    ("dollar", "${x}"),
    ("mustache", "{{x}}"),
    ("comment_close", "*/x"),
    ("non_ascii", "é"),
    ("bidi", "a\u{202E}b"),
    ("nul", "a\u{0}b"),
    ("esc", "a\u{1B}b"),
    ("empty", ""),
];

/// Cases that fail because of a compiler bug, by (place, value name): run
/// and printed loudly, not counted as failures; fixed, they fail the test
/// until removed from here.
const KNOWN_BUGS: &[(&str, &str, &str)] = &[];

#[path = "hostile_corpus/targets.rs"]
mod targets;
use targets::*;

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

/// A hostile value: its name, the body written between the quotes of the
/// spec (raw text for identifier places), and the decoded string.
#[derive(Clone)]
struct Value {
    name: String,
    body: String,
    decoded: String,
}

fn string_values() -> Vec<Value> {
    let path = support::repo_root().join("tests/hostile/values.txt");
    let text = read(&path).unwrap();
    let mut values = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (name, body) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("values.txt: no tab in {line:?}"));
        let body = driver_unescape(body);
        values.push(Value {
            name: name.to_string(),
            decoded: scale_unescape(&body),
            body,
        });
    }
    values.extend(generated_values());
    let names: BTreeSet<&str> = values.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names.len(), values.len(), "values.txt: a name is repeated");
    values
}

/// Values too long or too awkward for the text file.
fn generated_values() -> Vec<Value> {
    let mk = |name: &str, body: String| Value {
        name: name.into(),
        decoded: scale_unescape(&body),
        body,
    };
    vec![
        mk("long_10k", "a".repeat(10_000)),
        mk("long_300_e_acute", "é".repeat(300)),
        mk("long_250", "x".repeat(250)),
        mk("long_63", "y".repeat(63)),
        mk("long_64", "z".repeat(64)),
    ]
}

/// The driver's own escape, `\u{HEX}`, to the raw character.
fn driver_unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\\u{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let end = after.find('}').expect("\\u{ without }");
        let c = char::from_u32(u32::from_str_radix(&after[..end], 16).unwrap()).unwrap();
        out.push(c);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A `.scale` string body to its value: `\n` newline, `\t` tab, `\X` X.
fn scale_unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => panic!("a body ends with a lone backslash: {s:?}"),
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Running the cases
// ---------------------------------------------------------------------------

struct Case<'a> {
    id: String,
    place: &'a Place,
    value: Value,
    /// The spec, and the byte range of the line holding the hostile field.
    spec: String,
    field: (usize, usize),
}

enum Outcome {
    Refused(Vec<String>),
    Accepted,
    Failed(String),
}

/// The decoded field `Place::new` produces, quotes and call excluded.
fn field_value(place: &Place, value: &Value) -> String {
    let inner = place.new.replace("%V%", &value.body);
    let Some(start) = inner.find('"') else {
        return value.decoded.clone(); // an identifier place
    };
    let end = inner.rfind('"').unwrap();
    scale_unescape(&inner[start + 1..end])
}

fn make_case<'a>(place: &'a Place, value: &Value) -> Case<'a> {
    assert_eq!(
        BASE.matches(place.old).count(),
        1,
        "{}: `old` must be unique",
        place.name
    );
    let at = BASE.find(place.old).unwrap();
    let new = place.new.replacen("%V%", &value.body, 1);
    let spec = format!("{}{}{}", &BASE[..at], new, &BASE[at + place.old.len()..]);
    let line_start = spec[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = at + new.len();
    let line_end = spec[end..].find('\n').map_or(spec.len(), |i| end + i);
    Case {
        id: format!("{}__{}", place.name.replace(['(', ')'], "_"), value.name),
        place,
        value: value.clone(),
        spec,
        field: (line_start, line_end),
    }
}

/// Runs a command with stdout and stderr to files, killed after 10 s.
fn run_limited(
    mut cmd: Command,
    dir: &Path,
    tag: &str,
) -> Result<(Option<i32>, String, String), String> {
    let out = dir.join(format!("{tag}.stdout"));
    let err = dir.join(format!("{tag}.stderr"));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run scalec: {e}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("`scalec {tag}` hung for more than 10 s"));
        }
        std::thread::sleep(Duration::from_millis(3));
    };
    let so = String::from_utf8_lossy(&std::fs::read(&out).unwrap()).into_owned();
    let se = String::from_utf8_lossy(&std::fs::read(&err).unwrap()).into_owned();
    Ok((status.code(), so, se))
}

/// Characters that must never reach a terminal raw.
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{2028}' | '\u{2029}'
        )
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

fn run_case(case: &Case, root: &Path) -> Outcome {
    match run_case_inner(case, root) {
        Ok(o) => o,
        Err(e) => Outcome::Failed(e),
    }
}

fn run_case_inner(case: &Case, root: &Path) -> Result<Outcome, String> {
    let dir = root.join("cases").join(&case.id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("spec.scale"), &case.spec).unwrap();
    write_contracts(case, &dir);
    let out = root.join("accepted").join(&case.id);
    let mut cmd = support::scalec();
    cmd.current_dir(&dir)
        .args(["build", "spec.scale", "-o"])
        .arg(&out)
        // Every target, those a plain build skips too.
        .args(["--target", &scalec::backends::names().join(",")])
        .args([
            "--emit",
            "ir",
            "--message-format",
            "json",
            "--color",
            "never",
        ]);
    let (code, stdout, stderr) = run_limited(cmd, &dir, "build")?;
    let diags: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .map_err(|e| format!("a JSON line that does not parse ({e}): {l}"))
        })
        .collect::<Result<_, _>>()?;
    match code {
        Some(0) => {
            if !diags.is_empty() {
                return Err(format!("accepted with diagnostics: {stdout}"));
            }
            accepted(case, &out)?;
            Ok(Outcome::Accepted)
        }
        Some(1) => {
            let (lo, hi) = case.field;
            let mut codes = Vec::new();
            for d in &diags {
                if d["severity"] != "error" || d["file"] != "spec.scale" {
                    continue;
                }
                let (Some(s), Some(e)) = (d["byte_start"].as_u64(), d["byte_end"].as_u64()) else {
                    continue;
                };
                if (s as usize) < lo || (e as usize) > hi {
                    continue;
                }
                let code = d["code"].as_str().unwrap_or_default();
                let help = d["help"].as_str().unwrap_or_default();
                if code.is_empty() || help.trim().is_empty() {
                    return Err(format!("an error without a code or help: {d}"));
                }
                codes.push(code.to_string());
            }
            if codes.is_empty() {
                return Err(format!(
                    "refused, but no error points at the hostile field (bytes {lo}..{hi}):\n{stdout}{stderr}"
                ));
            }
            // The human rendering must not carry the raw character (asked
            // only of values that hold one: printable ASCII cannot).
            if case.value.decoded.chars().all(|c| (' '..='~').contains(&c)) {
                codes.sort();
                codes.dedup();
                return Ok(Outcome::Refused(codes));
            }
            let mut cmd = support::scalec();
            cmd.current_dir(&dir)
                .args(["check", "spec.scale", "--color", "never"]);
            let (hcode, hout, herr) = run_limited(cmd, &dir, "check")?;
            if hcode != Some(1) {
                return Err(format!("`check` exited {hcode:?} where `build` exited 1"));
            }
            if let Some(c) = format!("{hout}{herr}").chars().find(|&c| unsafe_char(c)) {
                return Err(format!(
                    "the human output carries the raw character U+{:04X}",
                    c as u32
                ));
            }
            codes.sort();
            codes.dedup();
            Ok(Outcome::Refused(codes))
        }
        other => Err(format!(
            "exit {other:?} (2 = could not run, 101 = panic):\n{stdout}{stderr}"
        )),
    }
}

/// The contract the base spec's gate names (`openapi.yaml`, in JSON, which
/// YAML reads), listing its two routes, the hostile route path's included;
/// for the `gate.contract` place, also at the hostile path when the file
/// system can hold it (else `scalec` refuses the path, S1301).
fn write_contracts(case: &Case, dir: &Path) {
    let item = if case.place.name == "route.path" {
        format!("/v1/{}/{{id}}", case.value.decoded)
    } else {
        "/v1/items/{id}".to_string()
    };
    let ok = serde_json::json!({ "200": { "description": "ok" } });
    let mut paths = serde_json::Map::new();
    paths.insert(item, serde_json::json!({ "get": { "responses": ok } }));
    paths.insert(
        "/v1/items".into(),
        serde_json::json!({ "post": { "responses": ok } }),
    );
    let doc = serde_json::json!({
        "openapi": "3.1.0",
        "info": { "title": "hx", "version": "1" },
        "paths": paths,
    });
    let text = serde_json::to_string_pretty(&doc).unwrap();
    std::fs::write(dir.join("openapi.yaml"), &text).unwrap();
    if case.place.name == "gate.contract" {
        let written = format!("specs/{}.yaml", case.value.decoded);
        if let Some(rel) = scalec::project::normalize_inside(&written) {
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = std::fs::write(path, &text);
        }
    }
}

/// Every target's files parse, and the value is intact where the place
/// says it is carried.
fn accepted(case: &Case, out: &Path) -> Result<(), String> {
    let value = field_value(case.place, &case.value);
    for t in TARGETS {
        let files = glob(out, t.files);
        let want = case
            .place
            .carried
            .iter()
            .find(|(n, _)| *n == t.name)
            .map(|(_, shown)| shown.apply(&value));
        // A file that does not carry the value and whose body another case
        // already parsed is not parsed again (most files of most cases).
        let files: Vec<PathBuf> = if want.is_none() {
            files.into_iter().filter(|f| first_seen(f)).collect()
        } else {
            files
        };
        if want.is_some() && files.is_empty() {
            return Err(format!("target {} wrote no file", t.name));
        }
        (t.value_intact)(&files, want.as_deref()).map_err(|e| format!("target {}: {e}", t.name))?;
        if t.name == "ir" {
            if let (Some(ptr), Some(want)) = (ir_pointer(case.place.name), &want) {
                let ir: serde_json::Value = serde_json::from_str(&read(&out.join("ir.json"))?)
                    .map_err(|e| e.to_string())?;
                let got = ir.pointer(ptr).and_then(|v| v.as_str());
                if got != Some(want.as_str()) {
                    return Err(format!(
                        "ir.json{ptr} is {}, not {}",
                        got.map_or("missing".to_string(), short),
                        short(want)
                    ));
                }
            }
        }
    }
    Ok(())
}

/// True the first time a file body (header left out) is seen in this run.
fn first_seen(f: &Path) -> bool {
    use std::collections::HashSet;
    use std::hash::{Hash, Hasher};
    static SEEN: Mutex<Option<HashSet<u64>>> = Mutex::new(None);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    f.file_name().hash(&mut h);
    body_key(f).hash(&mut h);
    SEEN.lock()
        .unwrap()
        .get_or_insert_with(HashSet::new)
        .insert(h.finish())
}

/// Files under `dir` matching the globs (`*` within one segment).
fn glob(dir: &Path, patterns: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in patterns {
        let (folder, file) = p.rsplit_once('/').unwrap_or(("", p));
        let Ok(entries) = std::fs::read_dir(dir.join(folder)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| wildcard(file, n))
            .collect();
        names.sort();
        out.extend(names.into_iter().map(|n| dir.join(folder).join(n)));
    }
    out
}

fn wildcard(pat: &str, name: &str) -> bool {
    match pat.split_once('*') {
        None => pat == name,
        Some((pre, post)) => {
            name.len() >= pre.len() + post.len() && name.starts_with(pre) && name.ends_with(post)
        }
    }
}

fn read(p: &Path) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// The file's content without its `#` header: identical objects of many
/// cases are validated once.
fn body_key(p: &Path) -> String {
    let text = std::fs::read_to_string(p).unwrap_or_default();
    text.lines()
        .skip_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn hostile_corpus_through_every_target() {
    let started = Instant::now();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-corpus");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();

    let values = string_values();
    let idents: Vec<Value> = ident_values()
        .into_iter()
        .map(|(name, raw)| Value {
            name,
            decoded: raw.clone(),
            body: raw,
        })
        .collect();

    // The base spec itself is clean.
    let base = Case {
        id: "base".into(),
        place: &PLACES[0],
        value: Value {
            name: "base".into(),
            body: "team-core".into(),
            decoded: "team-core".into(),
        },
        spec: BASE.to_string(),
        field: (0, BASE.len()),
    };
    assert!(
        matches!(run_case(&base, &root), Outcome::Accepted),
        "the base spec must build cleanly"
    );

    for p in PLACES {
        assert!(
            ir_pointer(p.name).is_some() || p.name.ends_with("(string)") || p.carried.is_empty(),
            "{}: no IR pointer",
            p.name
        );
    }
    let mut cases = Vec::new();
    for p in PLACES {
        for v in &values {
            cases.push(make_case(p, v));
        }
    }
    for p in IDENT_PLACES {
        for v in &idents {
            cases.push(make_case(p, v));
        }
    }

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..cases.len()).map(|_| None).collect());
    // A build is mostly waiting on the file system (atomic writes), so
    // more workers than cores pay off.
    let workers = 6;
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= cases.len() {
                    break;
                }
                let o = run_case(&cases[i], &root);
                results.lock().unwrap()[i] = Some(o);
            });
        }
    });
    let results: Vec<Outcome> = results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let ran = started.elapsed();

    // Batched tool validation of every accepted case's outputs.
    let accepted_ids: Vec<&str> = cases
        .iter()
        .zip(&results)
        .filter(|(_, o)| matches!(o, Outcome::Accepted))
        .map(|(c, _)| c.id.as_str())
        .collect();
    let mut tool_failures = Vec::new();
    let mut tool_case_errors: BTreeMap<String, String> = BTreeMap::new();
    for t in TARGETS {
        let mut seen = BTreeMap::new();
        for id in &accepted_ids {
            for f in glob(&root.join("accepted").join(id), t.files) {
                seen.entry(body_key(&f)).or_insert(f);
            }
        }
        let files: Vec<PathBuf> = seen.into_values().collect();
        if let Err(e) = (t.validate)(&files) {
            // Attribute each line naming an accepted case's file to it.
            for line in e.lines() {
                let id = line
                    .split("/accepted/")
                    .nth(1)
                    .and_then(|rest| rest.split('/').next());
                match id {
                    Some(id) => {
                        let entry = tool_case_errors.entry(id.to_string()).or_default();
                        if entry.lines().count() < 3 {
                            entry.push_str(&format!("target {}: {line}\n", t.name));
                        }
                    }
                    None if line.trim().is_empty() || line.ends_with(':') => {}
                    None => tool_failures.push(format!("target {}: {line}", t.name)),
                }
            }
        }
    }

    // Summary: place × {refused codes, accepted}.
    let mut failures = Vec::new();
    let mut known_hit = Vec::new();
    let mut summary: BTreeMap<&str, Row> = BTreeMap::new();
    let (mut refused_n, mut accepted_n) = (0, 0);
    let results: Vec<Outcome> = cases
        .iter()
        .zip(results)
        .map(|(c, o)| match (o, tool_case_errors.get(&c.id)) {
            (Outcome::Accepted, Some(e)) => {
                Outcome::Failed(format!("a tool rejects the output:\n{e}"))
            }
            (o, _) => o,
        })
        .collect();
    let mut code_totals: BTreeMap<String, usize> = BTreeMap::new();
    for (c, o) in cases.iter().zip(&results) {
        let known = KNOWN_BUGS
            .iter()
            .find(|(p, v, _)| *p == c.place.name && *v == c.value.name);
        let row = summary.entry(c.place.name).or_default();
        match (o, known) {
            (Outcome::Failed(e), Some((_, _, why))) => {
                row.3 += 1;
                known_hit.push(format!("{} ({why}): {}", c.id, first_lines(e)));
            }
            (Outcome::Failed(e), None) => {
                row.3 += 1;
                failures.push(format!("{}: {e}", c.id));
            }
            (_, Some((_, _, why))) => failures.push(format!(
                "{}: listed in KNOWN_BUGS ({why}) but passes now: remove it from the list",
                c.id
            )),
            (Outcome::Refused(codes), None) => {
                refused_n += 1;
                row.2 += 1;
                for code in codes {
                    *row.0.entry(code.clone()).or_default() += 1;
                    *code_totals.entry(code.clone()).or_default() += 1;
                }
            }
            (Outcome::Accepted, None) => {
                accepted_n += 1;
                row.1 += 1;
            }
        }
    }
    loud!();
    loud!("hostile corpus: {} string values x {} places + {} identifiers x {} places = {} cases in {:.1}s ({} threads)",
        values.len(), PLACES.len(), idents.len(), IDENT_PLACES.len(), cases.len(), ran.as_secs_f64(), workers);
    loud!(
        "{:<32} {:>8} {:>8} {:>6}  refused by code",
        "place",
        "accepted",
        "refused",
        "bugs"
    );
    for (place, (codes, acc, refd, failed)) in &summary {
        let codes: Vec<String> = codes.iter().map(|(c, n)| format!("{c}×{n}")).collect();
        loud!(
            "{place:<32} {acc:>8} {refd:>8} {failed:>6}  {}",
            codes.join(" ")
        );
    }
    let totals: Vec<String> = code_totals
        .iter()
        .map(|(c, n)| format!("{c}×{n}"))
        .collect();
    loud!(
        "total: {accepted_n} accepted (outputs validated), {refused_n} refused ({}), {} failed, {} known bugs; {:.1}s",
        totals.join(" "),
        failures.len(),
        known_hit.len(),
        started.elapsed().as_secs_f64()
    );
    if !known_hit.is_empty() {
        loud!();
        loud!("==================================================================");
        loud!("KNOWN BUGS ({}), still failing:", known_hit.len());
        for k in &known_hit {
            loud!("  {k}");
        }
        loud!("==================================================================");
    }
    let mut all = failures;
    all.extend(tool_failures);
    assert!(
        all.is_empty(),
        "{} hostile case(s) failed:\n{}",
        all.len(),
        all.join("\n\n")
    );
}

/// A summary row: refused codes with counts, accepted, refused, failing
/// (known bugs included; any other failure fails the test).
type Row = (BTreeMap<String, usize>, usize, usize, usize);

fn first_lines(s: &str) -> String {
    s.lines().take(3).collect::<Vec<_>>().join(" / ")
}

/// A value for a message: debug-quoted, long ones cut.
fn short(v: &str) -> String {
    if v.chars().count() > 80 {
        let head: String = v.chars().take(40).collect();
        format!("{head:?}… ({} chars)", v.chars().count())
    } else {
        format!("{v:?}")
    }
}

/// A tool's output without the lines about files it accepted.
fn not_ok(out: &str) -> String {
    out.lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("ok ")
                || t.starts_with("SUCCESS")
                || t.starts_with("Checking ")
                || t.starts_with("INFO ")
                || t.starts_with("validate_crd: "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}
