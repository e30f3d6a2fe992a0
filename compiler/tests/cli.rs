//! The command line as a user and CI meet it: exit codes, JSON diagnostics,
//! `explain`, the build's determinism, atomic writes and the drift gate.

mod support;

use std::path::{Path, PathBuf};
use support::{copy_triage_assets, repo_root, run, scalec};

fn triage() -> PathBuf {
    repo_root().join("examples/triage")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    support::tree(dir).into_iter().collect()
}

#[test]
fn check_passes_on_the_flagship_and_fails_on_errors() {
    let (ok, text) = run(scalec().arg("check").arg(triage().join("triage.scale")));
    assert!(ok, "{text}");
    assert!(
        text.trim().is_empty(),
        "a clean check prints nothing: {text}"
    );

    let dir = tmp("broken");
    let file = dir.join("broken.scale");
    std::fs::write(&file, "app a { owner = \"x\" }\nbudget b { p50 = 300ms  p95 = 100ms  p99 = 1s }\nservice s { image = \"i:1\"  route r GET \"/r\" { budget = bb } }\nservce t { }\n").unwrap();
    let out = scalec()
        .arg("check")
        .arg(&file)
        .arg("--color=never")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for code in ["S0301", "S0101", "S0104"] {
        assert!(
            stderr.contains(&format!("error[{code}]")),
            "missing {code} in one pass:\n{stderr}"
        );
    }
    assert!(stderr.contains("did you mean `b`?"), "{stderr}");
    assert!(stderr.contains("did you mean `service`?"), "{stderr}");
}

