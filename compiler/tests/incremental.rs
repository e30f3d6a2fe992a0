//! The incremental rebuild (`crate::incremental`, `output::write_units`):
//! a unit of work whose input fingerprint did not change is not rendered,
//! and its files are kept. A fingerprint that misses an input would leave
//! a stale file: each kind of input is changed here, and every rebuild
//! must equal a clean build of the same spec, byte for byte (debug builds
//! also render every kept unit and refuse to keep one that renders
//! differently). A one-service change touches only that service's files.

mod support;
use support::tree;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::{repo_root, run, scalec};

/// Every folder below `dir` (an empty folder left behind is a difference).
fn folders(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The command-line arguments of a step: `--target T`, or the step's own
/// (`--env NAME`).
fn args(targets: Option<&str>) -> Vec<&str> {
    match targets {
        Some(a) if a.starts_with("--") => a.split(' ').collect(),
        Some(t) => vec!["--target", t],
        None => vec![],
    }
}

/// `scalec build SPEC -o OUT [ARGS]` with the phase timings on; the
/// stderr.
fn build(spec: &Path, out: &Path, extra: &[&str]) -> String {
    let mut cmd = scalec();
    cmd.arg("build").arg(spec).arg("-o").arg(out).args(extra);
    // Kept units are not rendered again to be compared (debug builds do
    // by default): what the rebuild leaves on disk is the judge.
    cmd.env("SCALEC_TIMINGS", "1")
        .env("SCALEC_VERIFY_UNITS", "0");
    let (ok, text) = run(&mut cmd);
    assert!(ok, "scalec build failed:\n{text}");
    text
}

/// (units rendered, units kept) from the timing line.
fn units(stderr: &str) -> (usize, usize) {
    let line = stderr
        .lines()
        .find(|l| l.contains("units rendered"))
        .unwrap_or_else(|| panic!("no units line in:\n{stderr}"));
    let tail = &line[line.find("units rendered").unwrap()..];
    let nums: Vec<usize> = tail
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|x| x.parse().ok())
        .collect();
    (nums[0], nums[1])
}

fn replace(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the spec has no `{from}`");
    text.replacen(from, to, 1)
}

/// The flagship shop (one component: everything calls the database) and
/// four services that call nothing, each with an SLO.
fn base() -> String {
    let mut s = std::fs::read_to_string(repo_root().join("examples/shop/shop.scale")).unwrap();
    s.push_str("\nbudget fast {\n  p50 = 20ms\n  p95 = 60ms\n  p99 = 120ms\n}\n");
    for i in 0..4 {
        let budget = if i == 2 { "fast" } else { "web" };
        s.push_str(&format!(
            "\nservice solo{i} {{\n  image    = \"ghcr.io/acme/solo{i}:1.0.0\"\n  replicas = 2..{}\n  cpu      = 250m\n  route items GET \"/v1/solo{i}/items\" class read {{ budget = {budget} }}\n}}\n\nslo solo{i}_availability {{\n  service   = solo{i}\n  objective = 99.9%\n  window    = 30d\n  sli       = errors(status >= 500) / requests\n  alerts    = multiwindow\n}}\n",
            6 + i
        ));
    }
    s
}

fn scratch(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("spec")).unwrap();
    root
}

