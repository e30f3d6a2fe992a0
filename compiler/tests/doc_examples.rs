//! The examples in the documentation compile as they say they do:
//! `scripts/check-doc-examples.sh` runs every marked ```` ```scale ```` block
//! of docs/*.md and docs/diagnostics/*.md through this build's `scalec`.

mod support;

use std::process::Command;
use support::{repo_root, run};

/// The ```` ```scale ```` blocks of a markdown text: (line of the opening
/// fence, first line of the block).
fn scale_blocks(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        if line.trim_end() == "```scale" {
            let first = lines.next().map(|(_, l)| l.to_string()).unwrap_or_default();
            out.push((i + 1, first));
        }
    }
    out
}

#[test]
fn doc_examples_check_as_marked() {
    let (ok, text) = run(Command::new("bash")
        .arg(repo_root().join("scripts/check-doc-examples.sh"))
        .current_dir(repo_root())
        .env("SCALEC", env!("CARGO_BIN_EXE_scalec")));
    assert!(ok, "scripts/check-doc-examples.sh failed:\n{text}");
    // The last line: "N examples checked, M failed".
    let last = text.lines().last().unwrap_or_default();
    let counts: Vec<usize> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(
        last.ends_with(" failed") && counts.len() == 2,
        "unexpected last line {last:?}:\n{text}"
    );
    let (checked, failed) = (counts[0], counts[1]);
    assert_eq!(failed, 0, "{text}");
    assert!(
        checked >= 60,
        "only {checked} examples were checked; were the markers lost?\n{text}"
    );
}

/// Every example of a diagnostic page is checked, and every page shows its
/// own code in at least one of them.
#[test]
fn every_diagnostic_page_has_checked_examples() {
    let dir = repo_root().join("docs/diagnostics");
    let mut pages = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("md") {
            continue;
        }
        pages += 1;
        let code = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let blocks = scale_blocks(&text);
        assert!(!blocks.is_empty(), "{code}.md has no ```scale block");
        for (line, first) in &blocks {
            assert!(
                first.starts_with("// check: "),
                "{code}.md:{line}: a ```scale block must start with `// check: ok` or `// check: CODES`, found {first:?}"
            );
        }
        // A markdown page is UTF-8, so it cannot hold an S0118 example;
        // tests/ui/project/invalid_utf8 has the real bytes.
        let showable = code != "S0118";
        assert!(
            !showable
                || blocks
                    .iter()
                    .any(|(_, first)| first.split_whitespace().any(|w| w == code)),
            "{code}.md: no example is marked as producing {code}"
        );
    }
    assert!(pages >= 40, "only {pages} pages in {}", dir.display());
}