#[test]
fn json_diagnostics_are_one_object_per_line() {
    let dir = tmp("json");
    let file = dir.join("j.scale");
    std::fs::write(
        &file,
        "app a { owner = \"x\" }\nservice s {\n  image = \"i:1\"  cpu = 250m  memory = 256Mi\n  replicas = 5..2\n}\n",
    )
    .unwrap();
    let out = scalec()
        .current_dir(&dir)
        .args(["check", "--message-format", "json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let d = &lines[0];
    assert_eq!(d["code"], "S0206");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "j.scale");
    assert_eq!(d["start"]["line"], 4);
    assert_eq!(d["start"]["column"], 14);
    assert_eq!(d["end"]["column"], 18);
    let text = std::fs::read_to_string(&file).unwrap();
    let (s, e) = (
        d["byte_start"].as_u64().unwrap() as usize,
        d["byte_end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[s..e], "5..2");
    assert!(d["help"].as_str().unwrap().contains("2..5"));
    // The fix, as an editor applies it: byte and line/column ranges.
    let fixes = d["fixes"].as_array().expect("fixes");
    assert_eq!(fixes.len(), 1, "{stdout}");
    let edit = &fixes[0]["edits"][0];
    assert_eq!(edit["file"], "j.scale");
    assert_eq!(edit["replacement"], "2..5");
    assert_eq!(edit["byte_start"], d["byte_start"]);
    assert_eq!(edit["byte_end"], d["byte_end"]);
    assert_eq!(edit["start"]["line"], 4);
    assert_eq!(edit["start"]["column"], 14);
    assert_eq!(edit["end"]["column"], 18);
    assert!(fixes[0]["message"].as_str().unwrap().contains("2..5"));
    assert!(d.get("hidden").is_none(), "only summaries carry `hidden`");

    // The human renderer shows the same fix as a suggestion line.
    let out = scalec()
        .args(["check", "--color=never"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("= suggestion: replace `5..2` with `2..5`"),
        "{stderr}"
    );
}

#[test]
fn control_characters_in_a_spec_never_reach_the_terminal() {
    let dir = tmp("escapes");
    let file = dir.join("evil.scale");
    // Retitle the terminal, clear the screen, a C1 CSI and a bidi override,
    // in a name the checker echoes and in the source line it shows.
    std::fs::write(
        &file,
        "app a { owner = \"x\" }\nservice s {\n  image = \"i:1\"\n  budget = b\u{1b}]0;pwned\u{7}x\u{1b}[2J\n}\n// \u{9b}31m \u{202e}gnp.exe\nservise t\u{1b}[2J { }\n",
    )
    .unwrap();
    for color in ["never", "always"] {
        let out = scalec()
            .args(["check", &format!("--color={color}")])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if color == "never" {
            assert!(!out.stderr.contains(&0x1b), "{stderr}");
            assert!(stderr.contains("\\u{1b}]0;pwned\\u{7}"), "{stderr}");
            assert!(stderr.contains("\\u{1b}[2J"), "{stderr}");
        } else {
            // Colour is the renderer's own SGR sequences, nothing else.
            assert!(!stderr.contains("\u{1b}]"), "{stderr}");
            assert!(!stderr.contains("\u{1b}[2J"), "{stderr}");
        }
        assert!(!stderr.contains('\u{7}'), "{stderr}");
        assert!(!stderr.contains('\u{9b}'), "{stderr}");
        assert!(!stderr.contains('\u{202e}'), "{stderr}");
    }
    // JSON keeps the text exact, escaped as JSON escapes it.
    let out = scalec()
        .args(["check", "--message-format", "json"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.stdout.contains(&0x1b));
}

#[test]
fn repeated_diagnostics_are_capped_per_code() {
    let dir = tmp("cap");
    let file = dir.join("many.scale");
    let mut text = String::from("app a { owner = \"x\" }\n");
    for i in 0..2500 {
        text.push_str(&format!("budget b{i} {{ p99 = 100ms }}\n"));
    }
    text.push_str("service s { image = \"i:1\"  cpu = 250m  memory = 256Mi  port = 0 }\n");
    std::fs::write(&file, &text).unwrap();
    let out = scalec()
        .args(["check", "--message-format", "json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let unused: Vec<_> = lines.iter().filter(|d| d["code"] == "S0103").collect();
    assert_eq!(unused.len(), 101, "100 kept and one summary");
    let summary = unused.last().unwrap();
    assert_eq!(summary["hidden"], 2400);
    assert_eq!(summary["severity"], "warning");
    assert!(summary["message"]
        .as_str()
        .unwrap()
        .contains("2400 more S0103"));
    // The other code is not crowded out.
    assert!(lines.iter().any(|d| d["code"] == "S0204"), "{stdout}");

    let out = scalec()
        .args(["check", "--color=never"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .trim_end()
            .ends_with("1 error, 2500 warnings (2400 not shown)"),
        "{}",
        &stderr[stderr.len().saturating_sub(400)..]
    );
}

#[test]
fn explain_prints_every_code() {
    let (ok, list) = run(scalec().args(["explain", "--list"]));
    assert!(ok);
    let codes: Vec<&str> = list
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert!(codes.len() >= 40, "{list}");
    for code in codes {
        let (ok, page) = run(scalec().args(["explain", code]));
        assert!(ok, "explain {code}");
        assert!(page.starts_with(&format!("# {code}")), "{code}: {page}");
        assert!(!page.contains("TODO"), "{code} has no explanation yet");
        assert!(page.contains("```scale"), "{code} has no example");
    }
    let out = scalec().args(["explain", "S9999"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn build_is_deterministic_and_headed() {
    let a = tmp("det-a").join("out");
    let b = tmp("det-b").join("out");
    for out in [&a, &b] {
        let (ok, text) = run(scalec()
            .arg("build")
            .arg(triage())
            .arg("-o")
            .arg(out)
            .args(["--emit", "ir"]));
        assert!(ok, "{text}");
    }
    let ta = read_tree(&a);
    assert_eq!(ta, read_tree(&b), "two builds differ");
    assert!(ta.iter().any(|(p, _)| p == "ir.json"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&ta.iter().find(|(p, _)| p == "manifest.json").unwrap().1).unwrap();
    assert_eq!(
        manifest["generated"]["compiler"],
        format!("scalec {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(manifest["generated"]["generator"], "appforge@3.2.1");
    assert_eq!(manifest["generated"]["requires"], "0.1");
    assert!(manifest["generated"]["input_hash"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    // Every listed artifact's hash matches the file.
    use sha2::Digest;
    for art in manifest["artifacts"].as_array().unwrap() {
        let path = art["path"].as_str().unwrap();
        let bytes = &ta.iter().find(|(p, _)| p == path).unwrap().1;
        let hex: String = sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(art["sha256"], hex, "{path}");
    }
    // Every artifact other than JSON starts with the header comment.
    for (path, bytes) in &ta {
        if !path.ends_with(".json") {
            let text = String::from_utf8_lossy(bytes);
            assert!(text.contains("Generated by scalec"), "{path} has no header");
            assert!(
                text.contains("generator: appforge@3.2.1"),
                "{path} lacks the generator pin"
            );
            assert!(
                text.contains("requires: scalec 0.1"),
                "{path} lacks the compiler pin"
            );
        }
    }
}

#[test]
fn drift_gate_and_atomic_failure() {
    let root = tmp("drift");
    let spec_dir = root.join("spec");
    std::fs::create_dir_all(&spec_dir).unwrap();
    let spec = spec_dir.join("app.scale");
    std::fs::copy(triage().join("triage.scale"), &spec).unwrap();
    copy_triage_assets(&spec_dir);
    let out = root.join("out");
    let (ok, text) = run(scalec()
        .arg("build")
        .arg(&spec)
        .arg("-o")
        .arg(&out)
        .args(["--emit", "ir"]));
    assert!(ok, "{text}");
    let (ok, text) = run(scalec()
        .arg("build")
        .arg(&spec)
        .arg("-o")
        .arg(&out)
        .args(["--emit", "ir", "--check"]));
    assert!(ok, "fresh output is not stale: {text}");

    // A change to the spec makes the folder stale: --check shows a diff and writes nothing.
    let before = read_tree(&out);
    let changed = std::fs::read_to_string(&spec)
        .unwrap()
        .replace("p99 = 900ms", "p99 = 950ms");
    std::fs::write(&spec, changed).unwrap();
    let o = scalec()
        .arg("build")
        .arg(&spec)
        .arg("-o")
        .arg(&out)
        .args(["--emit", "ir", "--check"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let diff = String::from_utf8_lossy(&o.stdout);
    assert!(
        diff.contains("--- a/ir.json") && diff.contains("+++ b/ir.json"),
        "{diff}"
    );
    assert!(
        diff.contains("-        \"p99_ms\": 900.0,")
            && diff.contains("+        \"p99_ms\": 950.0,"),
        "{diff}"
    );
    assert_eq!(read_tree(&out), before, "--check wrote something");

    // A spec with an error leaves the previous output exactly as it was.
    std::fs::write(&spec, "app broken { owner = 1 }\n").unwrap();
    let o = scalec()
        .arg("build")
        .arg(&spec)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(read_tree(&out), before, "a failed build touched the output");

    // A folder scalec did not write is never replaced.
    let foreign = root.join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let o = scalec()
        .arg("build")
        .arg(triage())
        .arg("-o")
        .arg(&foreign)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(foreign.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn compiler_pin_is_enforced() {
    let dir = tmp("pin");
    let file = dir.join("pin.scale");
    std::fs::write(&file, "app a { owner = \"x\"  scalec = \">=9.0\" }\n").unwrap();
    let o = scalec()
        .arg("check")
        .arg(&file)
        .arg("--color=never")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("S1001")
            && err.contains(&format!("this is scalec {}", env!("CARGO_PKG_VERSION"))),
        "{err}"
    );
}

#[test]
fn missing_input_is_a_usage_error() {
    let o = scalec()
        .args(["check", "/nonexistent/x.scale"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such file"));
}

#[test]
fn several_inputs_form_one_project_rooted_where_they_meet() {
    let root = tmp("multi");
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::create_dir_all(root.join("b")).unwrap();
    std::fs::write(root.join("a/main.scale"), "app x { owner = \"o\" }\n").unwrap();
    std::fs::write(
        root.join("b/svc.scale"),
        "use \"lib.scale\"\nservice s { image = \"i:1\"  budget = shared }\n",
    )
    .unwrap();
    std::fs::write(root.join("b/lib.scale"), "budget shared { p99 = 1s }\n").unwrap();
    let (ok, text) =
        run(scalec()
            .current_dir(&root)
            .args(["check", "a/main.scale", "b/svc.scale"]));
    assert!(ok, "{text}");
    // A name from the other file resolves; a missing one is reported with its path.
    std::fs::write(
        root.join("b/svc.scale"),
        "service s { image = \"i:1\"  budget = nope }\n",
    )
    .unwrap();
    let o = scalec()
        .current_dir(&root)
        .args(["check", "--color=never", "a/main.scale", "b/svc.scale"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("b/svc.scale:1:"));
}

/// Issue 5.1: `scalec build out/spec.scale -o out` exited 0 and deleted
/// `out/spec.scale`. The writer never deletes what it did not write.
#[test]
fn a_build_never_deletes_its_own_input() {
    let dir = tmp("input-in-output");
    let out = dir.join("out");
    let first = scalec()
        .arg("build")
        .arg(triage())
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(first.status.success(), "{first:?}");
    let spec = out.join("spec.scale");
    std::fs::copy(triage().join("triage.scale"), &spec).unwrap();
    copy_triage_assets(&out);
    let before = read_tree(&out);
    let second = scalec()
        .arg("build")
        .arg(&spec)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("spec.scale"), "names the file: {stderr}");
    assert_eq!(read_tree(&out), before, "the refused build changed nothing");
}

/// Issue 5.4 and 5.5: a byte-order mark is skipped (check and fmt), and a
/// file that is not UTF-8 is a diagnostic with a code and the line:column
/// of its first bad byte, not "stream did not contain valid UTF-8".
#[test]
fn byte_order_mark_and_invalid_utf8() {
    let dir = tmp("encoding");
    let bom = dir.join("bom.scale");
    std::fs::write(&bom, "\u{FEFF}app shop { owner = \"team\" }\n").unwrap();
    let (ok, text) = run(scalec().arg("check").arg(&bom));
    assert!(ok, "{text}");
    let (ok, text) = run(scalec().arg("fmt").arg(&bom));
    assert!(ok, "{text}");
    assert_eq!(
        std::fs::read_to_string(&bom).unwrap(),
        "app shop { owner = \"team\" }\n",
        "fmt drops the mark"
    );

    let bad = dir.join("bad.scale");
    std::fs::write(&bad, b"app shop {\n  owner = \"caf\xE9\"\n}\n").unwrap();
    let out = scalec()
        .args(["check", "--color=never"])
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error[S0118]"), "{stderr}");
    assert!(stderr.contains("bad.scale:2:15"), "{stderr}");
    let out = scalec().arg("fmt").arg(&bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("S0118") && stderr.contains(":2:15"),
        "{stderr}"
    );
}

/// Issue 5, path safety: `use` cannot leave the project root through `..`,
/// an absolute path, or a link; each is S0108 and names the way out.
#[test]
fn imports_cannot_escape_the_root() {
    let dir = tmp("escape");
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(dir.join("outside.scale"), "budget secret { p99 = 1s }\n").unwrap();
    let outside = dir.join("outside.scale");
    std::os::unix::fs::symlink(&outside, project.join("link.scale")).unwrap();
    for (using, says) in [
        ("use \"../outside.scale\"", "leaves the project root"),
        (
            &format!("use \"{}\"", outside.display()) as &str,
            "leaves the project root",
        ),
        ("use \"link.scale\"", "through a link"),
    ] {
        let main = project.join("main.scale");
        std::fs::write(&main, format!("{using}\napp shop {{ owner = \"team\" }}\n")).unwrap();
        let out = scalec()
            .args(["check", "--color=never"])
            .arg(&main)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{using}: {stderr}");
        assert!(
            stderr.contains("S0108") && stderr.contains(says),
            "{using}: {stderr}"
        );
    }
}

/// A linked `.scale` file found while walking a folder cannot bring in a
/// file from outside the project either.
#[test]
fn a_walked_folder_cannot_link_out() {
    let dir = tmp("walk-link");
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(dir.join("outside.scale"), "budget b { p99 = 1s }\n").unwrap();
    std::fs::write(
        project.join("main.scale"),
        "app shop { owner = \"team\" }\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(dir.join("outside.scale"), project.join("b.scale")).unwrap();
    let out = scalec().arg("check").arg(&project).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("b.scale") && stderr.contains("outside the project root"),
        "{stderr}"
    );
}

/// Inode and modification time of every file below `dir`, by path.
fn stamps(dir: &Path) -> std::collections::BTreeMap<String, (u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, (m.ino(), m.modified().unwrap()));
            }
        }
    }
    out
}

/// A rebuild after one service changed touches only that service's files
/// (and the manifest): every other file keeps its inode and mtime.
#[test]
fn a_rebuild_touches_only_what_changed() {
    let dir = tmp("rebuild-unchanged");
    let spec = dir.join("triage.scale");
    let text = std::fs::read_to_string(triage().join("triage.scale")).unwrap();
    std::fs::write(&spec, &text).unwrap();
    copy_triage_assets(&dir);
    let out = dir.join("out");
    let build = || {
        let o = scalec()
            .arg("build")
            .arg(&spec)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    build();
    let before_bytes: std::collections::BTreeMap<String, Vec<u8>> =
        read_tree(&out).into_iter().collect();
    let before = stamps(&out);
    // Let a rewritten file get a visibly different mtime.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let changed = text.replace(
        "ghcr.io/acme/triage-api:1.8.0",
        "ghcr.io/acme/triage-api:1.8.1",
    );
    assert_ne!(changed, text, "the example names the api image");
    std::fs::write(&spec, changed).unwrap();
    let stderr = build();
    let after_bytes: std::collections::BTreeMap<String, Vec<u8>> =
        read_tree(&out).into_iter().collect();
    let after = stamps(&out);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "the same files"
    );
    let mut rewritten = Vec::new();
    for (path, stamp) in &after {
        if before_bytes[path] == after_bytes[path] {
            assert_eq!(
                &before[path], stamp,
                "{path} did not change but was rewritten"
            );
        } else {
            rewritten.push(path.as_str());
        }
    }
    assert!(!rewritten.is_empty(), "the image change shows somewhere");
    for path in &rewritten {
        assert!(
            path.starts_with("k8s/api.") || *path == "manifest.json",
            "{path} changed, but only the api service did"
        );
    }
    assert!(
        stderr.contains(&format!("({} unchanged)", after.len() - rewritten.len())),
        "{stderr}"
    );
}

/// A build killed after moving the old tree aside leaves it in a staging
/// folder of a process that no longer runs; the next build puts it back
/// (then replaces it as usual), and removes a dead build's staging folder.
#[test]
fn a_build_recovers_what_a_killed_build_left() {
    let dir = tmp("killed-build");
    let out = dir.join("out");
    let build = || {
        scalec()
            .arg("build")
            .arg(triage())
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap()
    };
    assert!(build().status.success());
    let tree = read_tree(&out);
    // A pid that cannot be running: above Linux's pid_max limit.
    let dead = 4_194_399u32;
    let old = dir.join(format!(".out.scalec-old-{dead}"));
    let new = dir.join(format!(".out.scalec-new-{dead}"));
    std::fs::rename(&out, &old).unwrap();
    std::fs::create_dir_all(new.join("k8s")).unwrap();
    std::fs::write(new.join("k8s/half.yaml"), "half").unwrap();
    let o = build();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(read_tree(&out), tree);
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["out"], "no staging folder or lock is left");
}

/// Review finding: an SLO named `observe_drift` took the name of the
/// `observe` block's PrometheusRule, and the build failed with "generated
/// twice". Each now has its own object.
#[test]
fn an_slo_named_like_the_drift_rule_builds() {
    let dir = tmp("observe-drift");
    let spec = std::fs::read_to_string(triage().join("triage.scale"))
        .unwrap()
        .replace("slo search_latency ", "slo observe_drift ");
    assert!(spec.contains("slo observe_drift "));
    std::fs::write(dir.join("t.scale"), spec).unwrap();
    copy_triage_assets(&dir);
    let out = dir.join("out");
    let (ok, text) = run(scalec().arg("build").arg(&dir).arg("-o").arg(&out));
    assert!(ok, "{text}");
    for f in [
        "k8s/observe-drift.prometheusrule.yaml",
        "k8s/observe-drift-2.prometheusrule.yaml",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
}

/// A diagnostic names its file as the user reaches it from where scalec
/// runs, so a terminal or editor can open it.
#[test]
fn diagnostic_paths_are_relative_to_the_current_folder() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cwd-paths");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("specs/shop")).unwrap();
    std::fs::create_dir_all(dir.join("elsewhere")).unwrap();
    std::fs::write(
        dir.join("specs/shop/api.scale"),
        "app shop { owner = \"t\" }\nservice api { image = \"a:1\"  replicas = 2-10 }\n",
    )
    .unwrap();
    for (cwd, arg, shown) in [
        ("", "specs/shop", "specs/shop/api.scale:2:"),
        ("specs", "shop/api.scale", "shop/api.scale:2:"),
        ("elsewhere", "../specs/shop", "../specs/shop/api.scale:2:"),
    ] {
        let out = support::scalec()
            .current_dir(dir.join(cwd))
            .args(["check", arg, "--color", "never"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(shown), "from {cwd:?} with {arg}: {err}");
        let json = support::scalec()
            .current_dir(dir.join(cwd))
            .args(["check", arg, "--message-format", "json"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&json.stdout);
        let file = shown.trim_end_matches(":2:");
        assert!(text.contains(&format!("\"file\":\"{file}\"")), "{text}");
    }
}

/// `build --check --message-format json`: one record per file that would
/// change, then a summary; exit 1 on drift, 0 when up to date.
#[test]
fn check_drift_as_json_records() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("drift-json");
    let _ = std::fs::remove_dir_all(&dir);
    let spec = support::repo_root().join("examples/shop");
    let out = dir.join("out");
    let st = support::scalec()
        .arg("build")
        .arg(&spec)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let run = || {
        support::scalec()
            .arg("build")
            .arg(&spec)
            .arg("-o")
            .arg(&out)
            .args(["--check", "--message-format", "json"])
            .output()
            .unwrap()
    };
    let clean = run();
    assert_eq!(clean.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&clean.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["kind"], "summary");
    assert_eq!(lines[0]["up_to_date"], true);

    std::fs::write(out.join("k8s/namespace.yaml"), "edited\n").unwrap();
    std::fs::remove_file(out.join("k8s/gateway.service.yaml")).unwrap();
    let drift = run();
    assert_eq!(drift.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&drift.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let changes: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l["kind"] == "drift")
        .map(|l| (l["change"].as_str().unwrap(), l["path"].as_str().unwrap()))
        .collect();
    assert!(
        changes.contains(&("changed", "k8s/namespace.yaml")),
        "{changes:?}"
    );
    assert!(
        changes.contains(&("missing", "k8s/gateway.service.yaml")),
        "{changes:?}"
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["kind"], "summary");
    assert_eq!(summary["changed"], 2);
    assert!(
        lines[0]["diff"]
            .as_str()
            .is_some_and(|d| d.contains("+edited"))
            || lines[1]["diff"].is_string()
    );
}

/// A note is shown but never fails a command, `--deny-warnings` included.
#[test]
fn a_note_never_fails_a_check() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("note");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("n.scale"),
        "app shop { owner = \"t\" }\nservice api { image = \"a:1\"  cpu = 250m  memory = 256Mi  route a GET \"/a\" }\nlimits {\n  per api_key { rate = 20/s  burst = 100 }\n  edge_replicas = 2\n}\n",
    )
    .unwrap();
    let out = support::scalec()
        .current_dir(&dir)
        .args(["check", "n.scale", "--deny-warnings", "--color", "never"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("note[S1205]") && err.contains("40/s in all"),
        "{err}"
    );
    let json = support::scalec()
        .current_dir(&dir)
        .args(["check", "n.scale", "--message-format", "json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&json.stdout);
    assert!(text.contains("\"severity\":\"note\""), "{text}");
    assert_eq!(json.status.code(), Some(0));
}

/// docs/cli.md shows what `scalec targets` prints.
#[test]
fn the_cli_doc_lists_the_targets_as_printed() {
    let out = support::scalec().arg("targets").output().unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    let doc = std::fs::read_to_string(support::repo_root().join("docs/cli.md")).unwrap();
    let at = doc.find("$ scalec targets\n").expect("the targets example") + 17;
    let end = doc[at..].find("```").unwrap() + at;
    assert_eq!(
        &doc[at..end],
        printed,
        "docs/cli.md's `scalec targets` block is stale"
    );
}
