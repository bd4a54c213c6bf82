//! The settlement terminal through the real PC/SC stack (docs/settlement.md): the card in
//! "Virtual PCD 00 00", the PSAM in "Virtual PCD 00 01", `sscard settle --reader --psam-reader`:
//! a refusal for balance (9401), a card pulled after its DEBIT and before the receipt (the
//! DEBIT's answer lost) then settled by the rerun exactly once, and a plain settlement; the
//! balance and the log read back through pcscd. Ignored unless asked for (`-- --ignored`, with the
//! stack running: scripts/test.sh).

mod pcsc_support;

use std::process::Output;

use file_structures::personalise::IssuerKeys;
use host_tools::testdir::TestDir;
use host_tools::transport::faults::{FaultyTransport, PullAt, TransportFaults};
use host_tools::transport::sim::SimTransport;
use host_tools::transport::simcard::{personalised_card, sample_holder};
use host_tools::transport::vpcd::{FIRST_SLOT_PORT, SECOND_SLOT_PORT};
use host_tools::transport::CardTransport;
use pcsc_support::activation::{layout, psam, NEW_PIN};
use pcsc_support::*;
use serde_json::Value;

/// Within six months of the sample card's issue (20240101): the card may pay before activation.
const TIME: &str = "20240315103000";
const START_BALANCE: u64 = 10_000;

/// The sample card (3.0) with 100.00 yuan and the holder's own PIN, pulled at its first DEBIT
/// after the card ran it: the answer never reaches the terminal.
fn card_pulled_at_debit() -> Box<dyn CardTransport + Send> {
    let keys = IssuerKeys::test_keys().unwrap();
    let mut holder = sample_holder();
    holder
        .values
        .insert("purse_balance".into(), START_BALANCE.to_string());
    let storage = personalised_card(&layout(), &holder, &keys).unwrap().0;
    let mut sim = SimTransport::in_memory(storage).unwrap();
    let answer = sim
        .transmit(&hex::decode("805E010007123456FF135790").unwrap())
        .unwrap();
    assert_eq!(answer, [0x90, 0x00], "CHANGE PIN");
    Box::new(FaultyTransport::new(
        sim,
        TransportFaults {
            pull_at: Some(PullAt {
                cla: 0xB0,
                ins: 0x2C,
                delivered: true,
            }),
            ..TransportFaults::default()
        },
    ))
}

fn sscard(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_sscard"), args)
}

fn settle(journal: &str, amount: &str) -> Output {
    sscard(&[
        "--reader",
        READER,
        "--json",
        "settle",
        "--psam-reader",
        SECOND_READER,
        "--journal",
        journal,
        "--time",
        TIME,
        "--amount",
        amount,
        "--unsafe-pin",
        NEW_PIN,
    ])
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "sscard printed no JSON ({e}):\n{}\n{}",
            stdout(output),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The balance (fen) and the number of log records, through pcscd.
fn purse() -> (u64, usize) {
    let output = sscard(&[
        "--reader",
        READER,
        "--json",
        "records",
        "--unsafe-pin",
        NEW_PIN,
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let out = json(&output);
    (
        out["balance"].as_u64().unwrap(),
        out["records"].as_array().unwrap().len(),
    )
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn settlements_through_pcscd_a_refusal_for_balance_and_a_card_pulled_after_its_debit() {
    let _lock = ReaderLock::acquire();
    let dir = TestDir::new("pcsc-settle");
    let journal = dir.path().join("terminal.jsonl");
    let journal = journal.to_str().unwrap();
    let _psam_served = ServedCard::start(psam(), SECOND_SLOT_PORT);
    let _card_served = ServedCard::start(card_pulled_at_debit(), FIRST_SLOT_PORT);
    let ctx = context();
    wait_for_card(&ctx, SECOND_READER, true);
    wait_for_card(&ctx, READER, true);

    // Above the balance: 9401, exit 40, nothing debited.
    let refused = settle(journal, "100.01");
    assert_eq!(refused.status.code(), Some(40), "{refused:?}");
    let error = &json(&refused)["error"];
    assert_eq!(error["kind"], "balance_too_low", "{error}");
    assert_eq!(purse(), (START_BALANCE, 0));

    // The card pulled after it ran the DEBIT: the terminal sees it removed (exit 6) ...
    let pulled = settle(journal, "7");
    assert_eq!(pulled.status.code(), Some(6), "{pulled:?}");
    // pcscd reports the vanished card as removed, or as an answer cut short: both class 6.
    let kind = json(&pulled)["error"]["kind"].clone();
    assert!(kind == "card_removed" || kind == "short_response", "{kind}");
    // ... it comes back (the serve loop re-inserts it ≥ 1 s later) and the rerun completes the
    // receipt.
    wait_for_card(&ctx, READER, false);
    wait_for_card(&ctx, READER, true);
    let rerun = settle(journal, "7");
    assert_eq!(rerun.status.code(), Some(0), "{rerun:?}");
    let receipt = &json(&rerun)["receipt"];
    assert_eq!(receipt["resumed"], true, "{receipt}");
    assert_eq!(receipt["amounts"]["account"], 700, "{receipt}");
    assert_eq!(receipt["tac"].as_str().map(str::len), Some(8), "{receipt}");
    assert_eq!(
        purse(),
        (START_BALANCE - 700, 1),
        "charged once, one record"
    );

    // A plain settlement after it: paid once more.
    let plain = settle(journal, "1");
    assert_eq!(plain.status.code(), Some(0), "{plain:?}");
    assert_eq!(json(&plain)["receipt"]["resumed"], false);
    assert_eq!(purse(), (START_BALANCE - 800, 2));
}
