//! The targets of the hostile corpus: per output target of `scalec build`,
//! the files it writes, how a value is found intact in them, and the real
//! tool that validates them. A new target adds a row to [`TARGETS`] and its
//! two functions here.

use super::*;

/// One output target of `scalec build`.
pub(crate) struct Target {
    pub(crate) name: &'static str,
    /// Globs (`*` within one path segment) under the output folder.
    pub(crate) files: &'static [&'static str],
    /// Parses every file; with `Some(v)`, also finds `v` decoded in them.
    pub(crate) value_intact: fn(&[PathBuf], Option<&str>) -> Result<(), String>,
    /// Runs the real tool on many files at once (accepted cases only).
    pub(crate) validate: fn(&[PathBuf]) -> Result<(), String>,
}

pub(crate) const TARGETS: &[Target] = &[
    Target {
        name: "ir",
        files: &["ir.json"],
        value_intact: ir_intact,
        validate: ir_validate,
    },
    Target {
        name: "k8s",
        files: &["k8s/*.yaml"],
        value_intact: yaml_intact,
        validate: k8s_validate,
    },
    Target {
        name: "prometheus",
        files: &["prometheus/*.rules.yml", "prometheus/*.rules.test.yml"],
        value_intact: yaml_intact,
        validate: prometheus_validate,
    },
    Target {
        name: "k6",
        files: &["k6/*.js", "k6/*.yaml"],
        value_intact: k6_intact,
        validate: k6_validate,
    },
    Target {
        name: "chaos",
        files: &["chaos/*.js", "chaos/*.yaml"],
        value_intact: k6_intact,
        validate: k6_validate,
    },
    Target {
        name: "proxy",
        files: &[
            "proxy/envoy.yaml",
            "proxy/nginx.conf",
            "proxy/haproxy.cfg",
            "proxy/gateway/*.yaml",
        ],
        value_intact: proxy_intact,
        validate: proxy_validate,
    },
    Target {
        name: "ci",
        files: &["ci/*.yml"],
        value_intact: yaml_intact,
        validate: ci_validate,
    },
    Target {
        name: "rust",
        files: &["rust/*.rs"],
        value_intact: rust_intact,
        validate: rust_validate,
    },
];

