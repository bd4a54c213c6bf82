//! Nothing from a card or a file reaches the terminal raw: a card whose records hold terminal
//! commands (ESC sequences that retitle the window and clear the screen, a C1 CSI, a bidi
//! override, a carriage return) and files that hold them too; every command's stdout and stderr
//! show them as visible escapes, and --json keeps the exact text in escaped form.

mod common;

use common::*;

use host_tools::screen::is_control;

/// UPDATE RECORD 2 of SSSE/EF06 (the name: GBK, 30 bytes) on the demo card, whose files are free
/// to write: OSC "retitle the window" `1B 5D 30 3B ... 07`, "clear the screen" `1B 5B 32 4A`,
/// U+202E (right-to-left override) and U+009B (CSI) as GB18030 four-byte sequences, "1A" (with
/// the CSI: cursor up), a newline and a carriage return, then 测 and the 00 padding.
const HOSTILE_NAME: &str =
    "00DC0234 20 091E 1B5D303B70776E656407 1B5B324A 8136A731 81308337 3141 0A0D B2E2 0000";
/// UPDATE RECORD 1 of SSSE/EF06: a social security number whose check character holds, so that
/// `info` decodes the file (the demo card's own does not check).
const VALID_SSN: &str = "00DC0134 14 0812 313130313035313939303031303130303130";
/// The name as a person reads it in the text output.
const SHOWN_NAME: &str = "\\x1b]0;pwned\\x07\\x1b[2J\\u{202e}\\u{9b}1A\\n\\r测";
/// The name as the card holds it (what --json gives).
const EXACT_NAME: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202e}\u{9b}1A\n\r测";

/// No character a terminal could obey: line breaks are the output's own.
fn assert_shown_safely(what: &str, run: &Run) {
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        if let Some(c) = text.chars().find(|&c| c != '\n' && is_control(c)) {
            panic!("{what}: {stream} holds the raw character {c:?}:\n{text}");
        }
    }
}

