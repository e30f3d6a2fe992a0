//! `scalec init [DIR]`: a starter project — a spec using the standard
//! library, a CI workflow that checks, formats and builds it, a README and
//! a `.gitignore` — that checks and builds cleanly as written.

use std::path::{Path, PathBuf};

/// The spec: `{name}`, `{image}` and `{version}` are filled in.
const SPEC: &str = r#"// {name}: how the app must behave under load, stated once.
//   scalec check .           checks it (the editor does too: docs/editors.md)
//   scalec build . -o out    compiles it for every target

use std.budgets.{web}
use std.slo.{multiwindow}
use std.shapes.{ramp}

app {name} {
  owner  = "my-team"                  // who answers the pages
  scalec = "{version}"                      // the compiler this spec is written for
}

// The HTTP service the app runs, and what it calls.
service api {
  image    = "ghcr.io/example/{image}:0.1.0"
  replicas = 2..10                    // scales on CPU (70%) between these
  cpu      = 500m
  memory   = 256Mi
  calls db

  route list GET "/v1/items" class read {
    budget = web                      // std.budgets.web: p99 800ms, timeout 960ms
  }
  route create POST "/v1/items" class write {
    budget { p99 = 1s }
  }
}

// A dependency: a database the app uses but does not deploy.
service db {
  kind = postgres
  budget { p99 = 100ms }
}

slo availability {
  service   = api
  objective = 99.9%
  window    = 30d
  sli       = errors(status >= 500) / requests
  alerts    = multiwindow             // std.slo: pages on fast burns, tickets on slow ones
}

load_test peak {
  target = api
  mix { read = 90%  write = 10% }
  shape = ramp                        // std.shapes.ramp, scaled to the peak
  peak  = 500 rps
}
"#;

const WORKFLOW: &str = r#"# Checks the spec, its formatting, and that it compiles, on every push and
# pull request; the compiled artifacts are kept for a week.
name: scale

on:
  push:
  pull_request:

permissions:
  contents: read

jobs:
  scale:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - name: Install scalec {crate_version}
        run: cargo install --locked scalec --version {crate_version}
      - name: Check
        run: scalec check --deny-warnings .
      - name: Format
        run: scalec fmt --check .
      - name: Build
        run: scalec build . -o out
      - uses: actions/upload-artifact@v6
        with:
          name: scale-out
          path: out/
          retention-days: 7
"#;

const README: &str = r#"# {name}

How `{name}` must behave under load, in [`app.scale`](app.scale): its
services and routes, their latency budgets, an availability SLO with
multiwindow burn-rate alerts, and a load test.

```sh
scalec check .            # diagnostics (exit 1 on an error)
scalec fmt .              # the canonical layout
scalec build . -o out     # Kubernetes, Prometheus, k6, proxy configs, … into out/
scalec explain S0301      # what a diagnostic code means
```

Editors: `scalec lsp` is a language server (diagnostics, hover with resolved
values, go to definition, completion, rename, formatting); see the scale
repository's `docs/editors.md` for VS Code, Neovim and Helix.

CI: `.github/workflows/scale.yml` runs the check, the format check and the
build on every push.
"#;

const GITIGNORE: &str = "/out/\n";

/// The app's name from the folder's: lower-case letters, digits and `_`,
/// starting with a letter (`My Shop` → `my_shop`); `app` when nothing is left.
pub fn app_name(dir: &Path) -> String {
    let base = std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut name = String::new();
    for c in base.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.is_empty() && !name.ends_with('_') {
            name.push('_');
        }
    }
    let name = name.trim_end_matches('_').to_string();
    match name.chars().next() {
        None => "app".into(),
        Some(c) if c.is_ascii_digit() => format!("app_{name}"),
        Some(_) => name
            .chars()
            .take(40)
            .collect::<String>()
            .trim_end_matches('_')
            .to_string(),
    }
}

/// The files of the starter, relative to its folder.
pub fn files(name: &str) -> Vec<(&'static str, String)> {
    let version = env!("CARGO_PKG_VERSION");
    let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    let fill = |t: &str| {
        t.replace("{name}", name)
            .replace("{image}", &format!("{}-api", name.replace('_', "-")))
            .replace("{version}", &minor)
            .replace("{crate_version}", version)
    };
    vec![
        ("app.scale", fill(SPEC)),
        (".github/workflows/scale.yml", fill(WORKFLOW)),
        ("README.md", fill(README)),
        (".gitignore", GITIGNORE.to_string()),
    ]
}

/// Writes the starter into `dir` (created if missing). Nothing is written
/// when one of its files is already there.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let name = app_name(dir);
    let files = files(&name);
    let taken: Vec<String> = files
        .iter()
        .map(|(f, _)| dir.join(f))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !taken.is_empty() {
        return Err(format!(
            "{} already exist{}; nothing was written (scalec init writes only into a folder without them)",
            taken.join(", "),
            if taken.len() == 1 { "s" } else { "" }
        ));
    }
    let mut written = Vec::new();
    for (f, text) in files {
        let path = dir.join(f);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_folders() {
        assert_eq!(app_name(Path::new("/nonexistent/My Shop!")), "my_shop");
        assert_eq!(app_name(Path::new("/nonexistent/9lives")), "app_9lives");
        assert_eq!(app_name(Path::new("/nonexistent/---")), "app");
        assert_eq!(app_name(Path::new("/nonexistent/ünï")), "n");
    }

    #[test]
    fn the_spec_checks_without_warnings_and_is_formatted() {
        for name in ["app", "my_shop", "x1"] {
            let spec = &files(name)[0].1;
            let c = scalec::check(scalec::project::Project::from_memory(&[(
                "app.scale",
                spec,
            )]));
            assert!(c.diagnostics.is_empty(), "{name}: {:#?}", c.diagnostics);
            assert!(c.ir.is_some());
            assert_eq!(&scalec::syntax::format::format(spec).unwrap(), spec);
        }
    }
}
