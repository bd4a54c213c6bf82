//! `sscard layout validate|show|diff` on the shipped layouts and on broken ones.

mod common;
use common::*;

fn shipped(name: &str) -> String {
    file_structures_dir()
        .join("layouts")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_shipped_layouts_are_valid() {
    let files = [
        shipped("national.toml"),
        shipped("local/example-region-a.toml"),
        shipped("local/example-region-b.toml"),
    ];
    let mut args = vec!["layout", "validate"];
    args.extend(files.iter().map(String::as_str));
    let run = sscard(&args);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout.matches(": valid").count(), 3, "{}", run.stdout);
}

/// An extension with two mistakes, on lines 12 and 25.
const BROKEN_EXTENSION: &str = r#"[layout]
kind = "extension"
name = "broken-region"
extends = "national"
version = "3.0"
description = "two mistakes"

[[ef]]
df = "SSSE"
fid = "EF0D"
sfi = 13
structure = "linear-sideways"
zh = "地方扩展信息"
en = "local extension data"
read = "free"
update = "key:04"

[[ef.field]]
rec = 1
tag = "EA"
id = "person_id"
zh = "个人识别号"
en = "person identification number"
len = 12
encoding = "morse"
mandatory = true
"#;

#[test]
fn a_broken_layout_gets_every_problem_with_file_and_line_and_its_own_exit_code() {
    let dir = TestDir::new("cli-layout-bad");
    let bad = dir.path().join("broken.toml");
    std::fs::write(&bad, BROKEN_EXTENSION).unwrap();
    let national = shipped("national.toml");
    let run = sscard(&["layout", "validate", &national, bad.to_str().unwrap()]);
    assert_eq!(
        run.code, EXIT_INVALID_LAYOUT,
        "{}{}",
        run.stdout, run.stderr
    );
    let bad_name = bad.display().to_string();
    let problems: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with(&format!("{bad_name}:")))
        .collect();
    // Both mistakes at once, each with its line.
    assert_eq!(problems.len(), 2, "{}", run.stdout);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with(&format!("{bad_name}:12: unknown structure"))),
        "{}",
        run.stdout
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with(&format!("{bad_name}:25: unknown encoding"))),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(": valid"),
        "the good file is still reported"
    );
    assert!(
        run.stderr.contains("1 of 2 layout file(s) are invalid"),
        "{}",
        run.stderr
    );

    let run = sscard(&["--json", "layout", "validate", bad.to_str().unwrap()]);
    assert_eq!(run.code, EXIT_INVALID_LAYOUT);
    let out = run.json();
    assert_eq!(out["files"][0]["valid"], false);
    assert!(out["files"][0]["problems"][0]["line"].as_u64().unwrap() > 0);
    assert_eq!(out["error"]["kind"], "invalid_layout");
}

#[test]
fn layout_diff_names_what_3_0_changes() {
    let run = sscard(&["layout", "diff", "national:2.0", "national:3.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("--- national 2.0\n+++ national 3.0\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("~ EF SSSE/EF06 access: read free")
            && run.stdout.contains("read key:0A"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("+ DF SSSE key 0A"), "{}", run.stdout);
    let run = sscard(&[
        "--json",
        "layout",
        "diff",
        "national:3.0",
        &shipped("local/example-region-a.toml"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let changes = run.json()["changes"].as_array().unwrap().clone();
    assert!(changes
        .iter()
        .any(|c| c["change"] == "added" && c["what"].as_str().unwrap().contains("EF SSSE/EF0D")));
}

#[test]
fn layout_show_draws_the_tree() {
    let run = sscard(&["layout", "show", "--version", "2.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("MF 3F00"), "{}", run.stdout);
    assert!(run.stdout.contains("DF SSSE FID DDF1"), "{}", run.stdout);
    assert!(
        run.stdout.contains("EF 0006 SFI 6") || run.stdout.contains("EF EF06 SFI 6"),
        "{}",
        run.stdout
    );
}