fn hostile_card(dir: &std::path::Path) -> String {
    let card = demo_image(dir);
    let card = card.to_str().unwrap().to_owned();
    let run = sscard(&[
        "--card",
        &card,
        "apdu",
        SELECT_SSSE,
        VALID_SSN,
        HOSTILE_NAME,
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    card
}

#[test]
fn card_data_is_escaped_in_every_command_that_shows_it() {
    let dir = TestDir::new("cli-terminal-card");
    let card = hostile_card(dir.path());
    let read_name = "00B2022C00";
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("explore", vec!["explore"]),
        ("explore EF06", vec!["explore", "SSSE/EF06"]),
        ("info 2.0", vec!["info", "--version", "2.0"]),
        ("info", vec!["info"]),
        ("apdu", vec!["apdu", SELECT_SSSE, read_name]),
        ("apdu --raw", vec!["apdu", "--raw", SELECT_SSSE, read_name]),
        ("readers", vec!["readers"]),
        ("atr", vec!["atr"]),
        ("diagnose", vec!["diagnose", "--today", "20250101"]),
        (
            "conformance",
            vec!["conformance", "run", "--filter", "record"],
        ),
    ];
    for (what, args) in runs {
        let mut full = vec!["--card", card.as_str()];
        full.extend(args);
        let run = sscard(&full);
        assert_shown_safely(what, &run);
    }
    // The records are still shown, as escapes, with the Chinese text as it is.
    let explore = sscard(&["--card", &card, "explore", "SSSE/EF06"]);
    assert_eq!(explore.code, 0, "{}", explore.stderr);
    assert!(explore.stdout.contains(SHOWN_NAME), "{}", explore.stdout);
    assert!(explore.stdout.contains("姓名"), "{}", explore.stdout);
    let info = sscard(&["--card", &card, "info", "--version", "2.0"]);
    assert!(info.stdout.contains(SHOWN_NAME), "{}", info.stdout);
}

#[test]
fn json_keeps_the_exact_text_without_raw_control_characters() {
    let dir = TestDir::new("cli-terminal-json");
    let card = hostile_card(dir.path());
    for args in [
        vec!["--json", "--card", &card, "explore", "SSSE/EF06"],
        vec!["--json", "--card", &card, "info", "--version", "2.0"],
    ] {
        let run = sscard(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_shown_safely("--json", &run);
        // A program reading the JSON gets what the card holds, byte for byte.
        assert!(
            run.stdout
                .contains("\\u001b]0;pwned\\u0007\\u001b[2J\\u202e\\u009b1A\\n\\r测"),
            "{}",
            run.stdout
        );
        assert!(run.json().to_string().contains("pwned"));
    }
    let run = sscard(&["--json", "--card", &card, "info", "--version", "2.0"]);
    assert_eq!(run.json()["values"]["name"], EXACT_NAME);
}

#[test]
fn files_that_hold_terminal_commands_are_shown_escaped_in_output_and_errors() {
    let dir = TestDir::new("cli-terminal-files");
    let national =
        std::fs::read_to_string(file_structures_dir().join("layouts/national.toml")).unwrap();
    // A layout whose name field's Chinese name retitles the window: `layout show` draws it.
    let shown = national.replacen(
        "zh = \"姓名\"",
        "zh = \"姓名\\u001b]0;pwned\\u0007\\u202e\"",
        1,
    );
    let layout = dir.path().join("hostile.toml");
    std::fs::write(&layout, &shown).unwrap();
    let run = sscard(&[
        "layout",
        "show",
        layout.to_str().unwrap(),
        "--version",
        "2.0",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_shown_safely("layout show", &run);
    assert!(
        run.stdout.contains("姓名\\x1b]0;pwned\\x07\\u{202e}"),
        "{}",
        run.stdout
    );
    // The same layout with a broken encoding: `layout validate` quotes it.
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        shown.replacen("encoding = \"gbk\"", "encoding = \"gbk\\u001b[2J\"", 1),
    )
    .unwrap();
    let run = sscard(&["layout", "validate", broken.to_str().unwrap()]);
    assert_eq!(
        run.code, EXIT_INVALID_LAYOUT,
        "{}{}",
        run.stdout, run.stderr
    );
    assert_shown_safely("layout validate", &run);

    // A cardholder record whose issue date carries the commands: refused, and the refusal
    // quotes the value escaped, on stderr and in the batch's list of problems.
    let mut holder = sample_holder();
    holder["issue_date"] = "2024\u{1b}]0;pwned\u{7}\u{202e}".into();
    let record = dir.path().join("hostile.json");
    std::fs::write(&record, holder.to_string()).unwrap();
    let out = dir.path().join("x.card");
    let run = sscard(&[
        "sim",
        "new",
        "--out",
        out.to_str().unwrap(),
        "--record",
        record.to_str().unwrap(),
    ]);
    assert_eq!(run.code, EXIT_BAD_RECORDS, "{}{}", run.stdout, run.stderr);
    assert_shown_safely("sim new --record", &run);
    assert!(
        run.stderr
            .contains("2024\\x1b]0;pwned\\x07\\u{202e} is not a calendar date"),
        "{}",
        run.stderr
    );
    let batch = dir.path().join("batch.jsonl");
    std::fs::write(&batch, format!("{holder}\n")).unwrap();
    let run = sscard(&[
        "personalise",
        "--records",
        batch.to_str().unwrap(),
        "--out",
        dir.path().join("cards").to_str().unwrap(),
    ]);
    assert_eq!(run.code, EXIT_BAD_RECORDS, "{}{}", run.stdout, run.stderr);
    assert_shown_safely("personalise", &run);
    assert!(run.stdout.contains("2024\\x1b]0;pwned"), "{}", run.stdout);

    // Vector files: an id that retitles the window, quoted by the error that refuses the file;
    // a requirement with a bidi override, shown in the report of a run that fails.
    let broken_suite = dir.path().join("broken-suite");
    std::fs::create_dir(&broken_suite).unwrap();
    std::fs::write(
        broken_suite.join("a.toml"),
        "[suite]\ntitle = \"t\"\ncard = \"national-2.0\"\nreference = \"r\"\n\
         [[vector]]\nid = \"x.\\u001b]0;pwned\\u0007\"\nrequirement = \"r\"\n\
         steps = [{ apdu = \"00 CA 9F 70 01 {nope\\u001b[2J}\", sw = \"9000\" }]\n",
    )
    .unwrap();
    let run = sscard(&[
        "conformance",
        "run",
        "--suite",
        broken_suite.to_str().unwrap(),
    ]);
    assert_eq!(run.code, EXIT_BAD_INPUT, "{}{}", run.stdout, run.stderr);
    assert_shown_safely("a vector file refused", &run);
    assert!(
        run.stderr.contains("x.\\x1b]0;pwned\\x07"),
        "{}",
        run.stderr
    );
    let failing_suite = dir.path().join("failing-suite");
    std::fs::create_dir(&failing_suite).unwrap();
    std::fs::write(
        failing_suite.join("b.toml"),
        "[suite]\ntitle = \"t\"\ncard = \"national-2.0\"\nreference = \"\\u001b[2J\"\n\
         [[vector]]\nid = \"y\"\nrequirement = \"GET DATA \\u202e answers 03\\r\"\n\
         steps = [{ apdu = \"00 CA 9F 70 01\", sw = \"9000\", data = \"03\" }]\n",
    )
    .unwrap();
    let run = sscard(&[
        "conformance",
        "run",
        "--suite",
        failing_suite.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 20, "{}{}", run.stdout, run.stderr);
    assert_shown_safely("a failing vector's report", &run);
    assert!(
        run.stdout.contains("GET DATA \\u{202e} answers 03\\r"),
        "{}",
        run.stdout
    );

    // A card image whose name holds an ESC: the path is shown escaped.
    let odd = dir.path().join("odd\u{1b}[2J.card");
    let run = sscard(&["--card", odd.to_str().unwrap(), "info"]);
    assert_ne!(run.code, 0);
    assert_shown_safely("a missing image with an odd name", &run);
    assert!(run.stderr.contains("odd\\x1b[2J.card"), "{}", run.stderr);
}
