//! No input may panic: any byte string, or a random stream of commands, gets a well-formed response.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::*;

use card_os::testing::exchange;
use card_os::{Card, Status};
use proptest::prelude::*;

/// A response is data + SW; error SWs carry no data.
fn well_formed(response: &[u8], buffer: usize) -> Result<(), TestCaseError> {
    prop_assert!(response.len() >= 2 && response.len() <= buffer);
    let sw = Status::from_u16(u16::from_be_bytes([
        response[response.len() - 2],
        response[response.len() - 1],
    ]));
    let sw1 = sw.to_bytes()[0];
    prop_assert!(matches!(sw1, 0x61..=0x6F | 0x90..=0x9F), "SW {sw}");
    if !(sw.is_success() || sw.is_warning()) {
        prop_assert_eq!(response.len(), 2, "an error with data: {:02X?}", response);
    }
    Ok(())
}

fn header() -> impl Strategy<Value = Vec<u8>> {
    let ins = prop::sample::select(vec![
        0xA4u8, 0xB0, 0xD6, 0xB2, 0xDC, 0xE2, 0xC0, 0xCA, 0xE0, 0xE4, 0x44, 0x04, 0xE6, 0xE8, 0x20,
        0xFF,
    ]);
    let cla = prop::sample::select(vec![0x00u8, 0x10, 0x80, 0x04, 0x01, 0xFF]);
    (cla, ins, any::<u8>(), any::<u8>()).prop_map(|(c, i, p1, p2)| vec![c, i, p1, p2])
}

fn command() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        (header(), prop::collection::vec(any::<u8>(), 0..40)).prop_map(|(mut h, body)| {
            h.extend(body);
            h
        }),
        (
            header(),
            prop::collection::vec(any::<u8>(), 1..40),
            any::<u8>()
        )
            .prop_map(|(mut h, data, le)| {
                h.push(data.len() as u8);
                h.extend(data);
                h.push(le);
                h
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_get_a_well_formed_response(apdus in prop::collection::vec(command(), 1..60), buffer in prop_oneof![Just(4098usize), 2usize..300]) {
        let mut storage = demo_storage();
        let mut card = Card::power_on(&mut *storage).unwrap();
        let mut response = vec![0u8; buffer];
        for apdu in &apdus {
            let n = card.process(apdu, &mut response);
            well_formed(&response[..n], buffer)?;
        }
        // The card still answers the SSC read after whatever came before.
        card.warm_reset();
        let r = exchange(&mut card, &hex(&format!("{SELECT_SSSE}00")));
        prop_assert!(r.status().is_success() || r.status().is_warning() || r.status() == Status::FileNotFound);
    }
}
