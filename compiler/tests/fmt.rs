//! The formatter proves itself (STYLE.md point 8): over every spec in the
//! repository it is idempotent, sound (the output parses to the same tree,
//! spans aside) and keeps every comment in order; hand-written canonical
//! text comes back unchanged; messy text comes out as written here; the
//! repository's own stdlib and examples are canonical; and `scalec fmt`
//! behaves at the command line.

mod support;

use scalec::diagnostics::FileId;
use scalec::syntax::format::format;
use scalec::syntax::parse;
use std::path::{Path, PathBuf};
use support::{repo_root, scalec};

// ------------------------------------------------------------------ helpers

/// The tree of a file, printed without its spans (the only thing the
/// formatter may change).
fn tree(text: &str) -> String {
    let (file, diags) = parse(FileId(0), text);
    assert!(diags.is_empty(), "does not parse: {diags:#?}\n{text}");
    let debug = format!("{file:?}");
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug.as_str();
    while let Some(at) = rest.find("span: Span {") {
        out.push_str(&rest[..at]);
        let close = rest[at..].find('}').expect("span closes");
        rest = &rest[at + close + 1..];
    }
    out.push_str(rest);
    assert!(!out.contains("Span"), "a span was left: {out}");
    out
}

/// The comments of a text in order (strings skipped), written independently
/// of the formatter's own scanner.
fn comments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' | '\n' => break,
                        _ => {}
                    }
                }
            }
            '/' if chars.peek().map(|x| x.1) == Some('/') => {
                let end = text[i..].find('\n').map_or(text.len(), |e| i + e);
                out.push(text[i..end].trim_end().to_string());
                while chars.peek().is_some_and(|x| x.0 < end) {
                    chars.next();
                }
            }
            '/' if chars.peek().map(|x| x.1) == Some('*') => {
                let end = text[i + 2..].find("*/").map_or(text.len(), |e| i + e + 4);
                out.push(text[i..end].to_string());
                while chars.peek().is_some_and(|x| x.0 < end) {
                    chars.next();
                }
            }
            _ => {}
        }
    }
    out
}

/// Everything the formatter promises about one text that parses.
fn sound(name: &str, text: &str) -> String {
    let once = format(text).unwrap_or_else(|d| panic!("{name}: refused: {d:#?}"));
    let twice = format(&once).unwrap_or_else(|d| panic!("{name}: output refused: {d:#?}\n{once}"));
    assert_eq!(twice, once, "{name}: not idempotent");
    assert_eq!(
        tree(&once),
        tree(text),
        "{name}: the formatted text means something else:\n{once}"
    );
    // Every comment kept, in order — unless a `use` written after a
    // declaration moved up, taking its comments with it.
    let (mut before, mut after) = (comments(text), comments(&once));
    let (file, _) = parse(FileId(0), text);
    let first_decl = file.decls.first().map_or(u32::MAX, |d| d.span.start);
    if file.uses.iter().any(|u| u.span.start > first_decl) {
        before.sort();
        after.sort();
    }
    assert_eq!(after, before, "{name}: comments lost or reordered:\n{once}");
    for line in once.lines() {
        assert_eq!(line.trim_end(), line, "{name}: trailing whitespace");
    }
    once
}

fn scale_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            scale_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "scale") {
            out.push(p);
        }
    }
}

fn corpus() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for d in ["stdlib", "examples", "tests/ui"] {
        scale_files(&repo_root().join(d), &mut files);
    }
    // The one spec saved as Latin-1 on purpose (S0118's case) is not text
    // the formatter is given: `scalec fmt` refuses it (tests/cli.rs).
    let latin1 = repo_root().join("tests/ui/project/invalid_utf8/latin1.scale");
    let before = files.len();
    files.retain(|f| *f != latin1);
    assert_eq!(files.len() + 1, before, "the Latin-1 case moved");
    files
}

/// The repository's own specs, which must stay formatted.
fn canonical_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for d in ["stdlib", "examples"] {
        scale_files(&repo_root().join(d), &mut files);
    }
    files
}

