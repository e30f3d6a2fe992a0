//! OpenAPI contracts: a gate's `contract = "openapi.yaml"` names an OpenAPI
//! 3.0 or 3.1 document (YAML or JSON), and every route of the spec must be
//! one of its operations (same method, same path template), while each of
//! its operations should be served by a route (else it has no budget). A
//! route's `body = "schemas/x.json"` names the JSON Schema of its request
//! body: it must be a valid schema and agree with the contract's
//! `requestBody` for that operation.
//!
//! The files are read by the loader ([`crate::project::Project::assets`]),
//! so `scalec check` and the language server see the same bytes; this pass
//! only parses them. Every rule is written up in docs/language.md §6.15.
//!
//! - Path templates match with parameter names ignored: `{id}` matches
//!   `{ticketId}` (parameters match by position, as routing does).
//! - The path of each `servers[].url` (with its variables' defaults) is a
//!   base the contract's paths sit under: with `servers: [{url:
//!   https://api.acme.dev/v1}]`, the contract's `/tickets` is the route
//!   `/v1/tickets`. Several servers give several bases; any one matches.
//! - "Agree": the operation has a `requestBody` with an `application/json`
//!   (or `…+json`) schema; local `$ref`s resolve on both sides; then, where
//!   both schemas state them, `type` (3.0's `nullable` adds `null`), the
//!   names under `properties`, the `required` names and `items` are equal,
//!   recursively. A contract schema that is a `$ref` to the route's body
//!   file itself agrees. `$ref`s to other files are not followed.

use super::Checker;
use crate::diagnostics::{catalog, suggest, Span};
use crate::project::{normalize_inside, Asset};
use crate::syntax::ast::{Block, ExprKind, ItemKind};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// How deep a document may nest (YAML and JSON alike).
const MAX_DEPTH: usize = 64;
/// At most this many schema nodes are visited per comparison or check.
const MAX_NODES: usize = 20_000;
/// Routes missing from a contract that get a "did you mean".
const MAX_SUGGESTIONS: usize = 50;
/// At most this many differences or schema problems per file.
const MAX_FINDINGS: usize = 8;
/// The operations of a path item.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// A route as written.
struct RouteRef<'a> {
    service: &'a str,
    name: &'a str,
    method: String,
    path: &'a str,
    path_span: Span,
    method_span: Span,
    /// The body schema, project-relative, and the span of its value.
    body: Option<(String, Span)>,
}

/// A contract a gate names, with the span of its value.
struct ContractRef {
    name: String,
    span: Span,
}

struct Operation {
    /// As the contract writes it, without a server base.
    path: String,
    /// Every full path (server base + path), normalised.
    keys: Vec<String>,
    /// Upper case.
    method: String,
    line: Option<usize>,
    op: Value,
}

struct Contract {
    name: String,
    span: Span,
    doc: Value,
    ops: Vec<Operation>,
}