#[test]
fn every_kind_of_input_change_rebuilds_like_a_clean_build() {
    let root = scratch("incremental-inputs");
    let spec = root.join("spec/app.scale");
    let out = root.join("out");
    let mut text = base();
    std::fs::write(&spec, &text).unwrap();
    build(&spec, &out, &[]);

    type Edit = fn(&str) -> String;
    // (what changes, the edit, the targets of the build, whether every
    // unit must be rendered again)
    let steps: &[(&str, Edit, Option<&str>, bool)] = &[
        ("nothing", |t| t.to_string(), None, false),
        (
            "a field of a service that calls nothing",
            |t| replace(t, "solo1:1.0.0", "solo1:1.0.1"),
            None,
            false,
        ),
        (
            "a field of a service others call (the database's budget)",
            |t| {
                replace(
                    t,
                    "kind = postgres  budget { p95 = 20ms  p99 = 80ms }",
                    "kind = postgres  budget { p95 = 25ms  p99 = 90ms }",
                )
            },
            None,
            false,
        ),
        (
            "a field of a caller (the gateway's replicas)",
            |t| replace(t, "replicas = 3..30", "replicas = 4..32"),
            None,
            false,
        ),
        (
            "an app-wide field every object carries (the app's name)",
            |t| replace(t, "app shop {", "app store {"),
            None,
            true,
        ),
        (
            "the app's alert labels",
            |t| replace(t, "tier = \"revenue\"", "tier = \"gold\""),
            None,
            true,
        ),
        (
            "the app's rule labels",
            |t| {
                replace(
                    t,
                    "release = \"kube-prometheus-stack\"",
                    "release = \"prom\"",
                )
            },
            None,
            true,
        ),
        (
            "a user budget one isolated service uses",
            |t| replace(t, "p99 = 120ms", "p99 = 150ms"),
            None,
            true,
        ),
        (
            "a stdlib budget imported and used instead",
            |t| {
                let t = replace(
                    t,
                    "use std.budgets.{web}",
                    "use std.budgets.{web, realtime}",
                );
                replace(
                    &t,
                    "\"/v1/solo3/items\" class read { budget = web }",
                    "\"/v1/solo3/items\" class read { budget = realtime }",
                )
            },
            None,
            true,
        ),
        (
            "a stdlib budget overridden",
            |t| {
                replace(
                    t,
                    "\"/v1/solo0/items\" class read { budget = web }",
                    "\"/v1/solo0/items\" class read { budget = web { p99 = 1s } }",
                )
            },
            None,
            false,
        ),
        (
            "an SLO's objective",
            |t| {
                replace(
                    t,
                    "service   = solo3\n  objective = 99.9%",
                    "service   = solo3\n  objective = 99.5%",
                )
            },
            None,
            false,
        ),
        (
            "an isolated service starts calling another",
            |t| {
                replace(
                    t,
                    "\"/v1/solo1/items\" class read { budget = web }",
                    "\"/v1/solo1/items\" class read { budget = web }\n  calls solo3",
                )
            },
            None,
            false,
        ),
        (
            "the port of a service another calls (the caller's egress)",
            |t| {
                replace(
                    t,
                    "image    = \"ghcr.io/acme/solo3:1.0.0\"",
                    "image    = \"ghcr.io/acme/solo3:1.0.0\"\n  port     = 8081",
                )
            },
            None,
            false,
        ),
        (
            "a service is renamed",
            |t| t.replace("solo2", "solotwo"),
            None,
            true,
        ),
        (
            "a service and its SLO are removed",
            |t| {
                let start = t.find("\nservice solo0 {").unwrap();
                let end = t.find("\nservice solo1 {").unwrap();
                format!("{}{}", &t[..start], &t[end..])
            },
            None,
            true,
        ),
        (
            "another target set",
            |t| t.to_string(),
            Some("k8s,prometheus"),
            true,
        ),
        ("the default targets again", |t| t.to_string(), None, true),
        (
            "an environment (every namespace changes)",
            |t| t.to_string(),
            Some("--env pr-1"),
            true,
        ),
        ("no environment again", |t| t.to_string(), None, true),
    ];
    for (k, (what, edit, targets, all)) in steps.iter().enumerate() {
        text = edit(&text);
        std::fs::write(&spec, &text).unwrap();
        let stderr = build(&spec, &out, &args(*targets));
        let clean = root.join(format!("clean-{k}"));
        build(&spec, &clean, &args(*targets));
        let (rebuilt, wanted) = (tree(&out), tree(&clean));
        let differ: Vec<&String> = rebuilt
            .keys()
            .chain(wanted.keys())
            .filter(|p| rebuilt.get(*p) != wanted.get(*p))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .take(5)
            .collect();
        assert!(
            differ.is_empty(),
            "{what}: the rebuild differs from a clean build: {differ:?}"
        );
        assert_eq!(folders(&out), folders(&clean), "{what}: folders");
        let (rendered, kept) = units(&stderr);
        if *all {
            assert_eq!(kept, 0, "{what}: every unit is rendered again\n{stderr}");
        } else {
            assert!(kept > 0, "{what}: some units are kept\n{stderr}");
        }
        assert!(rendered + kept > 0, "{what}");
        let mut check = scalec();
        check
            .arg("build")
            .arg(&spec)
            .arg("-o")
            .arg(&out)
            .arg("--check");
        check.args(args(*targets));
        let (ok, text) = run(&mut check);
        assert!(ok, "{what}: --check after the rebuild:\n{text}");
        let _ = std::fs::remove_dir_all(&clean);
    }
}

