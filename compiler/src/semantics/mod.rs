//! Name resolution, units and types, checks and graphs, and lowering into
//! the IR. One pass over the declarations of every file of the project (and
//! the standard library modules it imports) collects symbols; then each kind
//! of declaration is lowered by its own module, which reports every problem
//! it finds and carries on with what is left.

mod complete;
mod contract;
mod edge;
mod exercises;
mod fields;
mod graph;
mod load;
pub mod model;
mod origins;
mod policies;
pub mod query;
mod record;
pub mod schema;
mod services;
mod slo;
pub mod values;

use crate::diagnostics::{catalog, Diagnostic, Diagnostics, Span};
use crate::ir::{self, Ir, RequestValue};
use crate::project::Project;
use crate::syntax::ast::{Decl, Expr, ExprKind, Ident, UseTarget};
pub use slo::burn_factor;
use std::collections::{BTreeMap, BTreeSet, HashMap};
pub use values::Dim;
use values::{Eval, Value};

/// The declaration kinds, as written.
pub const DECL_KINDS: &[&str] = &[
    "app",
    "budget",
    "service",
    "limits",
    "auth",
    "slo",
    "load_test",
    "chaos",
    "gate",
    "observe",
    "alert_policy",
    "shape",
];

/// Kinds that a project has at most one of.
const SINGLETONS: &[&str] = &["app", "limits", "auth", "observe"];

#[derive(Debug, Clone, Copy)]
pub struct DeclRef<'a> {
    pub decl: &'a Decl,
    pub name: &'a Ident,
    /// The standard library module it comes from (`budgets`), if any.
    pub std: Option<&'a str>,
}

/// What analysis produced: the IR when there is no error, and every diagnostic.
pub struct Analysis {
    pub ir: Option<Ir>,
    pub diagnostics: Vec<Diagnostic>,
    /// What the checker resolved, kept even when there are errors.
    pub model: model::Model,
}

pub struct Checker<'a> {
    pub project: &'a Project,
    /// The environment of the build (`--env`), if any.
    pub env: Option<String>,
    pub diags: Diagnostics,
    /// kind → name → declaration (visible names only: the project's, and
    /// the standard library names it imported).
    pub symbols: HashMap<&'static str, BTreeMap<&'a str, DeclRef<'a>>>,
    /// Declarations in order, per kind (for output order).
    pub ordered: HashMap<&'static str, Vec<DeclRef<'a>>>,
    /// Singletons (`app`, `limits`, …) as found.
    pub singletons: HashMap<&'static str, &'a Decl>,
    /// Standard library declarations not imported: name → module, for help lines.
    pub std_hidden: HashMap<(&'static str, &'a str), &'a str>,
    pub used_budgets: BTreeSet<String>,
    pub resolved_budgets: BTreeMap<String, ir::Budget>,
    /// Named budgets that failed to resolve (reported once, not again per use).
    pub(crate) failed_budgets: BTreeSet<String>,
    /// Alert policies lowered so far, by their block: each is checked once.
    pub(crate) policies: HashMap<Span, Option<slo::Policy>>,
    /// Shapes checked so far, by their block: the `stages` block of each one
    /// that checks clean (a load test then lowers it at its own peak).
    pub(crate) shapes: HashMap<Span, Option<&'a crate::syntax::ast::Block>>,
    /// The app's `tenant`, read once by `lower_app` (services and limits use it).
    pub(crate) tenant: Option<RequestValue>,
    /// Service name → index in the lowered services.
    pub service_index: HashMap<String, usize>,
    /// The semantic model, recorded while checking.
    pub model: model::Model,
}

/// Characters no generated file should carry from a spec's text (defined
/// beside the IR, which backends read too).
pub use crate::ir::unsafe_char;