/// Checks the routes of `services` (those that lowered: a route refused
/// already, a malformed path say, is not compared again).
pub fn check(cx: &mut Checker, services: &[crate::ir::Service]) {
    let lowered: BTreeSet<(&str, &str)> = services
        .iter()
        .flat_map(|s| {
            s.routes
                .iter()
                .map(move |r| (s.name.as_str(), r.name.as_str()))
        })
        .collect();
    let routes: Vec<RouteRef> = collect_routes(cx)
        .into_iter()
        .filter(|r| lowered.contains(&(r.service, r.name)))
        .collect();
    let mut contracts: Vec<ContractRef> = Vec::new();
    for r in cx.decls("gate").into_iter().filter(|r| r.std.is_none()) {
        for item in &r.decl.body.items {
            if let ItemKind::Property { key, value, .. } = &item.kind {
                if let (true, ExprKind::Str(s)) = (key.name == "contract", &value.kind) {
                    let name = plain_path(s);
                    if let Some(name) = name.filter(|n| !contracts.iter().any(|c| &c.name == n)) {
                        contracts.push(ContractRef {
                            name,
                            span: value.span,
                        });
                    }
                }
            }
        }
    }
    // Each body schema, parsed and checked once.
    let mut bodies: BTreeMap<String, Option<Value>> = BTreeMap::new();
    for r in &routes {
        let Some((name, span)) = &r.body else {
            continue;
        };
        if bodies.contains_key(name) {
            continue;
        }
        let doc = read(cx, name, false, *span);
        let ok = doc.as_ref().is_some_and(|d| {
            let mut problems = Vec::new();
            let mut nodes = 0;
            validate_schema(d, d, "", 0, &mut nodes, &mut problems);
            for (ptr, problem) in problems.iter().take(MAX_FINDINGS) {
                cx.diags
                    .push(catalog::invalid_body_schema(name, ptr, problem, *span));
            }
            problems.is_empty()
        });
        bodies.insert(name.clone(), doc.filter(|_| ok));
    }
    for c in contracts {
        let Some(contract) = load_contract(cx, c) else {
            continue;
        };
        let mut used = vec![false; contract.ops.len()];
        // Normalised full path → the operations there.
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, op) in contract.ops.iter().enumerate() {
            for k in &op.keys {
                by_key.entry(k.as_str()).or_default().push(i);
            }
        }
        let mut suggested = 0;
        for r in &routes {
            let key = normalise(r.path);
            let at_path: &[usize] = by_key.get(key.as_str()).map_or(&[], Vec::as_slice);
            if at_path.is_empty() {
                // Compared as templates (parameter names dropped); the
                // contract's own spelling is what is offered. Only for the
                // first routes: the search is linear in the contract.
                suggested += 1;
                let candidates: BTreeMap<String, String> = if suggested <= MAX_SUGGESTIONS {
                    contract
                        .ops
                        .iter()
                        .filter(|o| o.method == r.method)
                        .flat_map(|o| full_paths(&contract.doc, &o.path))
                        .map(|p| (normalise(&p), p))
                        .collect()
                } else {
                    BTreeMap::new()
                };
                let nearest = suggest(&key, candidates.keys().map(String::as_str))
                    .and_then(|k| candidates.get(k))
                    .map(String::as_str);
                cx.diags.push(catalog::route_not_in_contract(
                    &r.method,
                    r.path,
                    &contract.name,
                    nearest.map(|n| (n, fixable(n))),
                    r.path_span,
                ));
                continue;
            }
            let Some(&i) = at_path
                .iter()
                .find(|&&i| contract.ops[i].method == r.method)
            else {
                let mut has: Vec<String> = at_path
                    .iter()
                    .map(|&i| contract.ops[i].method.clone())
                    .collect();
                has.dedup();
                cx.diags.push(catalog::method_not_in_contract(
                    &r.method,
                    r.path,
                    &contract.name,
                    &has,
                    r.method_span,
                ));
                continue;
            };
            used[i] = true;
            if let Some((body, span)) = &r.body {
                if let Some(Some(schema)) = bodies.get(body) {
                    check_body(cx, &contract, &contract.ops[i], r, body, schema, *span);
                }
            }
        }
        for (op, used) in contract.ops.iter().zip(used) {
            if !used {
                let at = match op.line {
                    Some(l) => format!("{}:{l}", contract.name),
                    None => contract.name.clone(),
                };
                cx.diags.push(catalog::contract_operation_unused(
                    &op.method,
                    &op.path,
                    &at,
                    contract.span,
                ));
            }
        }
    }
}

/// A path the loader read: written plainly and inside the project (other
/// forms are reported where the field is lowered).
fn plain_path(s: &str) -> Option<String> {
    super::path_text_flaw(s)
        .is_none()
        .then(|| normalize_inside(s))
        .flatten()
}

fn collect_routes<'a>(cx: &Checker<'a>) -> Vec<RouteRef<'a>> {
    let mut out = Vec::new();
    for s in cx.decls("service").into_iter().filter(|r| r.std.is_none()) {
        for item in &s.decl.body.items {
            if let ItemKind::Route {
                name,
                method,
                path,
                block,
                ..
            } = &item.kind
            {
                out.push(RouteRef {
                    service: &s.name.name,
                    name: &name.name,
                    method: method.name.to_ascii_uppercase(),
                    path: &path.value,
                    path_span: path.span,
                    method_span: method.span,
                    body: block.as_deref().and_then(body_field),
                });
            }
        }
    }
    out
}

