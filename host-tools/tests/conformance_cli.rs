//! `sscard conformance` as a user runs it: the whole suite on simulated cards, its reports (text,
//! JSON, JUnit), the filter, importing scripts and traces, and a card image that passes, skips with
//! reasons, or fails with exit code 20.

mod common;
use common::*;

use std::collections::BTreeSet;
use std::path::Path;

use test_vectors::{Filter, Suite};

/// Exit code of a run in which a vector failed (docs/host-tools.md).
const EXIT_CONFORMANCE_FAILED: i32 = 20;
/// Exit code of a run in which a vector was wrong itself, and the card failed nothing.
const EXIT_VECTOR_ERRORS: i32 = 21;

fn suite() -> Suite {
    Suite::builtin().unwrap_or_else(|e| panic!("the shipped suite does not load: {e}"))
}

/// How many vectors (and known answers) the filter `terms` selects in the shipped suite.
fn count(terms: &[&str]) -> usize {
    suite().count(&Filter::new(terms.iter().copied()))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// How `sscard conformance run` reports: for a person, or `--json` for programs.
enum Report {
    Text,
    Json,
}

/// `sscard [--json] --card CARD conformance run OPTIONS…`.
fn run_on_card(report: Report, card: &Path, options: &[&str]) -> Run {
    let mut args = match report {
        Report::Text => vec![],
        Report::Json => vec!["--json"],
    };
    args.extend(["--card", path(card), "conformance", "run"]);
    args.extend_from_slice(options);
    sscard(&args)
}

#[test]
fn simulated_cards_pass_the_whole_suite() {
    let total = count(&[]);
    let run = sscard(&["conformance", "run"]);
    run.assert_exit(0);
    let summary = format!("PASS: {total} passed, 0 failed, 0 errors, 0 skipped of {total}");
    assert!(run.stdout.contains(&summary), "{}", run.stdout);
}

#[test]
fn the_json_report_has_one_result_per_vector() {
    let total = count(&[]);
    let run = sscard(&["--json", "conformance", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.json();
    assert_eq!(out["summary"]["total"], total);
    assert_eq!(out["summary"]["passed"], total);
    let results = out["results"].as_array().expect("results is a list");
    assert_eq!(results.len(), total);
    assert!(results.iter().all(|r| r["verdict"] == "pass"));
    let ids: BTreeSet<&str> = results.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids.len(), total, "every result names its own vector");
}

#[test]
fn the_junit_file_is_xml_with_one_testcase_per_vector() {
    let dir = TestDir::new("conformance-junit");
    let junit = dir.path().join("results.xml");
    let run = sscard(&["conformance", "run", "--junit", path(&junit)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&junit).expect("the JUnit file is written");
    let xml = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("the JUnit file is not XML ({e}):\n{text}"));
    let root = xml.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let total = count(&[]);
    assert_eq!(root.attribute("tests"), Some(total.to_string().as_str()));
    assert_eq!(root.attribute("failures"), Some("0"));
    let cases: Vec<_> = xml
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), total);
    // Each testcase is a vector of the suite, and none is there twice.
    let listed = sscard(&["--json", "conformance", "list"]).json();
    let ids: BTreeSet<&str> = listed
        .as_array()
        .expect("list gives a JSON list")
        .iter()
        .filter_map(|v| v["id"].as_str())
        .collect();
    let names: BTreeSet<&str> = cases.iter().filter_map(|c| c.attribute("name")).collect();
    assert_eq!(names, ids);
    // A testsuite per file, its count matching its testcases.
    for file in root.children().filter(|n| n.has_tag_name("testsuite")) {
        let inside = file
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .count();
        assert_eq!(
            file.attribute("tests"),
            Some(inside.to_string().as_str()),
            "{:?}",
            file.attribute("name")
        );
    }
}