/// The bench's spec, small: `n` services that call nothing, each with one
/// route and one SLO; `variant` changes the image of the middle one.
fn bench_spec(n: usize, variant: u32) -> String {
    let mut s = String::from("use std.budgets.{web}\nuse std.slo.{multiwindow}\n\napp bench {\n  owner = \"platform\"\n}\n");
    for i in 0..n {
        let minor = if i == n / 2 { variant } else { 0 };
        s.push_str(&format!(
            "\nservice s{i} {{\n  image    = \"ghcr.io/acme/s{i}:1.0.{minor}\"\n  replicas = 2..20\n  cpu      = 250m\n  memory   = 256Mi\n  route list GET \"/v1/s{i}/items\" class read {{ budget = web }}\n}}\n\nslo s{i}_availability {{\n  service   = s{i}\n  objective = 99.9%\n  window    = 30d\n  sli       = errors(status >= 500) / requests\n  alerts    = multiwindow\n}}\n"
        ));
    }
    s
}

/// (inode, mtime) of every file.
fn stamps(dir: &Path) -> BTreeMap<String, (u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt;
    tree(dir)
        .into_keys()
        .map(|rel| {
            let m = std::fs::metadata(dir.join(&rel)).unwrap();
            (rel, (m.ino(), m.modified().unwrap()))
        })
        .collect()
}

#[test]
fn a_one_service_rebuild_touches_only_that_services_files() {
    let root = scratch("incremental-one");
    let spec = root.join("spec/app.scale");
    let out = root.join("out");
    let n = 30;
    std::fs::write(&spec, bench_spec(n, 0)).unwrap();
    build(&spec, &out, &[]);
    // A kept file is trusted unrendered only when it is older than the
    // manifest; a file written in the manifest's own clock tick is
    // rendered again to be compared (a fifth unit, now and then, on a
    // build this small). Date the files as a larger build would have.
    let manifest_time = std::fs::metadata(out.join("manifest.json"))
        .unwrap()
        .modified()
        .unwrap();
    for rel in tree(&out).into_keys().filter(|p| p != "manifest.json") {
        std::fs::File::options()
            .write(true)
            .open(out.join(&rel))
            .unwrap()
            .set_modified(manifest_time - std::time::Duration::from_secs(2))
            .unwrap();
    }
    let before = stamps(&out);
    std::fs::write(&spec, bench_spec(n, 1)).unwrap();
    let stderr = build(&spec, &out, &[]);
    let after = stamps(&out);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    let touched: Vec<&str> = after
        .iter()
        .filter(|(p, s)| before.get(*p) != Some(s))
        .map(|(p, _)| p.as_str())
        .collect();
    let mid = n / 2;
    let deployment = format!("k8s/s{mid}.deployment.yaml");
    assert_eq!(touched, vec![deployment.as_str(), "manifest.json"]);
    // Its k8s objects, its SLO's PrometheusRule, its SLO's rule files and
    // its Gateway route and policies: four units rendered, every other
    // kept unrendered; and the proxy's three configs and each service's
    // SecurityPolicy (app-wide units of the edge's plan: an image is not
    // the edge's business) kept too.
    assert_eq!(units(&stderr), (4, 4 * n - 4 + 1 + n), "{stderr}");
    assert!(stderr.contains("moving changed files in"), "{stderr}");
    assert!(
        stderr.contains(&format!("wrote {} files", after.len())),
        "{stderr}"
    );
}