/// `assert_format!(text)`: canonical text comes back unchanged.
/// `assert_format!(text, expected)`: `text` formats to `expected`, which is
/// itself canonical.
macro_rules! assert_format {
    ($src:expr) => {{
        let src: &str = $src;
        let out = sound("case", src);
        assert_eq!(out, src, "canonical input changed:\n{out}");
    }};
    ($src:expr, $want:expr) => {{
        let (src, want): (&str, &str) = ($src, $want);
        let out = sound("case", src);
        assert_eq!(out, want, "formatted:\n{out}");
        assert_eq!(
            sound("expected", want),
            want,
            "the expectation is not canonical"
        );
    }};
}

// ------------------------------------------------------------------ the corpus

#[test]
fn every_spec_in_the_repository_formats_soundly() {
    let mut formatted = 0;
    let mut refused = 0;
    for path in corpus() {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path
            .strip_prefix(repo_root())
            .unwrap()
            .display()
            .to_string();
        if !parse(FileId(0), &text).1.is_empty() {
            assert!(
                format(&text).is_err(),
                "{name}: formatted despite syntax errors"
            );
            refused += 1;
            continue;
        }
        sound(&name, &text);
        formatted += 1;
    }
    assert!(formatted >= 100, "only {formatted} specs formatted");
    assert!(refused >= 1, "the syntax cases are refused");
}

#[test]
fn the_repositorys_own_specs_are_canonical() {
    let files = canonical_files();
    assert!(files.len() >= 4);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let out = format(&text).unwrap();
        assert!(
            out == text,
            "{} is not formatted; run `scalec fmt {}`:\n{}",
            path.display(),
            path.display(),
            similar::TextDiff::from_lines(&text, &out).unified_diff()
        );
    }
}

/// Every line deleted from the flagship in turn, and every declaration
/// squeezed onto one line: whatever still parses formats soundly.
#[test]
fn variations_of_the_flagship_format_soundly() {
    let triage = std::fs::read_to_string(repo_root().join("examples/triage/triage.scale")).unwrap();
    let lines: Vec<&str> = triage.lines().collect();
    let mut n = 0;
    for skip in 0..lines.len() {
        let text: String = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        if parse(FileId(0), &text).1.is_empty() {
            sound(&format!("triage without line {}", skip + 1), &text);
            n += 1;
        }
    }
    assert!(n > 50, "{n}");
    // Comments moved inside items, blank lines doubled, indentation gone.
    let squeezed = triage
        .replace(" = ", " /* in */ = ")
        .replace("\n\n", "\n\n\n")
        .replace("\n  ", "\n");
    sound("triage squeezed", &squeezed);
    // Every line break removed where no line comment needs it.
    sound("triage on one line", &on_one_line(&triage));
    let mut n = 0;
    for path in corpus() {
        let text = on_one_line(&std::fs::read_to_string(&path).unwrap());
        if parse(FileId(0), &text).1.is_empty() {
            sound(&format!("{} on one line", path.display()), &text);
            n += 1;
        }
    }
    assert!(n >= 100, "{n}");
}