fn body_field(b: &Block) -> Option<(String, Span)> {
    b.items.iter().find_map(|item| match &item.kind {
        ItemKind::Property { key, value, .. } if key.name == "body" => match &value.kind {
            ExprKind::Str(s) => plain_path(s).map(|n| (n, value.span)),
            _ => None,
        },
        _ => None,
    })
}

/// The parsed document of an asset, or a diagnostic (S1301).
fn read(cx: &mut Checker, name: &str, is_contract: bool, span: Span) -> Option<Value> {
    let reason = match cx.project.assets.get(name) {
        None => "no such file in the project".to_string(),
        Some(Asset::Unreadable(r)) => r.clone(),
        Some(Asset::TooLarge(n)) => format!(
            "it is {n} bytes, more than the {} bytes scalec reads",
            crate::project::MAX_ASSET_BYTES
        ),
        Some(Asset::Bytes(bytes)) => match parse(name, bytes) {
            Ok(v) => return Some(v),
            Err(e) => e,
        },
    };
    cx.diags.push(catalog::contract_unreadable(
        name,
        is_contract,
        &reason,
        span,
    ));
    None
}

/// Parses YAML or JSON (by the name) into a JSON value.
pub fn parse(name: &str, bytes: &[u8]) -> Result<Value, String> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return Err(format!(
                "it is not UTF-8 text (byte 0x{:02X} at offset {})",
                bytes[e.valid_up_to()],
                e.valid_up_to()
            ))
        }
    };
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    if name.to_ascii_lowercase().ends_with(".json") {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        if depth(&v, 0) > MAX_DEPTH {
            return Err(format!("it nests deeper than {MAX_DEPTH} levels"));
        }
        Ok(v)
    } else {
        let y: yaml_serde::Value =
            yaml_serde::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
        yaml_to_json(&y, 0)
    }
}

fn depth(v: &Value, d: usize) -> usize {
    if d > MAX_DEPTH {
        return d;
    }
    match v {
        Value::Array(a) => a.iter().map(|x| depth(x, d + 1)).max().unwrap_or(d),
        Value::Object(o) => o.values().map(|x| depth(x, d + 1)).max().unwrap_or(d),
        _ => d,
    }
}

/// A YAML value as JSON: keys become strings (`200:` is `"200"`), tags
/// are dropped.
fn yaml_to_json(y: &yaml_serde::Value, d: usize) -> Result<Value, String> {
    use yaml_serde::Value as Y;
    if d > MAX_DEPTH {
        return Err(format!("it nests deeper than {MAX_DEPTH} levels"));
    }
    Ok(match y {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
        }
        Y::String(s) => Value::String(s.clone()),
        Y::Sequence(s) => Value::Array(
            s.iter()
                .map(|x| yaml_to_json(x, d + 1))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s.clone(),
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".to_string(),
                    _ => return Err("a map key that is not a plain value".into()),
                };
                out.insert(key, yaml_to_json(v, d + 1)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(&t.value, d + 1)?,
    })
}

