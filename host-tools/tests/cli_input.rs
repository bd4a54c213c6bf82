//! Bad input on the command line: one sentence, the character pointed at, a distinct exit code.

mod common;
use common::*;

#[test]
fn bad_hex_points_at_the_character() {
    let run = sscard(&["apdu", "00A4 04:0Z 00"]);
    assert_eq!(run.code, EXIT_BAD_INPUT, "{}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines[0],
        "sscard: argument 1 is not hex: character 10 ('Z') is not a hex digit"
    );
    assert_eq!(lines[1], "  00A4 04:0Z 00");
    assert_eq!(lines[2], "           ^");
    assert_eq!(lines[2].find('^'), lines[1].find('Z'));
    assert!(run.stdout.is_empty());
}

#[test]
fn bad_hex_in_a_later_argument_names_it() {
    let run = sscard(&["apdu", "00A4000C023F00", "00B0 0"]);
    run.assert_error_starts_with(
        EXIT_BAD_INPUT,
        "sscard: argument 2 is not hex: character 6 is a lone hex digit",
    );
}

#[test]
fn bad_hex_as_json() {
    let run = sscard(&["--json", "atr", "3B 6D 0O"]);
    assert_eq!(run.code, EXIT_BAD_INPUT);
    let error = &run.json()["error"];
    assert_eq!(error["kind"], "bad_hex");
    assert_eq!(error["exit_code"], EXIT_BAD_INPUT);
    assert_eq!(error["position"], 7);
    assert_eq!(error["argument"], 1);
}

#[test]
fn an_apdu_whose_lengths_do_not_add_up_is_refused_before_any_card_is_touched() {
    // No --card and no reader needed: the check comes first.
    let run = sscard(&["apdu", "00A4000C033F00"]);
    run.assert_error_contains(EXIT_BAD_INPUT, "do not match its data");
    let run = sscard(&["apdu", "00A4"]);
    run.assert_error_contains(EXIT_BAD_INPUT, "at least 4 bytes");
}

#[test]
fn the_design_notes_atr_is_analysed() {
    let run = sscard(&["atr", "3B 6D 00 00 00 81 54 4C 97 86 84 32 02 AD 93 2A 48"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("TS = 3B: direct convention"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("protocols: T=0"));
    assert!(run.stdout.contains("9600 bit/s at 3.5712 MHz"));
    assert!(run.stdout.contains("region 3202, card bytes AD932A48"));
    assert!(run.stdout.contains("TCK: absent"));
}

#[test]
fn atr_as_json() {
    let run = sscard(&[
        "--json",
        "atr",
        "3B:FD:13:00:00:81:31:FE:15:80:73:C0:21:C0:57:59:75:62:69:4B:65:79:40",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let atr = run.json();
    assert_eq!(atr["protocols"], serde_json::json!([1]));
    assert_eq!(atr["tck"]["valid"], true);
    assert_eq!(atr["timing"]["di"], 4);
    assert_eq!(atr["ssc"], serde_json::Value::Null);
    assert_eq!(atr["historical"], "8073C021C057597562694B6579");
}

#[test]
fn a_broken_atr_is_bad_input() {
    let run = sscard(&["atr", "3A00"]);
    assert_eq!(run.code, EXIT_BAD_INPUT);
    assert_eq!(run.stderr.trim(), "sscard: this is not an ATR: TS is 3A, but an ATR starts with 3B (direct convention) or 3F (inverse convention)");
}

#[test]
fn usage_errors_exit_2_and_answer_json_when_asked() {
    let run = sscard(&["apdu"]);
    assert_eq!(run.code, EXIT_USAGE);
    let run = sscard(&["--json", "frobnicate"]);
    assert_eq!(run.code, EXIT_USAGE);
    assert_eq!(run.json()["error"]["kind"], "usage");
    let run = sscard(&["--reader", "0", "--card", "x.card", "readers"]);
    assert_eq!(
        run.code, EXIT_USAGE,
        "--reader and --card exclude each other"
    );
}

#[test]
fn completions_and_man_page_come_from_the_definition() {
    let run = sscard(&["completions", "bash"]);
    assert_eq!(run.code, 0);
    for word in ["sscard", "readers", "apdu", "--trace", "--timeout-ms"] {
        assert!(run.stdout.contains(word), "completion lacks {word}");
    }
    let run = sscard(&["man"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.starts_with(".ie") || run.stdout.contains(".TH sscard"),
        "{}",
        &run.stdout[..200.min(run.stdout.len())]
    );
    assert!(run.stdout.contains("readers"));
}
