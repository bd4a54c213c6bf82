//! `sscard personalise` on the sample batch, which has good and bad records.

mod common;
use common::*;

fn batch(name: &str) -> String {
    file_structures_dir()
        .join("samples")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_batch_with_bad_records_is_refused_whole_and_writes_nothing() {
    let dir = TestDir::new("cli-perso-refused");
    let out = dir.path().join("cards");
    let run = sscard(&[
        "personalise",
        "--records",
        &batch("batch.csv"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, EXIT_BAD_RECORDS, "{}{}", run.stdout, run.stderr);
    assert!(!out.exists(), "nothing is written");
    // Each bad record is named with its field and the rule it breaks.
    assert!(
        run.stdout.contains("batch.csv line 4:issue_date: "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("batch.csv line 5:name: "),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("0 card(s) written"), "{}", run.stdout);
}

#[test]
fn allow_partial_writes_the_good_cards_and_lists_the_bad_records() {
    let dir = TestDir::new("cli-perso-partial");
    let out = dir.path().join("cards");
    let run = sscard(&[
        "--json",
        "personalise",
        "--version",
        "2.0",
        "--records",
        &batch("batch.csv"),
        "--out",
        out.to_str().unwrap(),
        "--allow-partial",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["written"].as_array().unwrap().len(), 2);
    let rejected = report["rejected"].as_array().unwrap();
    assert!(rejected
        .iter()
        .any(|r| r["record"] == "batch.csv line 4" && r["field"] == "issue_date"));
    assert!(rejected.iter().all(|r| r["record"] != "batch.csv line 2"));
    // A card written reads back as its record.
    let card = out.join("T00000028.card");
    let run = sscard(&["--json", "--card", card.to_str().unwrap(), "info"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["values"]["name"], "王测试");
    assert!(!out.join("T00000044.card").exists());
}

#[test]
fn script_writes_the_apdu_scripts_of_the_good_cards() {
    let dir = TestDir::new("cli-perso-script");
    let out = dir.path().join("scripts");
    let run = sscard(&[
        "personalise",
        "--records",
        &batch("batch.jsonl"),
        "--out",
        out.to_str().unwrap(),
        "--allow-partial",
        "--script",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let script = std::fs::read_to_string(out.join("T00000028.apdu")).unwrap();
    assert!(
        script.starts_with("# personalisation script for batch.jsonl line 1\n"),
        "{script}"
    );
    assert!(script.contains("# issue card\n80 F0 02 00"), "{script}");
    assert!(
        !out.join("T00000028.card").exists(),
        "--script alone writes no images"
    );
}
