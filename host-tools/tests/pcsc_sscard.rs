//! The `sscard` binary over PC/SC against the card served in the virtual reader: what a person at
//! a reader runs. Ignored by a plain `cargo test`: scripts/pcsc-tests.sh runs it with `--ignored`.

mod pcsc_support;

use card_os::testing::DEMO_EF05;
use host_tools::transport::vpcd::FIRST_SLOT_PORT;
use pcsc_support::*;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[test]
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn sscard_lists_the_virtual_reader_with_the_served_card() {
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
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn sscard_reads_the_atr_and_records_of_the_served_card() {
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
#[ignore = "pcsc: needs pcscd and vpcd (scripts/test.sh runs it)"]
fn sscard_says_when_the_virtual_reader_is_empty() {
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