fn load_contract(cx: &mut Checker, c: ContractRef) -> Option<Contract> {
    let doc = read(cx, &c.name, true, c.span)?;
    let bad = |cx: &mut Checker, found: String| {
        cx.diags
            .push(catalog::contract_not_openapi(&c.name, &found, c.span));
    };
    let Some(obj) = doc.as_object() else {
        bad(cx, "its top level is not a map".into());
        return None;
    };
    let version = match (obj.get("openapi"), obj.get("swagger")) {
        (Some(Value::String(v)), _) => v.clone(),
        (Some(v), _) => {
            bad(cx, format!("`openapi` is {v}, not a version string"));
            return None;
        }
        (None, Some(v)) => {
            bad(cx, format!("it is Swagger {}", scalar(v)));
            return None;
        }
        (None, None) => {
            bad(cx, "it has no `openapi` version field".into());
            return None;
        }
    };
    let v31 = version == "3.1" || version.starts_with("3.1.");
    if !(v31 || version == "3.0" || version.starts_with("3.0.")) {
        bad(cx, format!("`openapi: {}`", version.escape_debug()));
        return None;
    }
    let paths = match obj.get("paths") {
        Some(Value::Object(p)) => p.clone(),
        None if v31 => Map::new(),
        Some(_) => {
            bad(cx, "`paths` is not a map".into());
            return None;
        }
        None => {
            bad(cx, "OpenAPI 3.0 requires `paths`, and it has none".into());
            return None;
        }
    };
    let text = match cx.project.assets.get(&c.name) {
        Some(Asset::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    let longest = paths
        .keys()
        .map(String::len)
        .chain(METHODS.iter().map(|m| m.len()))
        .max()
        .unwrap_or(0);
    let key_lines = KeyLines::new(&text, longest);
    let mut ops = Vec::new();
    for (path, item) in &paths {
        let mut nodes = 0;
        let Some(item) = resolve(&doc, item, &mut nodes) else {
            continue;
        };
        let Some(item) = item.as_object() else {
            continue;
        };
        for m in METHODS {
            if let Some(op) = item.get(*m) {
                ops.push(Operation {
                    path: path.clone(),
                    keys: full_paths(&doc, path)
                        .iter()
                        .map(|p| normalise(p))
                        .collect(),
                    method: m.to_ascii_uppercase(),
                    line: key_lines.line_of(path, m),
                    op: op.clone(),
                });
            }
        }
    }
    Some(Contract {
        name: c.name,
        span: c.span,
        doc,
        ops,
    })
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.escape_debug().to_string(),
        other => other.to_string(),
    }
}

/// The server bases (`servers[].url`'s path, variables by their default):
/// `""` when there is none.
fn bases(doc: &Value) -> Vec<String> {
    let mut out = BTreeSet::new();
    if let Some(servers) = doc.get("servers").and_then(Value::as_array) {
        for s in servers {
            let Some(url) = s.get("url").and_then(Value::as_str) else {
                continue;
            };
            let mut url = url.to_string();
            if let Some(vars) = s.get("variables").and_then(Value::as_object) {
                for (k, v) in vars {
                    if let Some(d) = v.get("default").and_then(Value::as_str) {
                        url = url.replace(&format!("{{{k}}}"), d);
                    }
                }
            }
            let path = match url.find("://") {
                Some(i) => url[i + 3..]
                    .find('/')
                    .map(|j| url[i + 3 + j..].to_string())
                    .unwrap_or_default(),
                None => {
                    if url.starts_with('/') {
                        url.clone()
                    } else {
                        // A relative address (`v1`, `.`) is relative to
                        // where the document is served: no base.
                        String::new()
                    }
                }
            };
            let path = path.split(['?', '#']).next().unwrap_or("");
            out.insert(path.trim_end_matches('/').to_string());
        }
    }
    if out.is_empty() {
        out.insert(String::new());
    }
    out.into_iter().collect()
}

fn full_paths(doc: &Value, path: &str) -> Vec<String> {
    bases(doc)
        .into_iter()
        .map(|b| format!("{b}{path}"))
        .collect()
}

/// A path template with its parameter names dropped: `/a/{id}` → `/a/{}`.
fn normalise(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' if !in_param => {
                in_param = true;
                out.push('{');
            }
            '}' if in_param => {
                in_param = false;
                out.push('}');
            }
            _ if in_param => {}
            c => out.push(c),
        }
    }
    out
}

/// Can `path` be written into the spec as a route path as it is?
fn fixable(path: &str) -> bool {
    path.starts_with('/')
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.~{}".contains(c))
}

/// The 1-based line of `method:` under the key `path` in the contract's
/// text (a cheap textual search; `None` when not found).
#[cfg(test)]
fn line_of(text: &str, path: &str, method: &str) -> Option<usize> {
    KeyLines::new(text, path.len().max(method.len())).line_of(path, method)
}

/// The keys a contract's text writes at the start of its lines: key → the
/// 0-based lines whose text (indent aside) starts with `key:`, `"key":`,
/// `'key':` or `"key" :`, in order, for keys of at most `longest` bytes.
/// Read once per contract (a search of the text per operation was
/// quadratic in the contract's size).
struct KeyLines<'t> {
    lines: usize,
    at: HashMap<&'t str, Vec<usize>>,
}