#[test]
fn a_hand_edited_file_is_found() {
    let root = scratch("incremental-edited");
    let spec = root.join("spec/app.scale");
    let out = root.join("out");
    std::fs::write(&spec, bench_spec(6, 0)).unwrap();
    build(&spec, &out, &[]);
    let clean = tree(&out);
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Same size, later time: the unit is rendered again and the file
    // restored by the next build.
    let file = out.join("k8s/s1.deployment.yaml");
    let original = std::fs::read_to_string(&file).unwrap();
    let edited = original.replacen("image: ", "image:\t", 1);
    assert_eq!(edited.len(), original.len());
    std::fs::write(&file, &edited).unwrap();
    let stderr = build(&spec, &out, &[]);
    assert_eq!(tree(&out), clean, "{stderr}");
    // Same size and its old time put back: `build` trusts it (one stat),
    // `build --check` compares every byte and finds it.
    let old_time = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::fs::write(&file, &edited).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(old_time)
        .unwrap();
    let (ok, text) = run(scalec()
        .arg("build")
        .arg(&spec)
        .arg("-o")
        .arg(&out)
        .arg("--check"));
    assert!(!ok, "--check must find the edit:\n{text}");
    assert!(text.contains("k8s/s1.deployment.yaml"), "{text}");
    // A removed file is found by `build` and put back.
    std::fs::remove_file(out.join("prometheus/s2_availability.rules.test.yml")).unwrap();
    std::fs::write(&file, &original).unwrap();
    build(&spec, &out, &[]);
    assert_eq!(tree(&out), clean);
}

/// A build killed while it moves files into the output in place leaves a
/// journal; the next build undoes the unfinished update (or, past the
/// manifest, completes nothing more) and then builds.
#[test]
fn a_killed_in_place_update_is_undone_by_the_next_build() {
    let root = scratch("incremental-killed");
    let spec = root.join("spec/app.scale");
    let out = root.join("out");
    let n = 40;
    let mut trees = Vec::new();
    for v in [1, 2] {
        std::fs::write(&spec, bench_spec(n, v)).unwrap();
        build(&spec, &out, &[]);
        trees.push(tree(&out));
    }
    let mut v: usize = 1; // the folder holds version 2
    for (point, finished) in [
        ("committed:1", false),
        ("before-swap", false),
        ("after-swap", true),
    ] {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let before = tree(&out);
        std::fs::write(&spec, bench_spec(n, v as u32)).unwrap();
        let (ok, text) = run(scalec()
            .arg("build")
            .arg(&spec)
            .arg("-o")
            .arg(&out)
            .env("SCALEC_TEST_CRASH_AT", point)
            .env("SCALEC_TIMINGS", "1"));
        assert!(!ok, "{point}: the build was meant to die:\n{text}");
        let litter: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".out.scalec-"))
            .collect();
        assert!(
            litter.iter().any(|l| l.starts_with(".out.scalec-undo-")),
            "{point}: a dead build leaves its journal: {litter:?}"
        );
        if finished {
            assert_eq!(tree(&out), trees[v - 1], "{point}: committed");
        } else {
            assert_ne!(
                tree(&out).get("manifest.json"),
                trees[v - 1].get("manifest.json")
            );
            assert_eq!(tree(&out).get("manifest.json"), before.get("manifest.json"));
        }
        // The next build undoes the unfinished update, then builds.
        let stderr = build(&spec, &out, &[]);
        assert_eq!(tree(&out), trees[v - 1], "{point}: {stderr}");
        let litter: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".out.scalec-"))
            .collect();
        assert!(litter.is_empty(), "{point}: litter {litter:?}");
        v = 3 - v;
    }
}

