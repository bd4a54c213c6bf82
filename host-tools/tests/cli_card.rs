//! Commands against a simulated card in an image file (--card): exchanges, persistence, refusals,
//! damaged images and traces.

mod common;
use common::*;

/// A demo card image in a fresh test directory `name`, and the image's path.
fn demo_card_in(name: &str) -> (TestDir, String) {
    let dir = TestDir::new(name);
    let card = demo_image(dir.path()).to_str().unwrap().to_owned();
    (dir, card)
}

/// `sscard --card card --trace trace apdu args...`.
fn apdus_traced(card: &str, trace: &std::path::Path, args: &[&str]) -> Run {
    let mut all = vec!["--card", card, "--trace", trace.to_str().unwrap(), "apdu"];
    all.extend_from_slice(args);
    sscard(&all)
}

#[test]
fn apdu_reads_a_record_from_the_image() {
    let (_dir, card) = demo_card_in("cli-read");
    // EF05 record 7: the card number.
    let run = sscard(&["--card", &card, "apdu", SELECT_SSSE, "00B2072C00"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("(SELECT)"), "{}", run.stdout);
    assert!(
        run.stdout.contains("< 07 09 58 30 30 30 30 30 30 31 39"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("< 9000 success"));
}

#[test]
fn apdu_json_lists_every_exchange() {
    let (_dir, card) = demo_card_in("cli-json");
    let run = sscard(&[
        "--json",
        "--card",
        &card,
        "apdu",
        SELECT_SSSE,
        "00B2 0A 30 00",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.json();
    let exchanges = out["exchanges"].as_array().unwrap();
    assert_eq!(exchanges.len(), 2);
    assert_eq!(exchanges[1]["label"], "READ RECORD");
    assert_eq!(exchanges[1]["data"], "0A0131");
    assert_eq!(exchanges[1]["sw"], "9000");
    assert!(out["reader"].as_str().unwrap().starts_with("simulator"));
}

#[test]
fn changes_persist_between_runs() {
    let (dir, card) = demo_card_in("cli-persist");
    let run = sscard(&["--card", &card, "apdu", SELECT_SSSE, "00DC0A30 03 0A0132"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = sscard(&["--json", "--card", &card, "apdu", SELECT_SSSE, "00B20A3000"]);
    assert_eq!(run.json()["exchanges"][1]["data"], "0A0132");
    assert!(!dir.path().join("demo.card.tmp").exists());
}

#[test]
fn a_refused_apdu_stops_the_run_with_its_status_word() {
    let (_dir, card) = demo_card_in("cli-refused");
    let run = sscard(&["--card", &card, "apdu", "00A4000C02EEEE", "00A4000C023F00"]);
    assert_eq!(run.code, EXIT_REFUSED);
    assert_eq!(
        run.stderr.trim(),
        "sscard: the card refused command 1 (SELECT): 6A82 file not found"
    );
    assert!(
        !run.stdout.contains("3F 00"),
        "stopped after the refusal: {}",
        run.stdout
    );

    let run = sscard(&[
        "--json",
        "--card",
        &card,
        "apdu",
        "--keep-going",
        "00A4000C02EEEE",
        "00A4000C023F00",
    ]);
    assert_eq!(run.code, EXIT_REFUSED);
    let out = run.json();
    assert_eq!(out["exchanges"].as_array().unwrap().len(), 2);
    assert_eq!(out["exchanges"][0]["meaning"], "file not found");
    assert_eq!(out["error"]["kind"], "card_refused");
    assert_eq!(out["error"]["exit_code"], EXIT_REFUSED);
}

#[test]
fn a_damaged_image_is_refused() {
    let dir = TestDir::new("cli-damaged");
    let card = demo_image(dir.path());
    let mut bytes = std::fs::read(&card).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 0xFF;
    std::fs::write(&card, &bytes).unwrap();
    let run = sscard(&["--card", card.to_str().unwrap(), "apdu", "00A4000C023F00"]);
    run.assert_error_contains(
        EXIT_IMAGE_DAMAGED,
        "is damaged: its checksum does not match its contents",
    );
    assert_eq!(
        std::fs::read(&card).unwrap(),
        bytes,
        "a damaged image is left as it was"
    );

    std::fs::write(&card, b"not a card").unwrap();
    let run = sscard(&["--json", "--card", card.to_str().unwrap(), "atr"]);
    assert_eq!(run.code, EXIT_IMAGE_DAMAGED);
    assert_eq!(run.json()["error"]["kind"], "image_damaged");
}

#[test]
fn a_missing_image_is_an_io_error() {
    let dir = TestDir::new("cli-missing");
    let missing = dir.path().join("missing.card");
    let run = sscard(&["--card", missing.to_str().unwrap(), "atr"]);
    run.assert_error_starts_with(EXIT_IO, "sscard: could not read or write the card image");
}

#[test]
fn atr_and_readers_of_the_simulated_card() {
    let (_dir, card) = demo_card_in("cli-atr");
    let run = sscard(&["--json", "--card", &card, "atr"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["ssc"]["region"], "3303");
    let run = sscard(&["--json", "--card", &card, "readers"]);
    let readers = run.json();
    assert_eq!(readers["readers"][0]["card_present"], true);
    assert!(readers["readers"][0]["atr"]
        .as_str()
        .unwrap()
        .starts_with("3B6D"));
}

#[test]
fn the_trace_has_every_exchange_and_no_pin() {
    let (dir, card) = demo_card_in("cli-trace");
    let trace = dir.path().join("trace.jsonl");
    let run = apdus_traced(
        &card,
        &trace,
        &[
            "--keep-going",
            SELECT_SSSE,
            "0020000003 987654",
            "00B2012C00",
        ],
    );
    // The demo card has no PIN: VERIFY is refused, the run goes on.
    assert_eq!(run.code, EXIT_REFUSED, "{}", run.stderr);
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(!text.contains("987654"), "the PIN leaked: {text}");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(lines[2]["label"], "VERIFY");
    assert_eq!(lines[2]["apdu"], "0020000003******");
    assert_eq!(lines[2]["redacted"], true);
    for pair in lines.chunks(2) {
        assert_eq!(pair[0]["dir"], "command");
        assert_eq!(pair[1]["dir"], "response");
        assert!(pair[1]["duration_us"].is_u64());
        assert_eq!(pair[1]["sw"].as_str().unwrap().len(), 4);
    }
    assert_eq!(lines[5]["sw"], "9000");
}

#[test]
fn an_unwritable_trace_is_an_io_error() {
    let (dir, card) = demo_card_in("cli-trace-io");
    let trace = dir.path().join("no-such-dir").join("trace.jsonl");
    let run = apdus_traced(&card, &trace, &["00A4000C023F00"]);
    run.assert_error_starts_with(EXIT_IO, "sscard: could not create");
}