impl<'t> KeyLines<'t> {
    fn new(text: &'t str, longest: usize) -> KeyLines<'t> {
        let mut at: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut lines = 0;
        let mut keys: Vec<&str> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            lines += 1;
            let t = line.trim_start();
            keys.clear();
            // A key of `longest` bytes ends by `longest + 3` (`"key" :`):
            // a contract written on one line is not read to its end.
            for (i, _) in t.match_indices(':') {
                if i > longest + 3 {
                    break;
                }
                let before = &t[..i];
                keys.push(before);
                for (open, close) in [("\"", "\""), ("'", "'"), ("\"", "\" ")] {
                    if before.len() >= open.len() + close.len()
                        && before.starts_with(open)
                        && before.ends_with(close)
                    {
                        keys.push(&before[open.len()..before.len() - close.len()]);
                    }
                }
            }
            keys.sort_unstable();
            keys.dedup();
            for k in &keys {
                at.entry(k).or_default().push(n);
            }
        }
        KeyLines { lines, at }
    }

    /// The 1-based line of the first `method:` after the first `path:`.
    fn line_of(&self, path: &str, method: &str) -> Option<usize> {
        let at = *self.at.get(path)?.first()?;
        if self.lines == 1 {
            return Some(1);
        }
        let after = self.at.get(method)?;
        let m = after.get(after.partition_point(|&n| n <= at))?;
        Some(m + 1)
    }
}

/// Follows local `$ref`s (`#/components/…`) to the value they name.
fn resolve<'v>(root: &'v Value, v: &'v Value, nodes: &mut usize) -> Option<&'v Value> {
    let mut cur = v;
    for _ in 0..32 {
        *nodes += 1;
        match cur.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with('#') => cur = pointer(root, r)?,
            _ => return Some(cur),
        }
    }
    None
}