/// The CI workflow: actionlint (with shellcheck on every `run:`) and the
/// GitHub workflow JSON Schema.
pub(crate) fn ci_validate(files: &[PathBuf]) -> Result<(), String> {
    let mut errors = String::new();
    if let Some(actionlint) = support::tool("actionlint") {
        for chunk in files.chunks(400) {
            let (ok, out) = support::run(Command::new(&actionlint).arg("-no-color").args(chunk));
            if !ok {
                errors.push_str(&format!("actionlint:\n{}\n", not_ok(&out)));
            }
        }
    }
    if let Some(cj) = support::tool("check-jsonschema") {
        for chunk in files.chunks(400) {
            let (ok, out) = support::run(
                Command::new(&cj)
                    .args(["--builtin-schema", "vendor.github-workflows"])
                    .args(chunk),
            );
            if !ok {
                errors.push_str(&format!("check-jsonschema:\n{}\n", not_ok(&out)));
            }
        }
    }
    loud!(
        "hostile corpus: actionlint + check-jsonschema: {} files",
        files.len()
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// k6 scripts (the k6 and chaos targets): no raw control, bidi or line
/// separator anywhere, the `const SPEC = …;` line is JSON and its strings
/// are searched; YAML files as [`yaml_intact`].
pub(crate) fn k6_intact(files: &[PathBuf], want: Option<&str>) -> Result<(), String> {
    let (js, yaml): (Vec<PathBuf>, Vec<PathBuf>) = files
        .iter()
        .cloned()
        .partition(|f| f.extension().is_some_and(|e| e == "js"));
    let mut strings = Vec::new();
    for f in &js {
        let text = read(f)?;
        if let Some(c) = text.chars().find(|&c| unsafe_char(c) && c != '\t') {
            return Err(format!("{}: raw U+{:04X}", f.display(), c as u32));
        }
        let spec = text
            .lines()
            .find_map(|l| l.strip_prefix("const SPEC = ")?.strip_suffix(';'))
            .ok_or_else(|| format!("{}: no SPEC line", f.display()))?;
        let v: serde_json::Value =
            serde_json::from_str(spec).map_err(|e| format!("{}: SPEC: {e}", f.display()))?;
        json_strings(&v, &mut strings);
    }
    match (want, yaml_intact(&yaml, want)) {
        (Some(w), Err(_)) if strings.iter().any(|s| s == w) => Ok(()),
        (_, Err(e)) => Err(e),
        (_, Ok(())) => Ok(()),
    }
}

/// `k6 inspect --execution-requirements` on every script (it runs the
/// init code and validates every scenario), and the strict CRD check on
/// the TestRuns and Schedules.
pub(crate) fn k6_validate(files: &[PathBuf]) -> Result<(), String> {
    let mut errors = String::new();
    if let Some(k6) = support::tool("k6") {
        // One script per body (the `//` header left out), inspected by a
        // few threads at once.
        let mut bodies = BTreeMap::new();
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "js"))
        {
            let text = read(f)?;
            let body: String = text.lines().skip_while(|l| l.starts_with("//")).collect();
            bodies.entry(body).or_insert(f);
        }
        let js: Vec<&PathBuf> = bodies.into_values().collect();
        let started = Instant::now();
        let next = AtomicUsize::new(0);
        let failed = Mutex::new(String::new());
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = js.get(i) else { break };
                    let (ok, out) = support::run(
                        Command::new(&k6)
                            .args(["inspect", "--execution-requirements"])
                            .arg(f)
                            .env("K6_NO_USAGE_REPORT", "true"),
                    );
                    if !ok {
                        let msg = format!("k6 inspect {}:\n{}\n", f.display(), not_ok(&out));
                        failed.lock().unwrap().push_str(&msg);
                    }
                });
            }
        });
        errors.push_str(&failed.into_inner().unwrap());
        loud!(
            "hostile corpus: k6 inspect: {} scripts in {:.1?}",
            js.len(),
            started.elapsed()
        );
    }
    let yaml: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
        .collect();
    if let (Some(python), Some(schemas)) = (support::tool("python"), support::schemas_dir()) {
        let script = support::repo_root().join("scripts/validate_crd.py");
        for chunk in yaml.chunks(400) {
            let (ok, out) =
                support::run(Command::new(&python).arg(&script).arg(&schemas).args(chunk));
            if !ok {
                errors.push_str(&format!("validate_crd.py:\n{}\n", not_ok(&out)));
            }
        }
        loud!(
            "hostile corpus: validate_crd.py: {} k6/chaos objects",
            yaml.len()
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The string literals of generated Rust, decoded; no raw control, bidi or
/// invisible character anywhere in the file (the escaper writes `\u{…}`).
pub(crate) fn rust_intact(files: &[PathBuf], want: Option<&str>) -> Result<(), String> {
    let mut strings = Vec::new();
    for f in files {
        let text = read(f)?;
        if let Some(c) = text.chars().find(|&c| unsafe_char(c) && c != '\n') {
            return Err(format!("{}: raw {c:?}", f.display()));
        }
        let mut it = text.chars().peekable();
        while let Some(c) = it.next() {
            match c {
                '/' if it.peek() == Some(&'/') => {
                    for c in it.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                '"' => {
                    let mut s = String::new();
                    loop {
                        match it.next() {
                            None => {
                                return Err(format!("{}: an unterminated literal", f.display()))
                            }
                            Some('"') => break,
                            Some('\\') => match it.next() {
                                Some('n') => s.push('\n'),
                                Some('r') => s.push('\r'),
                                Some('t') => s.push('\t'),
                                Some('0') => s.push('\0'),
                                Some('u') => {
                                    let hex: String =
                                        it.by_ref().skip(1).take_while(|&c| c != '}').collect();
                                    let c =
                                        u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                                    s.push(c.ok_or_else(|| {
                                        format!("{}: bad escape \\u{{{hex}}}", f.display())
                                    })?);
                                }
                                Some(c) => s.push(c),
                                None => return Err(format!("{}: a dangling escape", f.display())),
                            },
                            Some(c) => s.push(c),
                        }
                    }
                    strings.push(s);
                }
                _ => {}
            }
        }
    }
    found(want, &strings, files)
}

/// Every accepted case's modules compile against `scale-runtime` with
/// clippy `-D warnings`, in one crate.
pub(crate) fn rust_validate(files: &[PathBuf]) -> Result<(), String> {
    let mut mods: BTreeSet<PathBuf> = BTreeSet::new();
    for f in files {
        if let Some(dir) = f.parent() {
            mods.insert(dir.join("mod.rs"));
        }
    }
    let modules: Vec<(String, PathBuf)> = mods
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("case_{i}"), p))
        .collect();
    if modules.is_empty() {
        return Ok(());
    }
    rust_check::clippy(&support::repo_root(), "hostile", &modules)
}

pub(crate) fn ir_intact(files: &[PathBuf], want: Option<&str>) -> Result<(), String> {
    let mut strings = Vec::new();
    for f in files {
        let text = read(f)?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", f.display()))?;
        json_strings(&v, &mut strings);
    }
    found(want, &strings, files)
}

pub(crate) fn json_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_strings(x, out)),
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                out.push(k.clone());
                json_strings(x, out);
            }
        }
        _ => {}
    }
}