/// Random edits of the flagship — line breaks, spaces and comments put
/// anywhere, stretches deleted or repeated — with a fixed seed: whatever
/// still parses formats soundly.
#[test]
fn random_edits_of_the_flagship_format_soundly() {
    let triage = std::fs::read_to_string(repo_root().join("examples/triage/triage.scale")).unwrap();
    let mut seed: u64 = 0x5ca1_ab1e;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n.max(1)
    };
    let inserts = [
        "\n",
        "\n\n\n",
        "  ",
        "\t",
        " // note\n",
        " /* c */ ",
        "\n/* a\n b */\n",
        "{",
        "}",
    ];
    let mut parsed = 0;
    for _ in 0..1000 {
        let mut text = triage.clone();
        for _ in 0..1 + next(4) {
            let mut at = next(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match next(4) {
                0 | 3 => text.insert_str(at, inserts[next(inserts.len())]),
                1 => {
                    let mut end = (at + next(40)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.replace_range(at..end, "");
                }
                _ => {
                    let mut end = (at + next(80)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    let copy = text[at..end].to_string();
                    text.insert_str(at, &copy);
                }
            }
        }
        if parse(FileId(0), &text).1.is_empty() {
            sound("a random edit of triage", &text);
            parsed += 1;
        }
    }
    assert!(parsed >= 150, "{parsed}");
}

/// The text on one line: line comments become block comments.
fn on_one_line(text: &str) -> String {
    text.lines()
        .map(|l| match l.rfind("//") {
            Some(i) if l[..i].matches('"').count() % 2 == 0 => {
                format!("{}/*{}*/ ", &l[..i], &l[i + 2..])
            }
            _ => format!("{l} "),
        })
        .collect()
}

// ------------------------------------------------------------------ canonical cases

#[test]
fn declarations_and_uses_are_canonical() {
    assert_format!(
        r#"// A file header.

use std.budgets.{web, batch}
use std.slo
use "common.scale"

app shop { owner = "team" }

budget b { p50 = 100ms  p99 = 1s }

limits {}

service api {
  image = "shop/api:1"
  port = 8080
}
"#
    );
}

#[test]
fn every_statement_is_canonical() {
    assert_format!(
        r#"service api {
  replicas = 3..60
  cpu = 500m
  autoscale on queue_depth("tickets") target 100
  calls db, search_index
  route signin POST "/v1/session" class write { budget = b  auth = public  limit = per_ip }
  route health GET "/healthz"
  route report GET "/v1/reports/{id}" class admin {
    budget { p99 = 3s }
    auth = role("admin") & mfa
  }
}

limits {
  per api_key { rate = 100/s  burst = 200 }
  concurrency = cores
}

auth {
  mfa = required for role("admin")
  proof_of_work = on suspicious { difficulty = 20 }
  device_binding = on
}

slo s { sli = errors(status >= 500) / requests  objective = 99.9% }

load_test peak {
  stages {
    ramp 1k rps -> 20k rps over 10m
    burst 30k rps for 30s
    hold 50% for 5m
    soak 12k rps for 2h
  }
}

chaos c {
  kill pod every 1m
  latency db +5%
  latency cache -10ms
  expect breaker(db) opens and closes within 2m
  expect retries(api) succeed within 30s
}

gate deploy {
  query_plans = cost_increase < 20%
  slo_burn < 1x over 1h
  errors >= 1
}
"#
    );
}

#[test]
fn expressions_are_canonical() {
    assert_format!(
        r#"x {
  a = 1.2 * p99
  b = 100ms..2s
  c = role("admin") & mfa | public
  d = (1 + 2) * 3
  e = -(a - -b)
  f = !enabled
  g = [ES256, RS256]
  h = []
  i = f(a, name = "x", [1, 2])
  j = 1 + 1 .. 2 * 2
  k = a.b.c
  l = 20k rps
  m = 0.000001
  n = 1000000000000000000000
  o = 99.9%
  p = 512Mi
  q = "quote \" backslash \\ newline \n tab \t é"
  r = x != 1
  s = (((a)))
}
"#
    );
}

#[test]
fn comments_are_canonical_where_they_are() {
    assert_format!(
        r#"// Leading comment of the file.
/* A block comment
   over two lines. */

use std.budgets.{web}                 // trailing a use

// Leading a declaration.
service api {                         // on the opening line
  // Leading the first item.
  image = "x"                         // trailing an item
  port = 8080                         /* block */ // and line

  // After a blank line.
  route a GET "/a" {
    budget = web                      // nested trailing
    // Last in a block.
  }                                   // after a closing brace
  calls db, search_index, a_long_service_name_here, another_one  // past column 38
  // Last in the declaration.
}                                     // after the declaration

// Between declarations.

budget b {
  // Only a comment.
}

// The end.
"#
    );
}

#[test]
fn alignment_the_author_chose_is_kept() {
    assert_format!(
        r#"app triage {
  owner     = "support-platform"
  generator = "appforge@3.2.1"        // pinned
  tenant    = header("x-tenant-id")
}

service api {
  image = "x"
  port = 8080
  route signin POST "/v1/session" class write { budget = b }
  route search GET "/v1/search"   class read  { budget = c }
}

limits {
  per api_key  { rate = 100/s  burst = 200 }
  per ip       { rate = 20/s   burst = 40 }
  per identity { rate = 50/s   burst = 100 }
  concurrency = cores
  overflow    = queue("tickets")
}

alert_policy multiwindow {
  page_fast   { severity = page    long = 1h  short = 5m   budget = 2% }
  ticket_slow { severity = ticket  long = 3d  short = 30m  budget = 10% }
  other       { severity = ticket }
}

gate deploy {
  contract    = "openapi.yaml"
  slo_burn    < 1x over 1h
  query_plans = cost_increase < 20%
}

load_test peak {
  stages {
    ramp  1k rps -> 20k rps over 10m
    burst 30k rps for 30s
  }
}
"#
    );
}