/// An in-place update that fails half-way (a move fails, as on a full
/// disk) puts back every file it moved, removed ones included, and says
/// the previous output was kept.
#[test]
fn a_failed_in_place_update_leaves_the_previous_output() {
    let root = scratch("incremental-failed");
    let spec = root.join("spec/app.scale");
    let out = root.join("out");
    let n = 40;
    std::fs::write(&spec, bench_spec(n, 0)).unwrap();
    build(&spec, &out, &[]);
    // The next spec changes one service and removes the last one: its
    // files are moved aside first, then the changed files come in.
    let mut next = bench_spec(n, 1);
    let last = next.find(&format!("\nservice s{} {{", n - 1)).unwrap();
    next.truncate(last);
    for at in [1, 5, 12] {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let before = tree(&out);
        std::fs::write(&spec, &next).unwrap();
        let (ok, text) = run(scalec()
            .arg("build")
            .arg(&spec)
            .arg("-o")
            .arg(&out)
            .env("SCALEC_TIMINGS", "1")
            .env("SCALEC_TEST_FAIL_AT", format!("committed:{at}")));
        assert!(!ok, "committed:{at}: the build was meant to fail:\n{text}");
        assert!(
            text.contains("test failure injected") && text.contains("the previous output was kept"),
            "{text}"
        );
        assert_eq!(
            tree(&out),
            before,
            "committed:{at}: the previous output is intact"
        );
        let litter: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".out.scalec-") && !n.ends_with("-lock"))
            .collect();
        assert!(litter.is_empty(), "committed:{at}: litter {litter:?}");
    }
    // And without the failure it goes through, in place.
    let stderr = build(&spec, &out, &[]);
    assert!(stderr.contains("moving changed files in"), "{stderr}");
    let clean = root.join("clean");
    build(&spec, &clean, &[]);
    assert_eq!(tree(&out), tree(&clean));
}

/// The names beside `out` that a build keeps there (`.out.scalec-…`).
fn beside(out: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".out.scalec"))
        .collect();
    v.sort();
    v
}

/// `scalec build` reads the previous build while it checks the spec (on a
/// thread of its own, under the folder's lock): a build that stops on
/// errors must still leave the folder, what a killed build left beside
/// it, and no lock file behind; the next good build sweeps and builds.
#[test]
fn a_build_stopped_by_errors_touches_nothing() {
    let root = scratch("incremental-stopped");
    let spec = root.join("spec/app.scale");
    let out = root.join("out");
    std::fs::write(&spec, bench_spec(3, 0)).unwrap();
    build(&spec, &out, &[]);
    let clean = tree(&out);
    assert_eq!(beside(&out), Vec::<String>::new());

    let broken = format!("{}\nservice broken {{\n  replicas = \n", bench_spec(3, 1));
    std::fs::write(&spec, &broken).unwrap();
    let stop = |what: &str| {
        let (ok, text) = run(scalec().arg("build").arg(&spec).arg("-o").arg(&out));
        assert!(!ok, "{what}: the build must stop:\n{text}");
        assert!(text.contains("was left as it was"), "{what}:\n{text}");
        assert_eq!(tree(&out), clean, "{what}");
    };
    stop("nothing beside");
    assert_eq!(beside(&out), Vec::<String>::new(), "no lock file left");

    // A killed build's staging folder (pid 4000000000 runs nowhere).
    let left = out.parent().unwrap().join(".out.scalec-new-4000000000");
    std::fs::create_dir_all(&left).unwrap();
    std::fs::write(left.join("half.yaml"), "a: 1\n").unwrap();
    stop("a killed build's folder beside");
    assert_eq!(
        beside(&out),
        vec![".out.scalec-new-4000000000".to_string()],
        "the check alone must not sweep"
    );

    std::fs::write(&spec, bench_spec(3, 1)).unwrap();
    let stderr = build(&spec, &out, &[]);
    assert_eq!(beside(&out), Vec::<String>::new(), "swept:\n{stderr}");
    std::fs::write(&spec, bench_spec(3, 0)).unwrap();
    build(&spec, &out, &[]);
    assert_eq!(tree(&out), clean);
}