pub(crate) fn ir_validate(_files: &[PathBuf]) -> Result<(), String> {
    // ir.json has no external tool; ir_intact parsed it.
    Ok(())
}

/// YAML files: every file parses to a non-null document; the strings
/// searched are every decoded scalar and key, the tokens of each string
/// read as PromQL (decoded label values, metric and label names), and the
/// `generator:`/`requires:` header lines.
pub(crate) fn yaml_intact(files: &[PathBuf], want: Option<&str>) -> Result<(), String> {
    let mut strings = Vec::new();
    for f in files {
        let text = read(f)?;
        let v: yaml_serde::Value =
            yaml_serde::from_str(&text).map_err(|e| format!("{}: not YAML: {e}", f.display()))?;
        if v.is_null() {
            return Err(format!("{}: parsed to nothing", f.display()));
        }
        for line in text.lines().take_while(|l| l.starts_with('#')) {
            // A comment is not a quoted scalar: nothing in it is escaped.
            if let Some(c) = line.chars().find(|&c| unsafe_char(c)) {
                return Err(format!(
                    "{}: a header comment carries the raw character U+{:04X}",
                    f.display(),
                    c as u32
                ));
            }
            if let Some(g) = line.strip_prefix("# generator: ") {
                strings.push(g.to_string());
            } else if let Some(r) = line.strip_prefix("# requires: scalec ") {
                strings.push(r.to_string());
            } else if !line.starts_with("# Generated by scalec ") {
                return Err(format!("{}: unexpected header line {line:?}", f.display()));
            }
        }
        yaml_strings(&v, &mut strings);
    }
    found(want, &strings, files)
}

pub(crate) fn yaml_strings(v: &yaml_serde::Value, out: &mut Vec<String>) {
    use yaml_serde::Value as V;
    match v {
        V::String(s) => {
            promql_tokens(s, out);
            out.push(s.clone());
        }
        V::Sequence(a) => a.iter().for_each(|x| yaml_strings(x, out)),
        V::Mapping(m) => {
            for (k, x) in m {
                yaml_strings(k, out);
                yaml_strings(x, out);
            }
        }
        V::Tagged(t) => yaml_strings(&t.value, out),
        _ => {}
    }
}

/// The identifiers and decoded string literals of a PromQL text (an
/// expression, or a series in promtool's test notation).
pub(crate) fn promql_tokens(s: &str, out: &mut Vec<String>) {
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '"' || ch == '\'' || ch == '`' {
            let q = ch;
            let mut lit = String::new();
            i += 1;
            while i < c.len() && c[i] != q {
                if c[i] == '\\' && q != '`' && i + 1 < c.len() {
                    i += 1;
                    match c[i] {
                        'n' => lit.push('\n'),
                        't' => lit.push('\t'),
                        'r' => lit.push('\r'),
                        'a' => lit.push('\u{7}'),
                        'b' => lit.push('\u{8}'),
                        'f' => lit.push('\u{c}'),
                        'v' => lit.push('\u{b}'),
                        'x' | 'u' | 'U' => {
                            let n = match c[i] {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex: String = c[i + 1..(i + 1 + n).min(c.len())].iter().collect();
                            if let Some(x) =
                                u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                            {
                                lit.push(x);
                            }
                            i += n;
                        }
                        other => lit.push(other),
                    }
                } else {
                    lit.push(c[i]);
                }
                i += 1;
            }
            out.push(lit);
            i += 1;
        } else if ch.is_ascii_alphabetic() || ch == '_' || ch == ':' {
            let start = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_' || c[i] == ':') {
                i += 1;
            }
            out.push(c[start..i].iter().collect());
        } else {
            i += 1;
        }
    }
}

