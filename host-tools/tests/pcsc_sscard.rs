//! The `sscard` binary over PC/SC against the card served in the virtual reader: what a person at
//! a reader runs. Runs only with SSCARD_PCSC_TESTS=1: see scripts/pcsc-tests.sh.

mod pcsc_support;

use std::process::Output;

use card_os::testing::DEMO_EF05;
use host_tools::transport::vpcd::FIRST_SLOT_PORT;
use pcsc_support::*;
use serde_json::Value;

fn sscard(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_sscard"), args)
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("sscard printed no JSON ({e}):\n{}", stdout(output)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[test]
fn sscard_lists_the_virtual_reader_with_the_served_card() {
    if !enabled("sscard_lists_the_virtual_reader_with_the_served_card") {
        return;
    }
    let _lock = ReaderLock::acquire();
    let card = demo_sim();
    let atr = card.atr();
    let _served = ServedCard::start(card, FIRST_SLOT_PORT);
    wait_for_card(&context(), READER, true);
    let output = sscard(&["readers", "--json"]);
    assert!(output.status.success(), "{output:?}");
    let listing = json(&output);
    let reader = listing["readers"]
        .as_array()
        .expect("a reader list")
        .iter()
        .find(|r| r["name"] == READER)
        .unwrap_or_else(|| panic!("{READER} not listed: {listing}"));
    assert_eq!(reader["card_present"], true);
    assert_eq!(reader["atr"], hex(&atr));
}

#[test]
fn sscard_reads_the_atr_and_records_of_the_served_card() {
    if !enabled("sscard_reads_the_atr_and_records_of_the_served_card") {
        return;
    }
    let _lock = ReaderLock::acquire();
    let card = demo_sim();
    let atr = card.atr();
    let _served = ServedCard::start(card, FIRST_SLOT_PORT);
    wait_for_card(&context(), READER, true);

    let output = sscard(&["--reader", READER, "atr", "--json"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(json(&output)["bytes"], hex(&atr));

    let select = hex(&select_ssse());
    let output = sscard(&["--reader", READER, "apdu", &select, "00B2012C00", "--json"]);
    assert!(output.status.success(), "{output:?}");
    let exchanges = json(&output)["exchanges"].clone();
    assert_eq!(exchanges[0]["sw"], "9000", "{exchanges}");
    assert_eq!(exchanges[1]["sw"], "9000", "{exchanges}");
    assert_eq!(exchanges[1]["data"], hex(DEMO_EF05[0]));
}

#[test]
fn sscard_says_when_the_virtual_reader_is_empty() {
    if !enabled("sscard_says_when_the_virtual_reader_is_empty") {
        return;
    }
    let _lock = ReaderLock::acquire();
    let ctx = context();
    wait_for_card(&ctx, READER, false);
    let output = sscard(&["--reader", READER, "--timeout-ms", "300", "atr", "--json"]);
    assert!(!output.status.success(), "{output:?}");
    let error = &json(&output)["error"];
    assert_eq!(error["kind"], "timeout", "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("waiting for the card")),
        "{error}"
    );
}
