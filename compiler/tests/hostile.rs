//! Hostile text in a spec: what cannot be carried safely is refused with a
//! diagnostic, and what is accepted comes out of every backend intact —
//! the YAML still parses to the same strings and promtool still reads the
//! rules.

mod support;

use scalec::project::Project;

fn check(src: &str) -> scalec::Compilation {
    scalec::check(Project::from_memory(&[("hostile.scale", src)]))
}

#[test]
fn unsafe_text_is_refused_with_a_diagnostic() {
    let cases = [
        (r#"route r GET "/x\"; rm -rf /" { }"#, "S0211"),
        (r#"route r GET "/x\n/y" { }"#, "S0211"),
        (r#"route r GET "/a/../../etc" { }"#, "S0211"),
        (
            r#"autoscale on queue_depth("q\"}) or vector(1) #") target 10"#,
            "S0210",
        ),
    ];
    for (item, code) in cases {
        let src = format!(
            "app a {{ owner = \"x\" }}\nservice s {{\n  image = \"i:1\"\n  cpu = 1\n  replicas = 1..2\n  {item}\n}}\n"
        );
        let c = check(&src);
        let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert!(codes.contains(&code), "{item}: {codes:?}");
        assert!(c.ir.is_none(), "{item} must not reach a backend");
    }
    for (field, value) in [
        ("owner", "\"line\\nbreak\""),
        ("region", "\"bidi\u{202E}override\""),
        ("owner", "\"sep\u{2028}arator\""),
    ] {
        let c = check(&format!("app a {{ {field} = {value} }}\n"));
        assert!(
            c.diagnostics.iter().any(|d| d.code.as_str() == "S0209"),
            "{field} = {value}"
        );
    }
    let c = check("app a { owner = \"x\" }\nservice s { image = \"evil image:1\" }\n");
    assert!(c.diagnostics.iter().any(|d| d.code.as_str() == "S0212"));
}

#[test]
fn accepted_text_survives_every_backend() {
    // Quotes, colons, hashes, braces and non-ASCII: all legal in these fields.
    let owner = r#"team "core": #1 {ops} — ünïcode"#;
    let generator = r#"gen"x: #y@1.0 */"#;
    let src = format!(
        r#"app a {{ owner = "{}"  generator = "{}"  scalec = "0.1" }}
service s_1 {{
  image = "reg.example/s:1"
  cpu = 500m
  replicas = 1..3
  autoscale on queue_depth("q.v-1") target 10
  route get_one GET "/v1/items/{{id}}/~x" {{ budget {{ p99 = 400ms }} }}
}}
slo s_avail {{ service = s_1  objective = 99.5%  sli = errors(status >= 500) / requests }}
slo s_lat {{ service = s_1.get_one  objective = 99%  sli = latency < 500ms }}
"#,
        owner.replace('"', "\\\""),
        generator.replace('"', "\\\"")
    );
    let c = check(&src);
    assert!(
        !c.has_errors(),
        "{}",
        scalec::diagnostics::render(&c.project.sources, &c.diagnostics, false)
    );
    let ir = c.ir.as_ref().unwrap();
    assert_eq!(ir.app.owner.as_deref(), Some(owner));
    let arts = scalec::emit(ir, &c.meta(), &["k8s", "prometheus", "ir"]).unwrap();
    let dir = std::env::temp_dir().join(format!("scalec-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    scalec::output::write(&dir, &arts, &[]).unwrap();
    for a in &arts {
        if a.path.ends_with(".yaml") || a.path.ends_with(".yml") {
            // Well-formed YAML whose comment header hides nothing: the first
            // non-comment line starts the document.
            let v: yaml_serde::Value = yaml_serde::from_str(&a.contents)
                .unwrap_or_else(|e| panic!("{} is not YAML: {e}", a.path));
            assert!(!v.is_null(), "{} parsed to nothing", a.path);
            let header: Vec<&str> = a
                .contents
                .lines()
                .take_while(|l| l.starts_with('#'))
                .collect();
            assert_eq!(header.len(), 3, "{}: {header:?}", a.path);
        }
    }
    let route_rule = arts
        .iter()
        .find(|a| a.path == "prometheus/s_lat.rules.yml")
        .expect("latency rules");
    assert!(route_rule.contents.contains("/v1/items/{id}/~x"));
    if let Some(promtool) = support::tool("promtool") {
        for a in arts.iter().filter(|a| a.path.ends_with(".rules.yml")) {
            let (ok, out) = support::run(
                std::process::Command::new(&promtool)
                    .args(["check", "rules"])
                    .arg(dir.join(&a.path)),
            );
            assert!(ok, "{}: {out}", a.path);
        }
        for a in arts.iter().filter(|a| a.path.ends_with(".rules.test.yml")) {
            let (ok, out) = support::run(
                std::process::Command::new(&promtool)
                    .args(["test", "rules"])
                    .arg(a.path.rsplit('/').next().unwrap())
                    .current_dir(dir.join("prometheus")),
            );
            assert!(ok, "{}: {out}", a.path);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
