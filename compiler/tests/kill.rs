//! A build killed with SIGKILL at any point leaves the output folder exactly
//! as it was before or exactly as the finished build would, never a mix; and
//! the next build leaves no litter (staging folders of dead builds) beside
//! the output.

mod support;
use support::tree;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::scalec;

/// `n` services, each with an image, a replica range, a CPU request, one
/// route and one availability SLO; `version` changes every service's image.
fn spec(n: usize, version: u32) -> String {
    let mut s = String::from("app shop { owner = \"team\" }\n\n");
    for i in 0..n {
        s.push_str(&format!(
            "service svc{i} {{\n  image = \"ghcr.io/acme/svc{i}:{version}.0\"\n  replicas = 2..6\n  cpu = 250m\n  route get GET \"/v1/svc{i}\" {{ budget {{ p50 = 50ms  p95 = 150ms  p99 = 300ms }} }}\n}}\n\nslo svc{i}_availability {{\n  service = svc{i}\n  objective = 99.9%\n  sli = errors(status >= 500) / requests\n}}\n\n"
        ));
    }
    s
}

fn build(spec_dir: &Path, out: &Path) -> std::process::Command {
    let mut cmd = scalec();
    cmd.arg("build")
        .arg(spec_dir)
        .arg("-o")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

/// What sits beside the output folder, other than the spec and the output.
fn litter(parent: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "out" && n != "spec")
        .collect();
    names.sort();
    names
}

#[test]
fn a_killed_build_leaves_before_or_after_and_no_litter() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kill");
    let _ = std::fs::remove_dir_all(&root);
    let spec_dir = root.join("spec");
    let out: PathBuf = root.join("out");
    std::fs::create_dir_all(&spec_dir).unwrap();
    let services = 150;

    // The two states the folder may ever be in.
    let mut trees = Vec::new();
    for version in [1, 2] {
        std::fs::write(spec_dir.join("shop.scale"), spec(services, version)).unwrap();
        let started = Instant::now();
        assert!(build(&spec_dir, &out).status().unwrap().success());
        trees.push((tree(&out), started.elapsed()));
    }
    let full = trees[1].1.max(Duration::from_millis(20));
    assert_eq!(trees[0].0.len(), trees[1].0.len());
    assert_ne!(trees[0].0, trees[1].0);

    // Kill builds at points spread over a whole build, alternating versions.
    let points = 24;
    let (mut before, mut after) = (0, 0);
    let mut version = 1; // the folder holds version 2 now
    for k in 0..points {
        std::fs::write(spec_dir.join("shop.scale"), spec(services, version)).unwrap();
        let current = tree(&out);
        let mut child = build(&spec_dir, &out).spawn().unwrap();
        std::thread::sleep(full * k / points);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let now = tree(&out);
        let wanted = &trees[(version - 1) as usize].0;
        if now == current {
            before += 1;
        } else if &now == wanted {
            after += 1;
            version = 3 - version;
        } else {
            let mixed: Vec<&String> = now
                .iter()
                .filter(|(p, b)| current.get(*p) != Some(b))
                .map(|(p, _)| p)
                .take(5)
                .collect();
            panic!("kill point {k}/{points}: the output is a mix; changed: {mixed:?}");
        }
    }
    eprintln!("{points} kills over {full:?}: {before} left the old output, {after} the new one");

    // A finished build cleans up after the killed ones.
    assert!(build(&spec_dir, &out).status().unwrap().success());
    assert_eq!(
        litter(&root),
        Vec::<String>::new(),
        "staging folders of killed builds were left beside the output"
    );
}

/// The same, at exact points: the build aborts (as SIGKILL would stop it)
/// after the first staged file, half-way, after the last, just before the
/// swap and just after it. Each time the folder holds exactly the old tree
/// or exactly the new one, and the next build cleans up after the dead one.
#[test]
fn a_build_dead_at_each_step_leaves_before_or_after() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("crash-points");
    let _ = std::fs::remove_dir_all(&root);
    let spec_dir = root.join("spec");
    let out: PathBuf = root.join("out");
    std::fs::create_dir_all(&spec_dir).unwrap();
    let services = 20;
    let mut trees = Vec::new();
    for version in [1, 2] {
        std::fs::write(spec_dir.join("shop.scale"), spec(services, version)).unwrap();
        assert!(build(&spec_dir, &out).status().unwrap().success());
        trees.push(tree(&out));
    }
    let files = trees[1].len();
    let mut version: u32 = 1; // the folder holds version 2
    for (point, finished) in [
        ("staged:1".to_string(), false),
        (format!("staged:{}", files / 2), false),
        (format!("staged:{files}"), false),
        ("before-swap".to_string(), false),
        ("after-swap".to_string(), true),
    ] {
        std::fs::write(spec_dir.join("shop.scale"), spec(services, version)).unwrap();
        let before = tree(&out);
        let status = build(&spec_dir, &out)
            .env("SCALEC_TEST_CRASH_AT", &point)
            .status()
            .unwrap();
        assert!(!status.success(), "{point}: the build was meant to die");
        let now = tree(&out);
        let wanted = &trees[(version - 1) as usize];
        if finished {
            assert_eq!(
                &now, wanted,
                "{point}: the swap happened, the new tree is in place"
            );
            version = 3 - version;
        } else {
            assert_eq!(now, before, "{point}: the old tree is untouched");
        }
        assert!(
            !litter(&root).is_empty(),
            "{point}: a dead build leaves its staging folder or lock"
        );
        // The next build runs, finds the dead build's leftovers, and leaves none.
        std::fs::write(spec_dir.join("shop.scale"), spec(services, version)).unwrap();
        assert!(
            build(&spec_dir, &out).status().unwrap().success(),
            "{point}"
        );
        assert_eq!(&tree(&out), &trees[(version - 1) as usize], "{point}");
        assert_eq!(litter(&root), Vec::<String>::new(), "{point}: litter");
        version = 3 - version;
    }
}
