//! `sscard activate` on a simulated card image: the receipt, `--json`, one exit code per outcome,
//! PINs from standard input, and the journal file.

mod common;

use common::{sample_card, sscard, sscard_stdin};
use host_tools::testdir::TestDir;

const ID: &str = "110105199001010010";
const NAME: &str = "张测试";
/// The holder's document as the operator types it, and a new PIN.
const IDENTITY: [&str; 4] = ["--id-number", ID, "--name", NAME];
const NEW_PIN: [&str; 2] = ["--unsafe-new-pin", "135790"];

/// The outlet's terminal on the day of the sample activations.
const TERMINAL: [&str; 6] = [
    "--outlet",
    "BANK-0001",
    "--terminal",
    "T-42",
    "--date",
    "20240401",
];

/// `sscard --card CARD --json activate` by the outlet's terminal with `module` (its security module
/// options), the journal, and `extra`.
fn activate_with(card: &str, module: &[&str], journal: &str, extra: &[&str]) -> common::Run {
    let head = ["--card", card, "--json", "activate"];
    let args = [&head[..], module, &TERMINAL, &["--journal", journal], extra].concat();
    sscard(&args)
}

fn activate(card: &str, journal: &str, extra: &[&str]) -> common::Run {
    activate_with(card, &["--test-keys"], journal, extra)
}