#[test]
fn the_filter_runs_only_what_it_selects() {
    let terms = ["select", "pin.block.*"];
    let run = sscard(&[
        "--json",
        "conformance",
        "run",
        "--filter",
        "select,pin.block.*",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.json();
    let results = out["results"].as_array().expect("results is a list");
    assert_eq!(results.len(), count(&terms));
    assert!(results.len() > 1);
    for r in results {
        let (id, file) = (r["id"].as_str().unwrap(), r["file"].as_str().unwrap());
        assert!(
            file == "select.toml" || id.starts_with("pin.block."),
            "{id} ({file}) is not selected"
        );
    }
}

#[test]
fn an_imported_script_and_trace_become_vectors_that_list_and_run() {
    let dir = TestDir::new("conformance-import");
    let script = dir.path().join("session.scr");
    std::fs::write(
        &script,
        format!("# SSSE, then the life cycle after a reset\n{SELECT_SSSE}\nreset\n00 CA 9F 70 01\nexit\n"),
    )
    .unwrap();
    let trace = dir.path().join("session.txt");
    std::fs::write(
        &trace,
        "> 00 A4 04 0C 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF\n\
         < 90 00 : Normal processing.\n\
         > 00 CA 9F 70 01\n\
         < 02 90 00 : Normal processing.\n",
    )
    .unwrap();
    let vectors = dir.path().join("vectors");
    std::fs::create_dir(&vectors).unwrap();
    for (file, id, extra) in [
        (&script, "imported.script", None),
        (&trace, "imported.trace", Some("--from-trace")),
    ] {
        let mut args = vec![
            "conformance",
            "import",
            path(file),
            "--id",
            id,
            "--requirement",
            "an issued card selects SSSE and reports its life cycle",
        ];
        args.extend(extra);
        let run = sscard(&args);
        assert_eq!(run.code, 0, "import {id}: {}", run.stderr);
        std::fs::write(vectors.join(format!("{id}.toml")), &run.stdout).unwrap();
    }
    // The trace's answers became exact expectations; the script's steps expect 9000.
    let trace_file = std::fs::read_to_string(vectors.join("imported.trace.toml")).unwrap();
    assert!(trace_file.contains("data = \"02\""), "{trace_file}");

    let listed = sscard(&["conformance", "list", "--suite", path(&vectors)]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    for id in ["imported.script", "imported.trace"] {
        assert!(listed.stdout.contains(id), "{id}:\n{}", listed.stdout);
    }
    let run = sscard(&["--json", "conformance", "run", "--suite", path(&vectors)]);
    run.assert_exit(0);
    assert_eq!(run.json()["summary"]["passed"], 2);
}

#[test]
fn a_card_image_passes_what_it_can_and_says_why_it_skips_the_rest() {
    let dir = TestDir::new("conformance-image");
    let card = sample_card(dir.path(), "2.0");
    for attempt in ["first", "second"] {
        // Not declared disposable: the run leaves the card as it was, so a second run passes too.
        let run = run_on_card(Report::Json, &card, &[]);
        assert_eq!(run.code, 0, "{attempt} run: {}\n{}", run.stdout, run.stderr);
        let out = run.json();
        let summary = &out["summary"];
        assert_eq!(summary["failed"], 0, "{attempt} run");
        assert_eq!(summary["errors"], 0, "{attempt} run");
        assert_eq!(summary["total"], count(&[]));
        assert!(summary["passed"].as_u64().unwrap() > 0, "{summary}");
        let results = out["results"].as_array().unwrap();
        let reasons: BTreeSet<&str> = results
            .iter()
            .filter(|r| r["verdict"] == "skip")
            .map(|r| r["reason"].as_str().expect("a skip gives its reason"))
            .collect();
        for expected in ["disposable", "cardholder", "national-3.0 card"] {
            assert!(
                reasons.iter().any(|r| r.contains(expected)),
                "no skip for {expected:?}: {reasons:?}"
            );
        }
        // What the card can show is checked, not skipped: its life cycle and its ATR.
        for id in ["data.life-cycle.issued", "atr.cold.shape"] {
            let verdict = results
                .iter()
                .find(|r| r["id"] == id)
                .map(|r| &r["verdict"]);
            assert_eq!(
                verdict.and_then(|v| v.as_str()),
                Some("pass"),
                "{id} on the image"
            );
        }
    }
}

#[test]
fn a_card_that_is_not_the_declared_holders_fails_with_exit_code_20() {
    let dir = TestDir::new("conformance-wrong-holder");
    let card = sample_card(dir.path(), "2.0");
    let mut holder = sample_holder();
    holder["name"] = "李别人".into();
    let declared = dir.path().join("holder.json");
    std::fs::write(&declared, holder.to_string()).unwrap();
    let junit = dir.path().join("results.xml");
    let run = run_on_card(
        Report::Text,
        &card,
        &[
            "--holder",
            path(&declared),
            "--filter",
            "reader",
            "--junit",
            path(&junit),
        ],
    );
    run.assert_exit(EXIT_CONFORMANCE_FAILED);
    // The vector reading the name (EF06, record 1) says what it expected and what it got.
    assert!(
        run.stdout.contains("FAIL reader.ef06.by-number"),
        "{}",
        run.stdout
    );
    let text = std::fs::read_to_string(&junit).unwrap();
    let xml = roxmltree::Document::parse(&text).expect("the JUnit file is XML");
    let failed: BTreeSet<&str> = xml
        .descendants()
        .filter(|n| n.children().any(|c| c.has_tag_name("failure")))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert!(failed.contains("reader.ef06.by-number"), "{failed:?}");
    // Vectors not about the holder's name still pass on that card.
    assert!(!failed.contains("reader.ef05.by-number"), "{failed:?}");

    // The declared holder is the card's: the same run passes.
    let right = dir.path().join("right.json");
    std::fs::write(&right, sample_holder().to_string()).unwrap();
    let run = run_on_card(
        Report::Text,
        &card,
        &["--holder", path(&right), "--filter", "reader"],
    );
    run.assert_exit(0);
}

#[test]
fn a_card_that_answers_no_vector_fails_with_exit_code_20_and_says_so() {
    // card-os's demo card is none of the vector cards a reader's card can be identified as, so
    // every vector is skipped and only the known answers (which need no card) run. Nothing about
    // the card was checked: that is no pass.
    let dir = TestDir::new("conformance-nothing-reached");
    let card = demo_image(dir.path());
    let junit = dir.path().join("results.xml");
    let run = run_on_card(Report::Text, &card, &["--junit", path(&junit)]);
    run.assert_exit(EXIT_CONFORMANCE_FAILED);
    assert!(
        run.stderr
            .contains("sscard: nothing was checked: no vector reached the card (0 of "),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("reached the card: 0 of "),
        "{}",
        run.stdout
    );
    let text = std::fs::read_to_string(&junit).unwrap();
    let xml = roxmltree::Document::parse(&text).expect("the JUnit file is XML");
    let failures: Vec<&str> = xml
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .filter_map(|n| n.attribute("message"))
        .collect();
    assert!(
        failures
            .iter()
            .any(|m| m.starts_with("nothing was checked")),
        "{failures:?}"
    );
    assert!(xml
        .descendants()
        .filter(|n| n.has_tag_name("property"))
        .any(|p| p.attribute("name") == Some("reached the card")
            && p.attribute("value") == Some("0")));

    let run = run_on_card(Report::Json, &card, &[]);
    assert_eq!(run.code, EXIT_CONFORMANCE_FAILED, "{}", run.stderr);
    let out = run.json();
    assert_eq!(out["summary"]["reached_card"], 0);
    assert_eq!(out["summary"]["failed"], 0, "nothing failed: nothing ran");
    assert_eq!(out["error"]["kind"], "nothing_checked");

    // Only the known answers selected: no vector needs the card, and the run passes.
    let run = run_on_card(Report::Text, &card, &["--filter", "crypto/sha256"]);
    run.assert_exit(0);
}

#[test]
fn a_card_image_reports_how_many_vectors_reached_it() {
    let dir = TestDir::new("conformance-reached");
    let card = sample_card(dir.path(), "2.0");
    let run = run_on_card(Report::Json, &card, &["--filter", "data,select"]);
    run.assert_exit(0);
    let summary = &run.json()["summary"];
    let reached = summary["reached_card"].as_u64().unwrap();
    assert!(reached > 0, "{summary}");
    // Every vector that passed reached the card; some others did too before they were skipped
    // (a step that needs the holder's record, which was not given).
    let passed = summary["passed"].as_u64().unwrap();
    let skipped = summary["skipped"].as_u64().unwrap();
    assert!((passed..=passed + skipped).contains(&reached), "{summary}");
}

#[test]
fn a_vector_file_wrong_at_run_time_is_named_as_a_vector_error_with_its_own_exit_code() {
    let dir = TestDir::new("conformance-vector-error");
    let vectors = dir.path().join("vectors");
    std::fs::create_dir_all(&vectors).unwrap();
    std::fs::write(
        vectors.join("wrong.toml"),
        "[suite]\ntitle = \"t\"\ncard = \"demo\"\nreference = \"r\"\n\
         [[vector]]\nid = \"wrong.length\"\nrequirement = \"SELECT MF\"\n\
         steps = [{ apdu = \"00 A4 00 0C {lc({repeat(3F, 300)})}\", sw = \"9000\" }]\n\
         [[vector]]\nid = \"right\"\nrequirement = \"SELECT MF\"\n\
         steps = [{ apdu = \"00 A4 00 0C 02 3F 00\", sw = \"9000\" }]\n",
    )
    .unwrap();
    let run = sscard(&["conformance", "run", "--suite", path(&vectors)]);
    run.assert_exit(EXIT_VECTOR_ERRORS);
    assert!(
        run.stdout
            .contains("VECTOR ERROR wrong.length (wrong.toml)"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("FAIL wrong.length"), "{}", run.stdout);
    assert!(
        run.stderr.contains("fix the vector files"),
        "{}",
        run.stderr
    );
    let json = sscard(&["--json", "conformance", "run", "--suite", path(&vectors)]);
    assert_eq!(json.code, EXIT_VECTOR_ERRORS);
    let out = json.json();
    assert_eq!(out["summary"]["vector_errors"], 1, "{}", json.stdout);
    assert_eq!(out["summary"]["passed"], 1);
}

#[test]
fn a_holder_record_in_gbk_is_read_as_gbk() {
    let dir = TestDir::new("conformance-gbk-holder");
    let card = sample_card(dir.path(), "2.0");
    let text = sample_holder().to_string();
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let holder = dir.path().join("holder.json");
    std::fs::write(&holder, &gbk).unwrap();
    let run = |encoding: &str| {
        run_on_card(
            Report::Text,
            &card,
            &[
                "--holder",
                path(&holder),
                "--encoding",
                encoding,
                "--filter",
                "reader.ef06",
            ],
        )
    };
    let auto = run("auto");
    auto.assert_exit(0);
    let utf8 = run("utf-8");
    utf8.assert_error_contains(EXIT_BAD_INPUT, "iconv -f GBK -t UTF-8");
}