// ------------------------------------------------------------------ messy input

#[test]
fn messy_input_comes_out_canonical() {
    assert_format!(
        "  use   std.budgets.{ web ,batch, }  use \"common.scale\"
app   shop{owner=\"team\"   tenant=header( \"x\" )}   // the app
budget b{p50=100ms p99   =   1s timeout=1.2*p99}
service api {image = \"x\"


   port = 8080 replicas = 3 .. 60 // replicas
calls db ,search
      route a   GET   \"/a\"   class   read{budget=b
   auth=public}
route b POST \"/b\" {  }
   autoscale   on cpu target 70%
}
// between


// declarations
load_test peak { stages {ramp 1k   rps->2k rps for 1m burst 3k rps over 30s }
   mix{read=80%   write = 20%}}
chaos c{kill pod every 1m latency db + 5% expect breaker ( db ) opens and closes within 2m}
gate deploy { slo_burn<1x over 1h x=a&(b|c) }
limits { per ip {rate=1/s burst=2} }
",
        r#"use std.budgets.{web, batch}
use "common.scale"

app shop { owner = "team"  tenant = header("x") }  // the app

budget b { p50 = 100ms  p99 = 1s  timeout = 1.2 * p99 }

service api {
  image = "x"

  port = 8080
  replicas = 3..60                    // replicas
  calls db, search
  route a GET "/a" class read {
    budget = b
    auth = public
  }
  route b POST "/b" {}
  autoscale on cpu target 70%
}

// between

// declarations
load_test peak {
  stages { ramp 1k rps -> 2k rps over 1m  burst 3k rps for 30s }
  mix { read = 80%  write = 20% }
}

chaos c { kill pod every 1m  latency db +5%  expect breaker(db) opens and closes within 2m }

gate deploy { slo_burn < 1x over 1h  x = a & (b | c) }

limits { per ip { rate = 1/s  burst = 2 } }
"#
    );
}

#[test]
fn comments_inside_items_move_above_them() {
    assert_format!(
        "service api { port /* the port */ = 8080  route a GET \"/a\" // why\n class read { budget = b } }\n",
        r#"service api {
  /* the port */
  port = 8080
  // why
  route a GET "/a" class read { budget = b }
}
"#
    );
    assert_format!(
        "x { a = 1 + // one\n 2 }\n",
        "x {\n  // one\n  a = 1 + 2\n}\n"
    );
}

#[test]
fn call_edge_options_and_route_limits() {
    // Canonical: options after their callee on the `calls` line, plain names
    // mixed in; several limits and own rates as a list of calls.
    assert_format!(
        r#"service api {
  calls db, psp { timeout = 2s  retries = 1 }, cache {}
  route a GET "/a" { limit = [per_ip, per_api_key(rate = 50/s, burst = 100)] }
}
"#
    );
    // Messy: spacing normalised; a multi-line options block comes onto the
    // line, its comment moves above the statement.
    assert_format!(
        "service api {\n  calls db ,psp{timeout=2s\n  // why\n  retries=1}\n  route a GET \"/a\" {limit=[ per_ip,per_key( 5/s ) ]}\n}\n",
        r#"service api {
  // why
  calls db, psp { timeout = 2s  retries = 1 }
  route a GET "/a" { limit = [per_ip, per_key(5/s)] }
}
"#
    );
}

#[test]
fn long_one_line_blocks_are_split() {
    let long = format!("x {{ a = \"{}\"  b = 2 }}\n", "y".repeat(90));
    assert_format!(
        &long,
        &format!("x {{\n  a = \"{}\"\n  b = 2\n}}\n", "y".repeat(90))
    );
    // Only the outer block is split; inner blocks that fit stay on one line.
    let inner = format!("x {{ b {{ p = 1  q = 2 }}  c = \"{}\" }}\n", "y".repeat(80));
    assert_format!(
        &inner,
        &format!(
            "x {{\n  b {{ p = 1  q = 2 }}\n  c = \"{}\"\n}}\n",
            "y".repeat(80)
        )
    );
}