#[test]
fn activate_prints_a_receipt_and_each_refusal_has_its_exit_code() {
    let dir = TestDir::new("activation-cli");
    let card = sample_card(dir.path(), "3.0");
    let card = card.to_str().unwrap();
    let journal = dir.path().join("terminal.jsonl");
    let journal = journal.to_str().unwrap();
    let lost = dir.path().join("lost.txt");
    std::fs::write(&lost, "# lost cards\nX00000019\n").unwrap();

    // Each refusal leaves the card as it was, with its exit code (docs/host-tools.md).
    // (what is wrong, identity, PIN option, exit code, `--json` error kind, words of the message)
    type Refusal<'a> = (&'a str, [&'a str; 4], &'a [&'a str], i32, &'a str, &'a str);
    let refusals: [Refusal; 3] = [
        (
            "the name on the document differs",
            ["--id-number", ID, "--name", "李测试"],
            &NEW_PIN,
            30,
            "identity_mismatch",
            "name on the document does not match",
        ),
        (
            "an ID number with a wrong check digit",
            ["--id-number", "110105199001010011", "--name", NAME],
            &[],
            10,
            "",
            "",
        ),
        (
            "a trivial new PIN",
            IDENTITY,
            &["--unsafe-new-pin", "111111"],
            36,
            "",
            "",
        ),
    ];
    for (label, identity, pin, code, kind, says) in refusals {
        let run = activate(card, journal, &[&identity[..], pin].concat());
        assert_eq!(run.code, code, "{label}: {}", run.stderr);
        let error = &run.json()["error"];
        assert!(kind.is_empty() || error["kind"] == kind, "{label}: {error}");
        assert!(run.stderr.contains(says), "{label}: {}", run.stderr);
    }

    let lost_list = ["--lost-list", lost.to_str().unwrap()];
    let ok = activate(
        card,
        journal,
        &[&IDENTITY[..], &NEW_PIN, &lost_list].concat(),
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let receipt = &ok.json()["receipt"];
    for (field, expected) in [
        ("card_number", "T0000001X"),
        ("activation_date", "20240401"),
        ("medical_insurance", "normal"),
    ] {
        assert_eq!(receipt[field], expected, "receipt {field}: {receipt}");
    }

    let again = activate(card, journal, &[&IDENTITY[..], &NEW_PIN].concat());
    assert_eq!(again.code, 31, "{}", again.stderr);

    // `info` sees the activation.
    let info = sscard(&["--card", card, "--json", "info", "--test-keys"]);
    assert_eq!(info.json()["activation"]["state"], "activated");

    let lines = std::fs::read_to_string(journal).unwrap();
    assert!(lines
        .lines()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
    assert!(lines.contains("\"step\":\"activated\""));
    assert!(!lines.contains("135790"), "the journal never holds a PIN");
}

#[test]
fn pins_from_stdin_that_differ_are_refused_and_a_lost_card_is_blocked() {
    let dir = TestDir::new("activation-cli-stdin");
    let card = sample_card(dir.path(), "2.0");
    let card = card.to_str().unwrap();
    let journal = dir.path().join("terminal.jsonl");
    let out = sscard_stdin(
        &[
            "--card",
            card,
            "activate",
            "--test-keys",
            "--outlet",
            "B1",
            "--terminal",
            "T1",
            "--journal",
            journal.to_str().unwrap(),
            "--date",
            "20240401",
            "--id-number",
            ID,
            "--name",
            NAME,
            "--pin-from-stdin",
        ],
        "135790\n135791\n",
    );
    assert_eq!(out.code, 36);
    assert!(out.stderr.contains("the two PIN entries differ"));

    let lost = dir.path().join("lost.txt");
    std::fs::write(&lost, "T0000001X\n").unwrap();
    let run = activate(
        card,
        journal.to_str().unwrap(),
        &[
            &IDENTITY[..],
            &NEW_PIN,
            &["--lost-list", lost.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(run.code, 34, "{}", run.stderr);
    let run = activate(
        card,
        journal.to_str().unwrap(),
        &[&IDENTITY[..], &NEW_PIN].concat(),
    );
    assert_eq!(run.code, 32, "{}", run.stderr);
}

/// `sscard activate` with the security module in a simulated PSAM card image.
fn activate_with_psam(card: &str, psam: &str, journal: &str) -> common::Run {
    activate_with(
        card,
        &["--psam-card", psam],
        journal,
        &[&IDENTITY[..], &NEW_PIN].concat(),
    )
}

#[test]
fn sim_new_psam_makes_the_terminal_psam_for_the_cards_region_and_only_that_region() {
    let dir = TestDir::new("activation-cli-psam");
    let psam = dir.path().join("psam.card");
    let psam = psam.to_str().unwrap();
    let made = sscard(&["sim", "new", "--psam", "--out", psam]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    assert!(made.stdout.contains("TEST PSAM"), "{}", made.stdout);
    assert!(made.stdout.contains("--port 35964"), "{}", made.stdout);
    let made = sscard(&["--json", "sim", "new", "--psam", "--out", psam]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let facts = made.json();
    assert_eq!(facts["kind"], "psam");
    // The sample holder's region (card identification code 110100...), as `sim new` makes it.
    assert_eq!(facts["region"], "110100");
    assert_eq!(facts["test_keys"], true);

    // The sample card (3.0: personal data behind key 0A, read through the PSAM) is activated.
    let card = sample_card(dir.path(), "3.0");
    let journal = dir.path().join("terminal.jsonl");
    let ok = activate_with_psam(card.to_str().unwrap(), psam, journal.to_str().unwrap());
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let receipt = &ok.json()["receipt"];
    assert_eq!(receipt["name"], NAME);
    assert!(
        receipt["security_module"]
            .as_str()
            .unwrap()
            .starts_with("PSAM"),
        "{receipt}"
    );

    // A PSAM made for another region derives other card keys: the card refuses the terminal.
    let other = dir.path().join("other-region.card");
    let other = other.to_str().unwrap();
    let made = sscard(&["sim", "new", "--psam", "--region", "330300", "--out", other]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let card = sample_card(dir.path(), "2.0");
    let refused = activate_with_psam(card.to_str().unwrap(), other, journal.to_str().unwrap());
    assert_eq!(refused.code, common::EXIT_REFUSED, "{}", refused.stderr);

    let bad = sscard(&["sim", "new", "--psam", "--region", "11010X", "--out", other]);
    assert_eq!(bad.code, common::EXIT_USAGE, "{}", bad.stderr);
    assert!(bad.stderr.contains("not a region code"), "{}", bad.stderr);
}