pub(crate) fn found(
    want: Option<&str>,
    strings: &[String],
    files: &[PathBuf],
) -> Result<(), String> {
    match want {
        None => Ok(()),
        Some(w) if strings.iter().any(|s| s == w) => Ok(()),
        Some(w) => Err(format!(
            "the value {} is not found intact in {} file(s): {}",
            short(w),
            files.len(),
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

pub(crate) const K8S_CORE: [&str; 5] = [
    "Deployment",
    "StatefulSet",
    "Service",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
];

pub(crate) fn k8s_validate(files: &[PathBuf]) -> Result<(), String> {
    let (mut core, mut custom) = (Vec::new(), Vec::new());
    for f in files {
        let v: yaml_serde::Value = yaml_serde::from_str(&read(f)?).map_err(|e| e.to_string())?;
        let kind = v["kind"].as_str().unwrap_or_default().to_string();
        if K8S_CORE.contains(&kind.as_str()) {
            core.push(f.clone());
        } else {
            custom.push(f.clone());
        }
    }
    let mut errors = String::new();
    if let Some(kv) = support::tool("kubernetes-validate") {
        for chunk in core.chunks(400) {
            let (ok, out) = support::run(Command::new(&kv).arg("--strict").args(chunk));
            if !ok || out.contains("ERROR") || out.contains("WARN") {
                errors.push_str(&format!(
                    "kubernetes-validate --strict:\n{}\n",
                    not_ok(&out)
                ));
            }
        }
        loud!(
            "hostile corpus: kubernetes-validate --strict: {} core objects",
            core.len()
        );
    }
    if let (Some(python), Some(schemas)) = (support::tool("python"), support::schemas_dir()) {
        let script = support::repo_root().join("scripts/validate_crd.py");
        for chunk in custom.chunks(400) {
            let (ok, out) =
                support::run(Command::new(&python).arg(&script).arg(&schemas).args(chunk));
            if !ok {
                errors.push_str(&format!("validate_crd.py:\n{}\n", not_ok(&out)));
            }
        }
        loud!(
            "hostile corpus: validate_crd.py: {} custom resources",
            custom.len()
        );
    }
    // The upstream models on npm, as crd_upstream.rs uses them.
    if let Some(node) = support::tool("node") {
        let tools = std::env::var_os("SCALE_TOOLS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| support::repo_root().join(".tools"));
        let modules = tools.join("npm/node_modules");
        if modules.join("@kubernetes-models/keda").is_dir() {
            let script = support::repo_root().join("scripts/validate_k8s_models.mjs");
            for chunk in custom.chunks(400) {
                let (ok, out) =
                    support::run(Command::new(&node).arg(&script).arg(&modules).args(chunk));
                if !ok {
                    errors.push_str(&format!("validate_k8s_models.mjs:\n{}\n", not_ok(&out)));
                }
            }
            loud!(
                "hostile corpus: validate_k8s_models.mjs: {} custom resources",
                custom.len()
            );
        } else {
            support::missing(&format!("the npm packages in {}", modules.display()));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

pub(crate) fn prometheus_validate(files: &[PathBuf]) -> Result<(), String> {
    let Some(promtool) = support::tool("promtool") else {
        return Ok(());
    };
    let rules: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.to_string_lossy().ends_with(".rules.yml"))
        .collect();
    let mut errors = String::new();
    for chunk in rules.chunks(400) {
        let (ok, out) = support::run(Command::new(&promtool).args(["check", "rules"]).args(chunk));
        if !ok {
            errors.push_str(&format!("promtool check rules:\n{}\n", not_ok(&out)));
        }
    }
    loud!(
        "hostile corpus: promtool check rules: {} files",
        rules.len()
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The proxy configs: YAML files as [`yaml_intact`]; nginx and HAProxy
/// files hold no raw control or bidi character anywhere, and their
/// `# generator:` / `# requires:` header lines are searched.
pub(crate) fn proxy_intact(files: &[PathBuf], want: Option<&str>) -> Result<(), String> {
    let (yaml, text): (Vec<PathBuf>, Vec<PathBuf>) = files
        .iter()
        .cloned()
        .partition(|f| f.extension().is_some_and(|e| e == "yaml"));
    let mut strings = Vec::new();
    for f in &text {
        let body = read(f)?;
        if let Some(c) = body.chars().find(|&c| unsafe_char(c) && c != '\n') {
            return Err(format!(
                "{}: a raw character U+{:04X}",
                f.display(),
                c as u32
            ));
        }
        for line in body.lines().take_while(|l| l.starts_with('#')) {
            if let Some(g) = line.strip_prefix("# generator: ") {
                strings.push(g.to_string());
            } else if let Some(r) = line.strip_prefix("# requires: scalec ") {
                strings.push(r.to_string());
            }
        }
    }
    if want.is_some_and(|w| strings.iter().any(|s| s == w)) {
        return yaml_intact(&yaml, None);
    }
    yaml_intact(&yaml, want).map_err(|e| format!("{e} (nor in {} nginx/HAProxy files)", text.len()))
}

/// `envoy --mode validate`, `nginx -t` and `haproxy -c`, each file once
/// (two workers).
pub(crate) fn proxy_validate(files: &[PathBuf]) -> Result<(), String> {
    let ends = |f: &PathBuf, s: &str| f.to_string_lossy().ends_with(s);
    let mut jobs: Vec<(PathBuf, Command)> = Vec::new();
    if let Some(envoy) = support::tool("envoy") {
        for f in files.iter().filter(|f| ends(f, "proxy/envoy.yaml")) {
            let mut c = Command::new(&envoy);
            c.args(["--mode", "validate", "-l", "error", "-c"]).arg(f);
            jobs.push((f.clone(), c));
        }
    }
    if let Some(nginx) = support::tool("nginx") {
        for f in files.iter().filter(|f| ends(f, "proxy/nginx.conf")) {
            let prefix = f.with_file_name("nginx-prefix");
            let _ = std::fs::create_dir_all(&prefix);
            let mut c = Command::new(&nginx);
            c.arg("-t").arg("-p").arg(&prefix).arg("-c").arg(f);
            c.arg("-e").arg(prefix.join("error.log"));
            jobs.push((f.clone(), c));
        }
    }
    if let Some(haproxy) = support::tool("haproxy") {
        for f in files.iter().filter(|f| ends(f, "proxy/haproxy.cfg")) {
            let mut c = Command::new(&haproxy);
            c.arg("-c").arg("-f").arg(f);
            jobs.push((f.clone(), c));
        }
    }
    // The Gateway resources: the strict CRD check, in batches.
    if let (Some(python), Some(schemas)) = (support::tool("python"), support::schemas_dir()) {
        let gateway: Vec<&PathBuf> = files
            .iter()
            .filter(|f| ends(f, ".yaml") && !ends(f, "envoy.yaml"))
            .collect();
        for chunk in gateway.chunks(400) {
            let mut c = Command::new(&python);
            c.arg(support::repo_root().join("scripts/validate_crd.py"))
                .arg(&schemas)
                .args(chunk);
            jobs.push((PathBuf::from("proxy/gateway"), c));
        }
    }
    let n = jobs.len();
    let jobs = Mutex::new(jobs);
    let errors = Mutex::new(String::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some((f, mut c)) = jobs.lock().unwrap().pop() else {
                    break;
                };
                let (ok, out) = support::run(&mut c);
                if !ok {
                    errors.lock().unwrap().push_str(&format!(
                        "{}: {}\n",
                        f.display(),
                        not_ok(&out)
                    ));
                }
            });
        }
    });
    loud!("hostile corpus: envoy/nginx/haproxy/validate_crd.py: {n} runs");
    let errors = errors.into_inner().unwrap();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
