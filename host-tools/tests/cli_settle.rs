//! `sscard settle`, `load` and `records` on a card image and a PSAM image: the receipt, the
//! exit code of every bad input, and the balance and log unchanged after each refusal.

mod common;

use common::{
    card_purse, paying_card_and_psam, settle_args, sscard, PayingCard, TestDir, EXIT_USAGE,
    PAYING_PIN, TILL_TIME,
};

struct Setup {
    dir: TestDir,
    card: String,
    psam: String,
    journal: String,
}

fn setup(name: &str) -> Setup {
    let dir = TestDir::new(name);
    let PayingCard { card, psam, .. } = paying_card_and_psam(dir.path());
    let journal = dir.path().join("terminal.jsonl").display().to_string();
    Setup {
        dir,
        card,
        psam,
        journal,
    }
}

impl Setup {
    fn settle(&self, extra: &[&str]) -> common::Run {
        let mut args = settle_args(true, &self.card, &self.psam, &self.journal, TILL_TIME);
        args.extend_from_slice(extra);
        sscard(&args)
    }

    /// Balance (fen) and number of log records.
    fn purse(&self) -> (u64, usize) {
        card_purse(&self.card, PAYING_PIN)
    }
}

#[test]
fn settle_prints_a_receipt_and_every_bad_input_has_its_exit_code() {
    let s = setup("cli-settle");
    let run = s.settle(&[
        "--amount",
        "12.50",
        "--self-pay",
        "3",
        "--pooled",
        "7",
        "--unsafe-pin",
        PAYING_PIN,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.json();
    assert_eq!(out["settled"], true);
    assert_eq!(out["receipt"]["amounts"]["account"], 1250);
    assert_eq!(out["receipt"]["balance_after"], 8750);
    assert_eq!(out["receipt"]["tac"].as_str().map(str::len), Some(8));
    let after = s.purse();
    assert_eq!(after, (8750, 1));
    let records = sscard(&["--card", &s.card, "records", "--unsafe-pin", PAYING_PIN]);
    assert!(
        records.stdout.contains("balance: 87.50 yuan"),
        "{}",
        records.stdout
    );
    assert!(records.stdout.contains("settlement"), "{}", records.stdout);

    let foreign = s.dir.path().join("foreign-psam.img").display().to_string();
    let made = sscard(&[
        "sim",
        "new",
        "--version",
        "2.0",
        "--psam",
        "--region",
        "330300",
        "--out",
        &foreign,
    ]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let cases: [(&[&str], i32, &str, &str); 7] = [
        (
            &["--amount", "-1", "--unsafe-pin", PAYING_PIN],
            49,
            "bad_amount",
            "negative",
        ),
        (
            &["--amount", "1.234", "--unsafe-pin", PAYING_PIN],
            49,
            "bad_amount",
            "two decimals",
        ),
        (
            &["--amount", "99999999999", "--unsafe-pin", PAYING_PIN],
            49,
            "bad_amount",
            "too large",
        ),
        (
            &["--amount", "0", "--unsafe-pin", PAYING_PIN],
            49,
            "bad_amount",
            "zero",
        ),
        (
            &["--amount", "200", "--unsafe-pin", PAYING_PIN],
            40,
            "balance_too_low",
            "87.50 yuan",
        ),
        (
            &["--amount", "1", "--unsafe-pin", "999999"],
            41,
            "wrong_pin",
            "tries left",
        ),
        (
            &["--amount", "1", "--unsafe-pin", "12"],
            36,
            "pin_rejected",
            "4 to 16 digits",
        ),
    ];
    for (args, code, kind, words) in cases {
        let run = s.settle(args);
        assert_eq!(run.code, code, "{args:?}: {}", run.stdout);
        let error = &run.json()["error"];
        assert_eq!(error["kind"], kind, "{args:?}");
        assert!(
            error["message"].as_str().unwrap().contains(words),
            "{args:?}: {error}"
        );
        assert_eq!(s.purse(), after, "{args:?} changed the purse");
    }
    // A PSAM of another region.
    let mut args = settle_args(true, &s.card, &foreign, &s.journal, TILL_TIME);
    args.extend_from_slice(&["--amount", "1", "--unsafe-pin", PAYING_PIN]);
    let run = sscard(&args);
    assert_eq!(run.code, 45, "{}", run.stdout);
    assert_eq!(run.json()["error"]["kind"], "other_region");
    assert_eq!(s.purse(), after);
    // No PSAM at all is a usage error.
    let run = sscard(&[
        "--card",
        &s.card,
        "settle",
        "--journal",
        &s.journal,
        "--amount",
        "1",
    ]);
    assert_eq!(run.code, EXIT_USAGE, "{}", run.stderr);
    // The journal holds the settlement and each refusal the card saw.
    let journal = std::fs::read_to_string(&s.journal).unwrap();
    assert!(journal.contains("\"sw\":\"9401\""), "{journal}");
}

#[test]
fn load_credits_the_purse_at_an_outlet() {
    let s = setup("cli-load");
    let run = sscard(&[
        "--json",
        "--card",
        &s.card,
        "load",
        "--test-keys",
        "--terminal-no",
        "110100000009",
        "--journal",
        &s.journal,
        "--time",
        TILL_TIME,
        "--amount",
        "50",
        "--unsafe-pin",
        PAYING_PIN,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["receipt"]["balance_after"], 15000);
    assert_eq!(s.purse(), (15000, 1));
    let run = sscard(&[
        "--json",
        "--card",
        &s.card,
        "load",
        "--test-keys",
        "--terminal-no",
        "12",
        "--journal",
        &s.journal,
        "--amount",
        "50",
        "--unsafe-pin",
        PAYING_PIN,
    ]);
    assert_eq!(run.code, EXIT_USAGE, "{}", run.stdout);
}

#[test]
fn diagnose_with_the_pin_names_a_balance_too_low() {
    let s = setup("cli-settle-diagnose");
    let refused = s.settle(&["--amount", "150", "--unsafe-pin", PAYING_PIN]);
    assert_eq!(refused.code, 40, "{}", refused.stdout);
    let diagnose = |extra: &[&str]| {
        let mut args = vec![
            "--json", "--card", &s.card, "diagnose", "--today", "20240315",
        ];
        args.extend_from_slice(extra);
        let run = sscard(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.json()
    };
    // Without the holder: a healthy card, the back office.
    assert_eq!(diagnose(&[])["cause"], "back-office");
    // The journal's last line: the settlement refused with 9401.
    let out = diagnose(&["--journal", &s.journal]);
    assert_eq!(out["cause"], "balance-too-low", "{out}");
    // With the PAYING_PIN and an amount above the balance: read from the card.
    let out = diagnose(&["--pin", "--unsafe-pin", PAYING_PIN, "--amount", "150"]);
    assert_eq!(out["cause"], "balance-too-low", "{out}");
    assert_eq!(out["action"], "load-purse");
    assert_eq!(out["refused_commands"], 0);
    let purse = out["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "purse")
        .unwrap();
    assert!(
        purse["detail"]
            .as_str()
            .unwrap()
            .contains("balance 100.00 yuan"),
        "{purse}"
    );
    // Enough balance: the purse is not the cause; nothing was changed by reading it.
    let out = diagnose(&["--pin", "--unsafe-pin", PAYING_PIN, "--amount", "50"]);
    assert_eq!(out["cause"], "back-office", "{out}");
    assert_eq!(s.purse(), (10000, 0));
}