/// Characters that are invisible or change how text reads: zero-width
/// spaces and joiners, the word joiner and the byte-order mark.
pub fn invisible_char(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// What is wrong with the text of a file path (a `contract`, a `use`),
/// before it is resolved: a character no file name in a project should
/// hold, or spaces around it. `None` when the text is fine.
pub fn path_text_flaw(path: &str) -> Option<catalog::PathFlaw> {
    if let Some(c) = path
        .chars()
        .find(|&c| unsafe_char(c) || invisible_char(c) || (c.is_whitespace() && c != ' '))
    {
        return Some(catalog::PathFlaw::Char(c));
    }
    if path.starts_with(' ') || path.ends_with(' ') {
        return Some(catalog::PathFlaw::OuterSpace);
    }
    None
}

/// What is wrong with a header, cookie, query or claim name. Header and
/// cookie names take the subset of RFC 9110 tokens that every generated
/// proxy carries safely (letters, digits, `-`, `_`, `.`); query and claim
/// names take printable ASCII without quotes, backslash, braces, `$`, `<>`,
/// a backtick or `;` (a claim may be a URL).
pub fn request_name_flaw(kind: catalog::RequestName, name: &str) -> Option<catalog::NameFlaw> {
    use catalog::{NameFlaw, RequestName};
    if name.is_empty() {
        return Some(NameFlaw::Empty);
    }
    let ok = |c: char| match kind {
        // nginx reads a header only as `$http_name`: no `.` (or any other
        // token character) there.
        RequestName::Header => c.is_ascii_alphanumeric() || matches!(c, '-' | '_'),
        RequestName::Cookie => c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'),
        RequestName::Query | RequestName::Claim => {
            c.is_ascii_graphic() && !"\"'\\{}$<>`;".contains(c)
        }
    };
    if let Some(c) = name.chars().find(|&c| !ok(c)) {
        return Some(NameFlaw::Char(c));
    }
    if name.len() > 256 {
        return Some(NameFlaw::TooLong);
    }
    None
}

/// The first character of a URL outside RFC 3986 (unreserved, reserved,
/// and `%` followed by two hex digits); a stray `%` is reported as `%`.
pub fn url_flaw(url: &str) -> Option<char> {
    let b = url.as_bytes();
    for (i, c) in url.char_indices() {
        let ok = c.is_ascii_alphanumeric()
            || "-._~:/?#[]@!$&'()*+,;=".contains(c)
            || (c == '%'
                && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
        if !ok {
            return Some(c);
        }
    }
    None
}

/// What is wrong with a container image reference, by the OCI
/// distribution grammar (`distribution/reference`):
///
/// ```text
/// reference := name [ ":" tag ] [ "@" digest ]
/// name      := [ host [ ":" port ] "/" ] component ( "/" component )*
/// component := [a-z0-9]+ ( ( [._] | "__" | "-"+ ) [a-z0-9]+ )*
/// tag       := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
/// digest    := "sha256:" 64 hex | "sha512:" 128 hex (lower case)
/// ```
///
/// The first part is a registry host when it holds a `.` or a `:` or is
/// `localhost`; a name is at most 255 characters.
pub fn image_flaw(image: &str) -> Option<catalog::ImageFlaw> {
    use catalog::ImageFlaw;
    if image.is_empty() {
        return Some(ImageFlaw::Empty);
    }
    if image.len() > 512 {
        return Some(ImageFlaw::TooLong);
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let hex_ok = |h: &str, n: usize| {
            h.len() == n
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let ok = match d.split_once(':') {
            Some(("sha256", h)) => hex_ok(h, 64),
            Some(("sha512", h)) => hex_ok(h, 128),
            _ => false,
        };
        if !ok {
            return Some(ImageFlaw::Digest);
        }
    }
    // A tag follows the last `:` after the last `/` (a port comes before it).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        let ok = t.len() <= 128
            && t.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return Some(ImageFlaw::Tag);
        }
    }
    if name.len() > 255 {
        return Some(ImageFlaw::TooLong);
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        if !registry_ok(parts[0]) {
            return Some(ImageFlaw::Registry);
        }
        parts.remove(0);
    }
    if let Some(bad) = parts.iter().find(|p| !image_component_ok(p)) {
        return Some(ImageFlaw::Component(bad.to_string()));
    }
    None
}

/// `host[:port]`: dot-separated labels of letters, digits and inner `-`.
fn registry_ok(host: &str) -> bool {
    let (host, port) = match host.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (host, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    host.split('.').all(label_ok)
        && port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*`
fn image_component_ok(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = c.as_bytes();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator: `.`, `_`, `__` or a run of `-`, between alphanumerics.
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => i += if b.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            b'-' => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || !b.get(i).is_some_and(|&x| alnum(x)) {
            return false;
        }
    }
    true
}

/// A data store's mount path: absolute, plain characters, no `.` or `..`
/// segment, not `/` itself, at most 255 characters.
pub fn safe_data_path(p: &str) -> bool {
    p.starts_with('/')
        && p.len() > 1
        && p.len() <= 255
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-._".contains(c))
        && p.split('/')
            .skip(1)
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

pub fn analyze(project: &Project) -> Analysis {
    analyze_in(project, None)
}

/// [`analyze`] for a build in an environment (`scalec build --env NAME`,
/// NAME a DNS-1123 label the command line has checked): the IR records it,
/// and the app's namespace with it must still be a Kubernetes name.
pub fn analyze_in(project: &Project, env: Option<&str>) -> Analysis {
    analyze_with(project, env, model::Model::declare(project))
}

/// [`analyze_in`] without the semantic model (see
/// [`model::Model::unrecorded`]): the same diagnostics and IR, for callers
/// that read nothing else.
pub fn analyze_without_model(project: &Project, env: Option<&str>) -> Analysis {
    analyze_with(project, env, model::Model::unrecorded())
}

fn analyze_with(project: &Project, env: Option<&str>, model: model::Model) -> Analysis {
    let mut cx = Checker {
        project,
        env: env.map(str::to_string),
        diags: Diagnostics::default(),
        symbols: HashMap::new(),
        ordered: HashMap::new(),
        singletons: HashMap::new(),
        std_hidden: HashMap::new(),
        used_budgets: BTreeSet::new(),
        resolved_budgets: BTreeMap::new(),
        failed_budgets: BTreeSet::new(),
        policies: HashMap::new(),
        shapes: HashMap::new(),
        tenant: None,
        service_index: HashMap::new(),
        model,
    };
    cx.collect();
    let app = services::lower_app(&mut cx);
    let mut services = services::lower_services(&mut cx);
    cx.service_index = services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), i))
        .collect();
    graph::check_call_graph(&mut cx, &services);
    let limits = policies::lower_limits(&mut cx, &mut services);
    edge::check_limits(&mut cx, limits.as_ref());
    let auth = policies::lower_auth(&mut cx);
    let observe = policies::lower_observe(&mut cx);
    let slos = slo::lower_slos(&mut cx, &mut services);
    let load_tests = exercises::lower_load_tests(&mut cx, &services);
    load::check(&mut cx, &load_tests, limits.as_ref(), &services);
    let chaos = exercises::lower_chaos(&mut cx, &services);
    let gates = exercises::lower_gates(&mut cx, &services);
    contract::check(&mut cx, &services);
    services::check_unused_budgets(&mut cx);
    let diagnostics = std::mem::take(&mut cx.diags).into_vec();
    let has_error = diagnostics.iter().any(|d| d.is_error());
    let ir = match app {
        Some(app) if !has_error => Some(Ir {
            ir_version: ir::IR_VERSION,
            app,
            budgets: cx
                .resolved_budgets
                .iter()
                .filter(|(n, _)| cx.used_budgets.contains(*n))
                .map(|(n, b)| (n.clone(), b.clone()))
                .collect(),
            services,
            limits,
            auth,
            slos,
            load_tests,
            chaos,
            gates,
            observe,
            origins: origins::collect(&cx),
            index: Default::default(),
        }),
        _ => None,
    };
    Analysis {
        ir,
        diagnostics,
        model: cx.model,
    }
}

fn kind_static(kind: &str) -> Option<&'static str> {
    DECL_KINDS.iter().copied().find(|k| *k == kind)
}

impl<'a> Checker<'a> {
    fn collect(&mut self) {
        let project = self.project;
        // Which stdlib names each import makes visible.
        let mut imported: BTreeMap<&str, Option<BTreeSet<&str>>> = BTreeMap::new();
        for f in project.files.iter().filter(|f| f.std_module.is_none()) {
            for u in &f.ast.uses {
                if let UseTarget::Module { path, names } = &u.target {
                    let Some(module) = project.std_module_of(path) else {
                        continue; // reported by the project loader
                    };
                    let entry = imported
                        .entry(module)
                        .or_insert_with(|| Some(BTreeSet::new()));
                    if names.is_empty() {
                        *entry = None; // the whole module
                    } else if let Some(set) = entry {
                        for n in names {
                            set.insert(n.name.as_str());
                        }
                    }
                    self.check_use_names(module, names);
                }
            }
        }
        for f in &project.files {
            for decl in &f.ast.decls {
                let Some(kind) = kind_static(&decl.kind.name) else {
                    let d = catalog::unknown_decl_kind(&decl.kind.name, decl.kind.span, DECL_KINDS);
                    self.diags.push(d);
                    continue;
                };
                if SINGLETONS.contains(&kind) {
                    if let Some(prev) = self.singletons.get(kind) {
                        self.diags.push(catalog::singleton_twice(
                            kind,
                            decl.kind.span,
                            prev.kind.span,
                        ));
                    } else {
                        self.singletons.insert(kind, decl);
                    }
                    if kind != "app" {
                        if let Some(n) = &decl.name {
                            self.diags
                                .push(catalog::singleton_named(kind, &n.name, n.span));
                        }
                    }
                    if kind != "app" {
                        continue;
                    }
                }
                let Some(name) = &decl.name else {
                    self.diags
                        .push(catalog::decl_needs_name(kind, decl.kind.span));
                    continue;
                };
                if let Some(module) = f.std_module.as_deref() {
                    let visible = match imported.get(module) {
                        Some(None) => true,
                        Some(Some(set)) => set.contains(name.name.as_str()),
                        None => false,
                    };
                    if !visible {
                        self.std_hidden.insert((kind, name.name.as_str()), module);
                        continue;
                    }
                }
                let r = DeclRef {
                    decl,
                    name,
                    std: f.std_module.as_deref(),
                };
                let table = self.symbols.entry(kind).or_default();
                if let Some(prev) = table.get(name.name.as_str()) {
                    let d = catalog::duplicate_decl(
                        kind,
                        &name.name,
                        name.span,
                        prev.name.span,
                        prev.std.is_some(),
                    );
                    self.diags.push(d);
                    continue;
                }
                table.insert(name.name.as_str(), r);
                self.ordered.entry(kind).or_default().push(r);
            }
        }
        let singletons = self.singletons.values();
        self.model.mark_visible(
            self.symbols.values().flat_map(|t| t.values()),
            singletons.map(|d| d.name.as_ref().unwrap_or(&d.kind).span),
        );
    }

    fn check_use_names(&mut self, module: &str, names: &[Ident]) {
        let project = self.project;
        let Some(file) = project
            .files
            .iter()
            .find(|f| f.std_module.as_deref() == Some(module))
        else {
            return;
        };
        let available: Vec<&str> = file
            .ast
            .decls
            .iter()
            .filter_map(|d| d.name.as_ref().map(|n| n.name.as_str()))
            .collect();
        for n in names {
            self.model.refer_std(n, module);
            if !available.contains(&n.name.as_str()) {
                let d = catalog::std_has_no(module, &n.name, n.span, &available);
                self.diags.push(d);
            }
        }
    }

    /// Looks a name up among the declarations of `kind`; reports S0101 with
    /// a suggestion (or the missing import) when it is not there.
    pub fn lookup(&mut self, kind: &'static str, name: &Ident) -> Option<DeclRef<'a>> {
        if let Some(r) = self
            .symbols
            .get(kind)
            .and_then(|t| t.get(name.name.as_str()))
            .copied()
        {
            self.model.refer(name, r.name.span);
            return Some(r);
        }
        let names: Vec<&str> = self
            .symbols
            .get(kind)
            .map(|t| t.keys().copied().collect())
            .unwrap_or_default();
        self.unknown(kind, name, &names);
        None
    }

    /// Reports an unknown name of a kind, with "did you mean" among `candidates`.
    pub fn unknown(&mut self, kind: &str, name: &Ident, candidates: &[&str]) {
        let hidden = kind_static(kind).and_then(|k| self.std_hidden.get(&(k, name.name.as_str())));
        let d = catalog::unknown_name(kind, &name.name, name.span, hidden.copied(), candidates);
        self.diags.push(d);
    }

    /// The lowered service of that name, found by index.
    pub fn service<'s>(&self, services: &'s [ir::Service], name: &str) -> Option<&'s ir::Service> {
        self.service_index.get(name).and_then(|i| services.get(*i))
    }

    pub fn decls(&self, kind: &'static str) -> Vec<DeclRef<'a>> {
        self.ordered.get(kind).cloned().unwrap_or_default()
    }

    // ------------------------------------------------------------ values

    pub fn eval_with(
        &mut self,
        e: &Expr,
        want: Dim,
        env: &dyn Fn(&str) -> Option<Value>,
    ) -> Option<f64> {
        let v = Eval {
            diags: &mut self.diags,
            env,
        }
        .expect(e, want);
        if let Some(v) = v {
            self.model.evaluated(e.span, want, v);
        }
        v
    }

    /// Evaluates without a required type (the caller decides what fits).
    pub fn eval_any(&mut self, e: &Expr, hint: Dim) -> Option<Value> {
        let v = Eval {
            diags: &mut self.diags,
            env: &|_| None,
        }
        .eval(e, Some(hint));
        if let Some(v) = v {
            self.model.evaluated(e.span, v.dim, v.v);
        }
        v
    }

    pub fn quantity(&mut self, e: &Expr, want: Dim) -> Option<f64> {
        self.eval_with(e, want, &|_| None)
    }

    /// A quantity that must be > 0 (or ≥ 0 with `allow_zero`).
    pub fn positive(&mut self, e: &Expr, want: Dim, allow_zero: bool) -> Option<f64> {
        let v = self.quantity(e, want)?;
        let ok = if allow_zero { v >= 0.0 } else { v > 0.0 };
        if !ok {
            let bound = if allow_zero {
                "zero or more"
            } else {
                "more than zero"
            };
            self.diags
                .push(catalog::not_positive(bound, want.name(), e.span));
            return None;
        }
        Some(v)
    }

    /// A quantity within `lo..=hi` (in the dimension's normal unit), with
    /// the bounds written for people in the message.
    pub fn bounded(&mut self, e: &Expr, want: Dim, lo: f64, hi: f64, range: &str) -> Option<f64> {
        let v = self.quantity(e, want)?;
        if !(v >= lo && v <= hi) {
            self.diags
                .push(catalog::outside_range(want.name(), range, e.span));
            return None;
        }
        Some(v)
    }

    /// A whole number within `lo..=hi`.
    pub fn integer(&mut self, e: &Expr, lo: f64, hi: f64) -> Option<u64> {
        let v = self.quantity(e, Dim::Count)?;
        if v.fract() != 0.0 || v < lo || v > hi {
            self.diags.push(catalog::whole_number_range(lo, hi, e.span));
            return None;
        }
        Some(v as u64)
    }

    pub fn string(&mut self, e: &Expr) -> Option<String> {
        match &e.kind {
            ExprKind::Str(s) => Some(s.clone()),
            _ => {
                self.wrong(e, catalog::Expected::String);
                None
            }
        }
    }

    /// A string that is one printable line (owner, region, audience, …):
    /// no control characters, at most 256 characters.
    pub fn text(&mut self, e: &Expr) -> Option<String> {
        let s = self.string(e)?;
        if s.chars().any(unsafe_char) || s.chars().count() > 256 {
            self.diags.push(catalog::not_one_line(&s, e.span));
            return None;
        }
        Some(s)
    }

    /// A name that every target can carry unquoted (a queue, a hook):
    /// letters, digits, `.`, `_` and `-`, at most 63 characters.
    pub fn token(&mut self, e: &Expr) -> Option<String> {
        let s = self.string(e)?;
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            && !s.starts_with(['.', '-']);
        if !ok {
            self.diags.push(catalog::invalid_token(&s, e.span));
            return None;
        }
        Some(s)
    }

    pub fn wrong(&mut self, e: &Expr, expected: catalog::Expected<'_>) {
        self.diags
            .push(catalog::wrong_type(expected, &e.describe(), e.span));
    }

    /// A bare word out of a fixed set (`sticky`, `weekly`, …).
    pub fn word(&mut self, e: &Expr, allowed: &[&str]) -> Option<String> {
        let Some(id) = e.as_ident() else {
            self.wrong(e, catalog::Expected::Word(allowed));
            return None;
        };
        if allowed.contains(&id.name.as_str()) {
            return Some(id.name.clone());
        }
        let d = catalog::unknown_word(&id.name, id.span, allowed);
        self.diags.push(d);
        None
    }

    /// `on`/`off` (also `true`/`false`, `required`).
    pub fn switch(&mut self, e: &Expr) -> Option<bool> {
        match &e.kind {
            ExprKind::On(_) => Some(true),
            _ => self
                .word(e, &["on", "off", "true", "false", "required", "optional"])
                .map(|w| matches!(w.as_str(), "on" | "true" | "required")),
        }
    }

    /// `header("x")`, `query("x")`, `cookie("x")`, `claim("x")`.
    pub fn request_value(&mut self, e: &Expr) -> Option<RequestValue> {
        let ExprKind::Call { callee, args } = &e.kind else {
            self.wrong(e, catalog::Expected::RequestValue);
            return None;
        };
        let arg = match args.as_slice() {
            [a] if a.name.is_none() => self.string(&a.value)?,
            _ => {
                self.wrong(e, catalog::Expected::RequestValueArgument);
                return None;
            }
        };
        let kind = match callee.name.as_str() {
            "header" => catalog::RequestName::Header,
            "query" => catalog::RequestName::Query,
            "cookie" => catalog::RequestName::Cookie,
            "claim" => catalog::RequestName::Claim,
            _ => {
                let d = catalog::unknown_source(&callee.name, callee.span);
                self.diags.push(d);
                return None;
            }
        };
        if let Some(flaw) = request_name_flaw(kind, &arg) {
            self.diags
                .push(catalog::invalid_request_name(kind, &arg, flaw, e.span));
            return None;
        }
        Some(match kind {
            catalog::RequestName::Header => RequestValue::Header(arg.to_ascii_lowercase()),
            catalog::RequestName::Query => RequestValue::Query(arg),
            catalog::RequestName::Cookie => RequestValue::Cookie(arg),
            catalog::RequestName::Claim => RequestValue::Claim(arg),
        })
    }

    /// Checks that a relative path is one plain line of text, then that it
    /// stays inside the project root.
    pub fn project_path(&mut self, path: &str, span: Span) -> Option<String> {
        if let Some(flaw) = path_text_flaw(path) {
            self.diags.push(catalog::unsafe_path(path, flaw, span));
            return None;
        }
        match crate::project::normalize_inside(path) {
            Some(p) => Some(p),
            None => {
                self.diags.push(catalog::path_escapes(path, span, false));
                None
            }
        }
    }
}

#[cfg(test)]
mod text_checks {
    use super::*;
    use catalog::{ImageFlaw, NameFlaw, PathFlaw, RequestName};

    #[test]
    fn path_text() {
        assert_eq!(path_text_flaw("specs/openapi.yaml"), None);
        assert_eq!(path_text_flaw("specs/my api.yaml"), None);
        for (p, c) in [
            ("a\nb", '\n'),
            ("a\0b", '\0'),
            ("a\u{1b}b", '\u{1b}'),
            ("a\tb", '\t'),
            ("a\rb", '\r'),
            ("a\u{7f}b", '\u{7f}'),
            ("a\u{202e}b", '\u{202e}'),
            ("a\u{2028}b", '\u{2028}'),
            ("a\u{200b}b", '\u{200b}'),
            ("a\u{feff}b", '\u{feff}'),
        ] {
            assert_eq!(path_text_flaw(p), Some(PathFlaw::Char(c)), "{p:?}");
        }
        assert_eq!(path_text_flaw(" a"), Some(PathFlaw::OuterSpace));
        assert_eq!(path_text_flaw("a "), Some(PathFlaw::OuterSpace));
    }

    #[test]
    fn request_names() {
        let h = RequestName::Header;
        assert_eq!(request_name_flaw(h, "Idempotency-Key"), None);
        // `.` is a token character nginx cannot read in a header name;
        // cookie names keep it.
        assert_eq!(request_name_flaw(h, "x_a-b"), None);
        assert_eq!(request_name_flaw(h, "x_a.b"), Some(NameFlaw::Char('.')));
        assert_eq!(request_name_flaw(RequestName::Cookie, "x_a.b"), None);
        assert_eq!(request_name_flaw(h, ""), Some(NameFlaw::Empty));
        for bad in [
            "a\"b",
            "a\\b",
            "{}",
            "${HOME}",
            "<script>",
            "a\u{200b}",
            "a!b",
        ] {
            assert!(request_name_flaw(h, bad).is_some(), "{bad:?}");
            assert!(
                request_name_flaw(RequestName::Cookie, bad).is_some(),
                "{bad:?}"
            );
        }
        let c = RequestName::Claim;
        assert_eq!(request_name_flaw(c, "https://example.com/tenant"), None);
        assert_eq!(request_name_flaw(RequestName::Query, "filter[id]"), None);
        for bad in [
            "a b", "a\"", "a'", "a\\", "{x}", "$x", "<x>", "`x`", "a;b", "é",
        ] {
            assert!(request_name_flaw(c, bad).is_some(), "{bad:?}");
            assert!(
                request_name_flaw(RequestName::Query, bad).is_some(),
                "{bad:?}"
            );
        }
        assert_eq!(
            request_name_flaw(c, &"a".repeat(257)),
            Some(NameFlaw::TooLong)
        );
    }

    #[test]
    fn urls() {
        assert_eq!(url_flaw("https://id.example.com/a%2Fb?x=1&y=[2]#f"), None);
        for (u, c) in [
            ("https://a/\"", '"'),
            ("https://a/\\", '\\'),
            ("https://a/<", '<'),
            ("https://a/{", '{'),
            ("https://a/`", '`'),
            ("https://a/%", '%'),
            ("https://a/%4", '%'),
            ("https://a/%zz", '%'),
            ("https://a/ b", ' '),
            ("https://a/é", 'é'),
        ] {
            assert_eq!(url_flaw(u), Some(c), "{u:?}");
        }
    }

    #[test]
    fn images() {
        for ok in [
            "postgres:16",
            "shop/api:1",
            "ghcr.io/acme/triage-api:1.8.0",
            "localhost:5000/a/b:1",
            "localhost/a",
            "a/b__c/d--e.f_g",
            "Registry.Example.com:443/shop/api:Latest",
            &format!("shop/api@sha256:{}", "ab".repeat(32)),
            &format!("shop/api:1@sha256:{}", "01".repeat(32)),
        ] {
            assert_eq!(image_flaw(ok), None, "{ok}");
        }
        let comp = |c: &str| Some(ImageFlaw::Component(c.to_string()));
        assert_eq!(image_flaw(""), Some(ImageFlaw::Empty));
        assert_eq!(image_flaw("reg.example/:1.0"), comp(""));
        assert_eq!(image_flaw("reg.example/../../etc/passwd:1.0"), comp(".."));
        assert_eq!(image_flaw("reg.example/Shop:1"), comp("Shop"));
        assert_eq!(image_flaw("a___b"), comp("a___b"));
        assert_eq!(image_flaw("a/b:.x"), Some(ImageFlaw::Tag));
        assert_eq!(
            image_flaw(&format!("a:{}", "x".repeat(129))),
            Some(ImageFlaw::Tag)
        );
        assert_eq!(image_flaw("a@sha256:AB"), Some(ImageFlaw::Digest));
        assert_eq!(image_flaw("reg_x:5000/a"), Some(ImageFlaw::Registry));
        assert_eq!(
            image_flaw(&format!("a/{}", "b".repeat(10_000))),
            Some(ImageFlaw::TooLong)
        );
        assert_eq!(
            image_flaw(&format!("a/{}", "b".repeat(254))),
            Some(ImageFlaw::TooLong)
        );
        assert_eq!(image_flaw(&format!("a/{}", "b".repeat(253))), None);
    }
}