/// A JSON pointer in a `$ref` (`#/components/schemas/Ticket`), with its
/// `~0`/`~1` and percent escapes.
fn pointer<'v>(root: &'v Value, r: &str) -> Option<&'v Value> {
    let frag = r.strip_prefix('#')?;
    if frag.is_empty() {
        return Some(root);
    }
    let mut cur = root;
    for part in frag.strip_prefix('/')?.split('/') {
        let part = percent_decode(part).replace("~1", "/").replace("~0", "~");
        cur = match cur {
            Value::Object(o) => o.get(&part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

const TYPES: &[&str] = &[
    "null", "boolean", "object", "array", "number", "string", "integer",
];

/// The problems that keep `v` from being a JSON Schema: (pointer, what).
fn validate_schema(
    root: &Value,
    v: &Value,
    ptr: &str,
    d: usize,
    nodes: &mut usize,
    out: &mut Vec<(String, String)>,
) {
    *nodes += 1;
    if out.len() >= MAX_FINDINGS || *nodes > MAX_NODES {
        return;
    }
    if d > MAX_DEPTH {
        out.push((
            ptr.into(),
            format!("it nests deeper than {MAX_DEPTH} levels"),
        ));
        return;
    }
    let o = match v {
        Value::Bool(_) => return,
        Value::Object(o) => o,
        other => {
            out.push((
                ptr.into(),
                format!(
                    "a schema must be an object or a boolean, not {}",
                    kind(other)
                ),
            ));
            return;
        }
    };
    if let Some(r) = o.get("$ref") {
        match r.as_str() {
            Some(s) if s.starts_with('#') => {
                if pointer(root, s).is_none() {
                    out.push((
                        format!("{ptr}/$ref"),
                        format!("\"{}\" points at nothing in the file", s.escape_debug()),
                    ));
                }
            }
            Some(_) => {} // another file: not followed
            None => out.push((format!("{ptr}/$ref"), "`$ref` must be a string".into())),
        }
    }
    if let Some(t) = o.get("type") {
        let ok = match t {
            Value::String(s) => TYPES.contains(&s.as_str()),
            Value::Array(a) => {
                !a.is_empty()
                    && a.iter()
                        .all(|x| x.as_str().is_some_and(|s| TYPES.contains(&s)))
            }
            _ => false,
        };
        if !ok {
            out.push((
                format!("{ptr}/type"),
                format!("{t} is not a JSON Schema type"),
            ));
        }
    }
    if let Some(r) = o.get("required") {
        if !r.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
            out.push((
                format!("{ptr}/required"),
                "`required` must be a list of property names".into(),
            ));
        }
    }
    let mut sub = |key: &str, v: &Value, out: &mut Vec<(String, String)>| {
        // `key` is already a pointer suffix (its segments escaped).
        validate_schema(root, v, &format!("{ptr}/{key}"), d + 1, nodes, out);
    };
    for key in [
        "properties",
        "patternProperties",
        "$defs",
        "definitions",
        "dependentSchemas",
    ] {
        match o.get(key) {
            None => {}
            Some(Value::Object(m)) => {
                for (k, s) in m {
                    sub(&format!("{key}/{}", escape_ptr(k)), s, out);
                }
            }
            Some(other) => out.push((
                format!("{ptr}/{key}"),
                format!("`{key}` must be a map of schemas, not {}", kind(other)),
            )),
        }
    }
    for key in [
        "items",
        "additionalProperties",
        "not",
        "contains",
        "propertyNames",
        "if",
        "then",
        "else",
        "unevaluatedProperties",
        "unevaluatedItems",
        "additionalItems",
    ] {
        match o.get(key) {
            None => {}
            // `items: [..]` is draft 4's tuple form.
            Some(Value::Array(a)) if key == "items" => {
                for (i, s) in a.iter().enumerate() {
                    sub(&format!("items/{i}"), s, out);
                }
            }
            Some(s) => sub(key, s, out),
        }
    }
    for key in ["allOf", "anyOf", "oneOf", "prefixItems"] {
        match o.get(key) {
            None => {}
            Some(Value::Array(a)) if !a.is_empty() => {
                for (i, s) in a.iter().enumerate() {
                    sub(&format!("{key}/{i}"), s, out);
                }
            }
            Some(_) => out.push((
                format!("{ptr}/{key}"),
                format!("`{key}` must be a non-empty list of schemas"),
            )),
        }
    }
}

fn escape_ptr(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// The route's body schema against the contract's request body.
fn check_body(
    cx: &mut Checker,
    c: &Contract,
    op: &Operation,
    r: &RouteRef,
    body: &str,
    schema: &Value,
    span: Span,
) {
    let mismatch = |cx: &mut Checker, problem: &str, diffs: &[String]| {
        cx.diags.push(catalog::body_schema_mismatch(
            &r.method, r.path, body, &c.name, problem, diffs, span,
        ));
    };
    let mut nodes = 0;
    let rb = match op.op.get("requestBody") {
        None => {
            mismatch(
                cx,
                &format!("the contract's {} has no requestBody", op.method),
                &[],
            );
            return;
        }
        Some(rb) => match resolve(&c.doc, rb, &mut nodes) {
            Some(rb) => rb,
            None => {
                let r = rb.get("$ref").map(scalar).unwrap_or_default();
                cx.diags.push(catalog::invalid_body_schema(
                    &c.name,
                    &format!("the requestBody of {} {}", op.method, op.path),
                    &format!("\"{r}\" points at nothing in the contract"),
                    c.span,
                ));
                return;
            }
        },
    };
    let media = rb.get("content").and_then(Value::as_object).and_then(|m| {
        m.iter()
            .filter(|(k, _)| is_json_media(k))
            .find_map(|(_, v)| v.get("schema"))
    });
    let Some(theirs) = media else {
        mismatch(
            cx,
            &format!(
                "the contract's {} requestBody has no application/json schema",
                op.method
            ),
            &[],
        );
        return;
    };
    // The contract refers to the body file itself.
    if let Some(r) = theirs.get("$ref").and_then(Value::as_str) {
        if !r.starts_with('#') {
            let dir = c.name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            let file = r.split('#').next().unwrap_or("");
            let joined = if dir.is_empty() {
                file.to_string()
            } else {
                format!("{dir}/{file}")
            };
            if normalize_inside(&joined).as_deref() == Some(body) {
                return;
            }
        }
    }
    let mut problems = Vec::new();
    let mut n = 0;
    validate_schema(&c.doc, theirs, "", 0, &mut n, &mut problems);
    if let Some((ptr, problem)) = problems.first() {
        cx.diags.push(catalog::invalid_body_schema(
            &c.name,
            &format!("the requestBody schema of {} {}{ptr}", op.method, op.path),
            problem,
            c.span,
        ));
        return;
    }
    let mut diffs = Vec::new();
    let mut n = 0;
    compare(
        &c.doc, theirs, schema, schema, "", 0, &mut n, &mut diffs, body, &c.name,
    );
    if !diffs.is_empty() {
        mismatch(cx, "they state different shapes", &diffs);
    }
}

fn is_json_media(k: &str) -> bool {
    let base = k
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    base == "application/json" || base.ends_with("+json")
}

/// The types a schema states (none: it does not say).
fn types(v: &Value) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = match v.get("type") {
        Some(Value::String(s)) => [s.clone()].into(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => BTreeSet::new(),
    };
    if !out.is_empty() && v.get("nullable") == Some(&Value::Bool(true)) {
        out.insert("null".into());
    }
    out
}

fn names(v: &Value, key: &str) -> BTreeSet<String> {
    match v.get(key) {
        Some(Value::Object(o)) => o.keys().cloned().collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => BTreeSet::new(),
    }
}

fn list(s: &BTreeSet<String>) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// The differences between the contract's schema `a` and the body
/// schema `b`, where both state something.
#[allow(clippy::too_many_arguments)]
fn compare(
    a_root: &Value,
    a: &Value,
    b_root: &Value,
    b: &Value,
    ptr: &str,
    d: usize,
    nodes: &mut usize,
    out: &mut Vec<String>,
    body: &str,
    contract: &str,
) {
    if out.len() >= MAX_FINDINGS || d > MAX_DEPTH || *nodes > MAX_NODES {
        return;
    }
    let (Some(a), Some(b)) = (resolve(a_root, a, nodes), resolve(b_root, b, nodes)) else {
        return;
    };
    let at = if ptr.is_empty() {
        "the root".to_string()
    } else {
        ptr.to_string()
    };
    let (ta, tb) = (types(a), types(b));
    if !ta.is_empty() && !tb.is_empty() && ta != tb {
        out.push(format!(
            "at {at}: type {} in {contract}, {} in {body}",
            list(&ta),
            list(&tb)
        ));
    }
    let (pa, pb) = (names(a, "properties"), names(b, "properties"));
    if a.get("properties").is_some() && b.get("properties").is_some() {
        let only_a: BTreeSet<_> = pa.difference(&pb).cloned().collect();
        let only_b: BTreeSet<_> = pb.difference(&pa).cloned().collect();
        if !only_a.is_empty() {
            out.push(format!(
                "at {at}: properties only in {contract}: {}",
                list(&only_a)
            ));
        }
        if !only_b.is_empty() {
            out.push(format!(
                "at {at}: properties only in {body}: {}",
                list(&only_b)
            ));
        }
        for k in pa.intersection(&pb) {
            if let (Some(x), Some(y)) = (
                a.get("properties").and_then(|p| p.get(k)),
                b.get("properties").and_then(|p| p.get(k)),
            ) {
                let sub = format!("{ptr}/properties/{}", escape_ptr(k));
                compare(
                    a_root,
                    x,
                    b_root,
                    y,
                    &sub,
                    d + 1,
                    nodes,
                    out,
                    body,
                    contract,
                );
            }
        }
    }
    let (ra, rb) = (names(a, "required"), names(b, "required"));
    let objects =
        ta.contains("object") || tb.contains("object") || !pa.is_empty() || !pb.is_empty();
    if (a.get("required").is_some() || b.get("required").is_some()) && objects && ra != rb {
        out.push(format!(
            "at {at}: required {} in {contract}, {} in {body}",
            list(&ra),
            list(&rb)
        ));
    }
    if let (Some(x), Some(y)) = (a.get("items"), b.get("items")) {
        if x.is_object() && y.is_object() {
            compare(
                a_root,
                x,
                b_root,
                y,
                &format!("{ptr}/items"),
                d + 1,
                nodes,
                out,
                body,
                contract,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_by_position() {
        assert_eq!(normalise("/v1/reports/{id}"), "/v1/reports/{}");
        assert_eq!(normalise("/v1/reports/{reportId}"), "/v1/reports/{}");
        assert_eq!(normalise("/f/{a}.{b}"), "/f/{}.{}");
        assert_ne!(normalise("/v1/reports"), normalise("/v1/reports/{id}"));
    }

    #[test]
    fn server_bases() {
        let doc: Value = serde_json::json!({"servers": [
            {"url": "https://api.acme.dev/v1/"},
            {"url": "{scheme}://h/{base}", "variables": {"base": {"default": "v2"}, "scheme": {"default": "https"}}},
            {"url": "/v3"},
            {"url": "https://h"},
        ]});
        assert_eq!(bases(&doc), vec!["", "/v1", "/v2", "/v3"]);
        assert_eq!(bases(&serde_json::json!({})), vec![""]);
    }

    #[test]
    fn yaml_keys_become_strings_and_bombs_are_refused() {
        let v = parse("a.yaml", b"responses:\n  200: {description: ok}\n").unwrap();
        assert!(v["responses"]["200"].is_object());
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("b{}", i - 1)
            };
            bomb.push_str(&format!(
                "b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(parse("bomb.yaml", bomb.as_bytes()).is_err());
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse("deep.json", deep.as_bytes()).is_err());
        assert!(parse("deep.yaml", deep.as_bytes()).is_err());
        assert!(parse("x.yaml", b"\xff\xfe").is_err());
    }

    #[test]
    fn lines_of_operations() {
        let text =
            "paths:\n  /a:\n    get:\n      x: 1\n  /b/{id}:\n    summary: s\n    post: {}\n";
        assert_eq!(line_of(text, "/a", "get"), Some(3));
        assert_eq!(line_of(text, "/b/{id}", "post"), Some(7));
        assert_eq!(line_of(text, "/c", "get"), None);
    }

    /// The search per operation that `KeyLines` replaced, as it was.
    fn line_of_by_scan(text: &str, path: &str, method: &str) -> Option<usize> {
        let is_key = |line: &str, key: &str| {
            let t = line.trim_start();
            [
                format!("{key}:"),
                format!("\"{key}\":"),
                format!("'{key}':"),
                format!("\"{key}\" :"),
            ]
            .iter()
            .any(|k| t.starts_with(k.as_str()))
        };
        let lines: Vec<&str> = text.lines().collect();
        let at = lines.iter().position(|l| is_key(l, path))?;
        if lines.len() == 1 {
            return Some(1);
        }
        let m = lines[at + 1..].iter().position(|l| is_key(l, method))?;
        Some(at + 1 + m + 1)
    }

    #[test]
    fn key_lines_find_what_the_scan_found() {
        let texts = [
            "paths:\n  /a:\n    get:\n      x: 1\n  /b/{id}:\n    summary: s\n    post: {}\n",
            "{\n  \"paths\": {\n    \"/a\": {\n      \"get\": {},\n      \"post\" : {}\n    },\n    \"/b\" : { \"get\": {} }\n  }\n}\n",
            "{\"paths\":{\"/a\":{\"get\":{}}}}",
            "'/a':\n  'get':\n/a:b:\n  get: 1\n\"\":\n\" :\n\":\nget:\r\n/c:\r\n  put:\r\n",
            "",
        ];
        let keys = ["/a", "/b", "/b/{id}", "/a:b", "/c", "", "\"", "paths", "x"];
        let methods = ["get", "post", "put", "delete"];
        for text in texts {
            let k = KeyLines::new(text, 7);
            for p in keys {
                for m in methods {
                    assert_eq!(
                        k.line_of(p, m),
                        line_of_by_scan(text, p, m),
                        "{text:?} {p} {m}"
                    );
                }
            }
        }
    }

    #[test]
    fn pointers_unescape() {
        let doc = serde_json::json!({"a": {"b/c": {"d~e": 1}, "x y": 2}});
        assert_eq!(pointer(&doc, "#/a/b~1c/d~0e"), Some(&Value::from(1)));
        assert_eq!(pointer(&doc, "#/a/x%20y"), Some(&Value::from(2)));
        assert_eq!(pointer(&doc, "#/a/nope"), None);
        assert_eq!(pointer(&doc, "#"), Some(&doc));
    }
}