#[test]
fn blank_lines_and_empty_files() {
    assert_format!("", "");
    assert_format!("\n\n  \n", "");
    assert_format!("// only a comment\n");
    assert_format!(
        "x {\n\n\n  a = 1\n\n\n  b = 2\n\n}\n",
        "x {\n  a = 1\n\n  b = 2\n}\n"
    );
    assert_format!("a {}\nb {}\n", "a {}\n\nb {}\n");
    assert_format!("a {}\r\nb { c = 1 }  \r\n", "a {}\n\nb { c = 1 }\n");
}

#[test]
fn uses_come_first() {
    assert_format!(
        "app a { owner = \"x\" }\n// the budgets\nuse std.budgets.{web}\n",
        "// the budgets\nuse std.budgets.{web}\n\napp a { owner = \"x\" }\n"
    );
    // The comments that open the file stay at the top.
    assert_format!(
        "// header\n\napp a {}\nuse \"b.scale\"\n",
        "// header\n\nuse \"b.scale\"\n\napp a {}\n"
    );
    assert_format!(
        "// header\n\n// about a\napp a {}\n// about b\nuse \"b.scale\"\n",
        "// header\n\n// about b\nuse \"b.scale\"\n\n// about a\napp a {}\n"
    );
}

#[test]
fn thousands_of_items_format_soundly() {
    // One-line blocks far too wide for a line: each is split, item per line.
    let items: String = (0..3000).map(|i| format!("k{i} = {i}  ")).collect();
    let row = format!("  b  {{ {} }}\n", items.trim_end());
    let text = format!("x {{\n{}}}\n", row.repeat(20));
    let out = sound("thousands of items", &text);
    assert_eq!(out.lines().count(), 2 + 20 * 3002);
}

#[test]
fn syntax_errors_are_refused() {
    for bad in [
        "service api {\n  port = \n}\n",
        "x { a = 1",
        "use",
        "x { a = ((1) }",
    ] {
        let diags = format(bad).expect_err(bad);
        assert!(!diags.is_empty());
    }
}

// ------------------------------------------------------------------ the CLI

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scalec-fmt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn status(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let o = scalec().arg("fmt").args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn cli_checks_rewrites_and_refuses() {
    let dir = tmp("cli");
    let messy = dir.join("messy.scale");
    let fine = dir.join("nested/fine.scale");
    std::fs::create_dir_all(fine.parent().unwrap()).unwrap();
    std::fs::write(&messy, "app  a{owner=\"x\"} // hi\n").unwrap();
    std::fs::write(&fine, "app b { owner = \"y\" }\n").unwrap();
    let check = std::ffi::OsStr::new("--check");

    let (code, out, err) = status(&[check, dir.as_os_str()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("messy.scale") && !out.contains("fine.scale"),
        "{out}"
    );
    assert!(
        out.contains("-app  a{owner=\"x\"} // hi") && out.contains("+app a { owner = \"x\" }"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&messy).unwrap(),
        "app  a{owner=\"x\"} // hi\n",
        "--check wrote"
    );

    let (code, out, err) = status(&[dir.as_os_str()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(&messy).unwrap(),
        format!("{:<38}// hi\n", "app a { owner = \"x\" }")
    );
    let (code, out, err) = status(&[check, messy.as_os_str(), fine.as_os_str()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "temporary files left: {leftovers:?}");

    // A file that does not parse: exit 2, diagnostics, left untouched —
    // with or without --check, and even beside files that format.
    let broken = dir.join("broken.scale");
    let text = "service api {\n  port = \n}\n";
    std::fs::write(&broken, text).unwrap();
    std::fs::write(&messy, "app  a{owner=\"x\"}\n").unwrap();
    for args in [
        vec![broken.as_os_str()],
        vec![check, dir.as_os_str()],
        vec![dir.as_os_str()],
    ] {
        let (code, out, err) = status(&args);
        assert_eq!(code, 2, "{out}{err}");
        assert!(
            err.contains("S0001") && err.contains("broken.scale"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&broken).unwrap(), text);
    }
    // The run without --check still formatted the file that parses.
    assert_eq!(
        std::fs::read_to_string(&messy).unwrap(),
        "app a { owner = \"x\" }\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
