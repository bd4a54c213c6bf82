//! One test per command family: what a terminal relies on, and the precise SW of each failure.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::*;

use card_os::testing::{DEMO_EF05, DEMO_EF06, SSSE_NAME};
use card_os::{Card, Status};

#[test]
fn select_by_name_fid_path_and_parent() {
    let mut card = demo();
    // Exact name from the MF, FCI with the algorithm tag.
    let (fci, status) = send(&mut card, &format!("{SELECT_SSSE}00"));
    assert_eq!(status, 0x9000);
    assert_eq!(fci[0], 0x6F);
    assert!(fci
        .windows(6)
        .any(|w| w == [0x9F, 0x0C, 0x03, 0x86, 0x01, 0x01]));
    assert!(fci.windows(15).any(|w| w == SSSE_NAME));
    // Partial name, then next occurrence: there is only one.
    assert_eq!(sw(&mut card, "00A4040C07 7378312E73682E"), 0x9000);
    assert_eq!(sw(&mut card, "00A4040E07 7378312E73682E"), 0x6A82);
    assert_eq!(sw(&mut card, "00A4040C05 D156000005"), 0x9000);
    assert_eq!(sw(&mut card, "00A4040E05 D156000005"), 0x9000);
    assert_eq!(sw(&mut card, "00A4040C05 D156000009"), 0x6A82);
    // MF then DF01 by FID, then an EF of SSSE by FID through the parent's children.
    // FCI asked for without Le: the length comes as 61xx.
    assert_eq!(sw(&mut card, "00A40000023F00") >> 8, 0x61);
    assert_eq!(sw(&mut card, "00A4000C02DF01"), 0x9000);
    assert_eq!(sw(&mut card, "00A4000C02DDF1"), 0x9000);
    assert_eq!(sw(&mut card, "00A4000C02EF05"), 0x9000);
    assert_eq!(send(&mut card, "00B2012C00").0, DEMO_EF05[0]);
    // Path from MF and from the current DF, child DF/EF, parent.
    assert_eq!(sw(&mut card, "00A4080C04DDF1EF06"), 0x9000);
    assert_eq!(send(&mut card, "00B2010400").0, DEMO_EF06[0]);
    assert_eq!(sw(&mut card, "00A4080C063F00DDF1EF06"), 0x9000);
    assert_eq!(sw(&mut card, "00A4030C"), 0x9000);
    assert_eq!(sw(&mut card, "00A4030C"), 0x6A82);
    assert_eq!(sw(&mut card, "00A4010C02DF04"), 0x9000);
    assert_eq!(sw(&mut card, "00A4020C02EF08"), 0x9000);
    assert_eq!(sw(&mut card, "00A4090C02EF08"), 0x9000);
    assert_eq!(sw(&mut card, "00A4090C02EF09"), 0x6A82);
    assert_eq!(sw(&mut card, "00A4010C02EF08"), 0x6A82);
    // FCP answer of a record EF.
    let (fcp, status) = send(&mut card, "00A4040405D15600000500");
    assert_eq!((fcp[0], status), (0x62, 0x9000));
    // Errors.
    assert_eq!(sw(&mut card, "00A4000C02EF99"), 0x6A82);
    assert_eq!(sw(&mut card, "00A4000C03EF0101"), 0x6700);
    assert_eq!(sw(&mut card, "00A4080C03DDF1EF"), 0x6700);
    assert_eq!(sw(&mut card, "00A4050C02EF01"), 0x6A86);
    assert_eq!(sw(&mut card, "00A40010023F00"), 0x6A86);
    assert_eq!(sw(&mut card, "00A40001023F00"), 0x6A86);
}

#[test]
fn fci_longer_than_le_goes_out_through_61xx_and_get_response() {
    let mut card = demo();
    let (full, _) = send(&mut card, &format!("{SELECT_SSSE}00"));
    // No Le: 61xx with the length.
    let (data, status) = send(&mut card, SELECT_SSSE);
    assert!(data.is_empty());
    assert_eq!(status, 0x6100 | full.len() as u16);
    let (part1, status) = send(&mut card, "00C0000010");
    assert_eq!(part1, full[..16]);
    assert_eq!(status, 0x6100 | (full.len() - 16) as u16);
    let (part2, status) = send(&mut card, "00C0000000");
    assert_eq!(status, 0x9000);
    assert_eq!([part1, part2].concat(), full);
    assert_eq!(sw(&mut card, "00C0000000"), 0x6985);
    // Another command discards what was pending.
    send(&mut card, SELECT_SSSE);
    assert_eq!(sw(&mut card, "00A4000C023F00"), 0x9000);
    assert_eq!(sw(&mut card, "00C0000000"), 0x6985);
}

#[test]
fn read_record_by_number_and_by_tag_as_ssc_readers_send_them() {
    let mut card = demo();
    send(&mut card, SELECT_SSSE);
    assert_eq!(
        send(&mut card, "00B2012C12"),
        (DEMO_EF05[0].to_vec(), 0x9000)
    );
    assert_eq!(
        send(&mut card, "00B2093020"),
        (DEMO_EF06[1].to_vec(), 0x9000)
    );
    assert_eq!(
        send(&mut card, "00B2072800"),
        (DEMO_EF05[6].to_vec(), 0x9000)
    );
    // Next / previous occurrence of "any record" walk the file from the current record.
    assert_eq!(send(&mut card, "00B2093000").0, DEMO_EF06[1]);
    assert_eq!(send(&mut card, "00B2003200").0, DEMO_EF06[2]);
    assert_eq!(send(&mut card, "00B2003300").0, DEMO_EF06[1]);
    assert_eq!(send(&mut card, "00B2003100").0, DEMO_EF06[6]);
    assert_eq!(send(&mut card, "00B2000400").0, DEMO_EF06[6]);
    // Wrong Le gives the exact length; no Le too.
    assert_eq!(sw(&mut card, "00B2012C05"), 0x6C12);
    assert_eq!(sw(&mut card, "00B2012C"), 0x6C12);
    // Missing records and tags.
    assert_eq!(sw(&mut card, "00B2082C00"), 0x6A83);
    assert_eq!(sw(&mut card, "00B2FF2800"), 0x6A83);
    assert_eq!(sw(&mut card, "00B2014C00"), 0x6A82);
    assert_eq!(sw(&mut card, "00B201F800"), 0x6A86);
    assert_eq!(sw(&mut card, "00B2012D00"), 0x6A86);
    // Transparent EF by SFI: wrong structure.
    assert_eq!(sw(&mut card, "00B2013C00"), 0x6981);
    // No current EF.
    send(&mut card, "00A4000C023F00");
    assert_eq!(sw(&mut card, "00B2010400"), 0x6986);
}

#[test]
fn update_and_append_record_keep_ssc_records_addressable() {
    let mut card = demo();
    send(&mut card, "00A4000C02DF01");
    assert_eq!(sw(&mut card, "00E200280420024142"), 0x9000);
    assert_eq!(sw(&mut card, "00E2002803210143"), 0x9000);
    assert_eq!(sw(&mut card, "00E200280A0E03123456"), 0x6700);
    assert_eq!(sw(&mut card, "00E2002803FFFFFF"), 0x9000);
    assert_eq!(sw(&mut card, "00E2002803FEFFFF"), 0x6A84);
    assert_eq!(send(&mut card, "00B2212800"), (hex("210143"), 0x9000));
    assert_eq!(sw(&mut card, "00DC2128052103414243"), 0x9000);
    assert_eq!(send(&mut card, "00B2022C00"), (hex("2103414243"), 0x9000));
    assert_eq!(sw(&mut card, "00DC052C0201FF"), 0x6A83);
    assert_eq!(sw(&mut card, "00DC022C00"), 0x6700);
    let long = format!("00DC022C41{}", "AA".repeat(65));
    assert_eq!(sw(&mut card, &long), 0x6A84);
    assert_eq!(sw(&mut card, "00E2012802AAAA"), 0x6A86);
    assert_eq!(sw(&mut card, "00E2002C02AAAA"), 0x6A86);
}

#[test]
fn cyclic_file_keeps_the_newest_as_record_one() {
    let mut card = demo();
    send(&mut card, "00A4000C02DF04");
    for i in 1..=6u8 {
        let record = format!("00E2004010{}", format!("{i:02X}").repeat(16));
        assert_eq!(sw(&mut card, &record), 0x9000);
    }
    for (number, value) in [(1u8, 6u8), (2, 5), (3, 4), (4, 3)] {
        let (data, status) = send(&mut card, &format!("00B2{number:02X}4400"));
        assert_eq!((data, status), (vec![value; 16], 0x9000));
    }
    assert_eq!(sw(&mut card, "00B2054400"), 0x6A83);
    assert_eq!(sw(&mut card, "00E200400101"), 0x6700);
}

#[test]
fn read_and_update_binary_with_offsets_and_sfi() {
    let mut card = demo();
    send(&mut card, SELECT_SSSE);
    assert_eq!(sw(&mut card, "00D6870004DEADBEEF"), 0x9000);
    assert_eq!(send(&mut card, "00B0870004"), (hex("DEADBEEF"), 0x9000));
    assert_eq!(send(&mut card, "00B0000202"), (hex("BEEF"), 0x9000));
    // Offset 15 bits, past the end; end of file reached before Ne.
    assert_eq!(sw(&mut card, "00D603FE03010203"), 0x6A84);
    assert_eq!(send(&mut card, "00B003FE02").1, 0x9000);
    assert_eq!(send(&mut card, "00B003FE04"), (vec![0, 0], 0x6282));
    assert_eq!(sw(&mut card, "00B0040101"), 0x6B00);
    assert_eq!(sw(&mut card, "00B00000"), 0x6700);
    assert_eq!(sw(&mut card, "00D60000"), 0x6700);
    // The photo in one extended APDU read, and the old content kept after a failed write.
    let photo = format!("00D6880000{}", "5A".repeat(0));
    assert_eq!(sw(&mut card, &photo), 0x6700);
    let (data, status) = send(&mut card, "00B0880000 1000");
    assert_eq!((data.len(), status), (4096, 0x9000));
    let (data, status) = send(&mut card, "00B0880000 0000");
    assert_eq!((data.len(), status), (4096, 0x6282));
    assert_eq!(sw(&mut card, "00B0A00000"), 0x6A86);
    assert_eq!(sw(&mut card, "00B0850000"), 0x6981);
    assert_eq!(sw(&mut card, "00B09E0000"), 0x6A82);
    assert_eq!(sw(&mut card, "00B09F0000"), 0x6A86);
    assert_eq!(sw(&mut card, "00D6000006 010203040506"), 0x6981);
}

#[test]
fn get_data_serial_life_cycle_and_memory() {
    let mut card = demo();
    assert_eq!(
        send(&mut card, "00CA005A00"),
        (hex("3303000000000001"), 0x9000)
    );
    assert_eq!(send(&mut card, "00CA9F7000"), (vec![0x01], 0x9000));
    let (memory, status) = send(&mut card, "00CA006600");
    assert_eq!((memory.len(), status), (8, 0x9000));
    assert!(
        u32::from_be_bytes(memory[..4].try_into().unwrap())
            < u32::from_be_bytes(memory[4..].try_into().unwrap())
    );
    assert_eq!(sw(&mut card, "00CA005A04"), 0x6104);
    assert_eq!(sw(&mut card, "00CA010100"), 0x6A88);
}

#[test]
fn create_and_delete_files_in_personalisation() {
    let mut card = demo();
    let (before, _) = send(&mut card, "00CA006600");
    assert_eq!(
        sw(&mut card, "00E000000E620C8201388302DF0784035A5A5A"),
        0x9000
    );
    assert_eq!(
        sw(
            &mut card,
            "00E00000106 20E820101830201018002000A880108"
                .replace(' ', "")
                .as_str()
        ),
        0x9000
    );
    assert_eq!(sw(&mut card, "00D600000B00112233445566778899"), 0x6700);
    assert_eq!(
        sw(
            &mut card,
            "00D600000A00112233445566778899".get(..30).unwrap()
        ),
        0x9000
    );
    assert_eq!(
        send(&mut card, "00B081000A"),
        (hex("00112233445566778899"), 0x9000)
    );
    assert_eq!(
        send(&mut card, "00B0810000"),
        (hex("00112233445566778899"), 0x6282)
    );
    // Exists already: FID, SFI, DF name.
    assert_eq!(
        sw(
            &mut card,
            "00E00000106 20E820101830201018002000A880110"
                .replace(' ', "")
                .as_str()
        ),
        0x6A89
    );
    assert_eq!(
        sw(
            &mut card,
            "00E00000106 20E820101830201028002000A880108"
                .replace(' ', "")
                .as_str()
        ),
        0x6A89
    );
    assert_eq!(sw(&mut card, "00A4000C023F00"), 0x9000);
    assert_eq!(
        sw(&mut card, "00E000000E620C8201388302DF0884035A5A5A"),
        0x6A8A
    );
    // Malformed templates.
    for bad in [
        "00E0000003620182",
        "00E00000056203820138",
        "00E0000006620483020101",
        "00E0000009620782010383020101",
    ] {
        assert_eq!(sw(&mut card, &bad.replace(' ', "")), 0x6A80, "{bad}");
    }
    assert_eq!(sw(&mut card, "00E00001046202820138"), 0x6A86);
    // Not enough memory for a huge file.
    assert_eq!(
        sw(
            &mut card,
            "00E00000106 20E820101830201098002FFFF880148"
                .replace(' ', "")
                .as_str()
        ),
        0x6A84
    );
    // Delete the new DF (and its EF): space comes back.
    assert_eq!(sw(&mut card, "00E4000002DF07"), 0x9000);
    assert_eq!(send(&mut card, "00CA006600").0, before);
    assert_eq!(sw(&mut card, "00A4000C02DF07"), 0x6A82);
    assert_eq!(sw(&mut card, "00E4000002DF07"), 0x6A82);
    assert_eq!(sw(&mut card, "00E4000000"), 0x6985);
    assert_eq!(sw(&mut card, "00E40100"), 0x6A86);
}

#[test]
fn structure_changes_are_refused_after_issue() {
    let mut storage = demo_storage();
    // Life cycle 02 (issued) written as the security layer's ISSUE CARD will.
    storage_set_life_cycle(&mut storage, 0x02);
    let mut card = Card::power_on(&mut *storage).unwrap();
    assert_eq!(send(&mut card, "00CA9F7000").0, vec![0x02]);
    assert_eq!(
        sw(&mut card, "00E000000E620C8201388302DF0784035A5A5A"),
        0x6985
    );
    assert_eq!(sw(&mut card, "00E4000002DF01"), 0x6985);
}

fn storage_set_life_cycle(storage: &mut Storage, value: u8) {
    use card_os::Storage as _;
    storage
        .write(
            card_os::memory_map::HEADER_OFFSET + card_os::memory_map::HDR_LIFE_CYCLE,
            &[value],
        )
        .unwrap();
}

#[test]
fn deactivated_and_terminated_files() {
    let mut card = demo();
    send(&mut card, "00A4000C02DF01");
    assert_eq!(sw(&mut card, "00A4000C02EF05"), 0x9000);
    assert_eq!(sw(&mut card, "0004000000"), 0x9000);
    assert_eq!(sw(&mut card, "00A4000C02EF05"), 0x6283);
    assert_eq!(sw(&mut card, "00B2010400"), 0x6985);
    assert_eq!(sw(&mut card, "00E20000022001"), 0x6985);
    assert_eq!(sw(&mut card, "0044000000"), 0x9000);
    assert_eq!(sw(&mut card, "00E20000022001"), 0x9000);
    assert_eq!(sw(&mut card, "00E6000000"), 0x9000);
    assert_eq!(sw(&mut card, "00A4000C02EF05"), 0x6285);
    assert_eq!(sw(&mut card, "00B2010400"), 0x6985);
    assert_eq!(sw(&mut card, "0044000000"), 0x6985);
    assert_eq!(sw(&mut card, "00E8000000"), 0x9000);
    assert_eq!(sw(&mut card, "00A4000C02DF01"), 0x6285);
    assert_eq!(sw(&mut card, "00E6000000"), 0x6986);
}

#[test]
fn class_instruction_and_length_errors() {
    let mut card = demo();
    assert_eq!(sw(&mut card, "FFA40000"), 0x6E00);
    assert_eq!(sw(&mut card, "40A40000"), 0x6E00);
    assert_eq!(sw(&mut card, "01A40000"), 0x6881);
    assert_eq!(sw(&mut card, "0CA40000"), 0x6882);
    assert_eq!(sw(&mut card, "00FE0000"), 0x6D00);
    assert_eq!(sw(&mut card, "00A400"), 0x6700);
    assert_eq!(sw(&mut card, "00A4000002 3F"), 0x6700);
    assert_eq!(sw(&mut card, "80CA005A00"), 0x9000);
}

#[test]
fn command_chaining_assembles_the_data() {
    let mut card = demo();
    send(&mut card, SELECT_SSSE);
    // UPDATE BINARY of 300 bytes to the fingerprint in three links.
    let data: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let hexed = |b: &[u8]| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
    assert_eq!(
        sw(&mut card, &format!("10D68700 64{}", hexed(&data[..100]))),
        0x9000
    );
    assert_eq!(
        sw(&mut card, &format!("10D68700 64{}", hexed(&data[100..200]))),
        0x9000
    );
    assert_eq!(
        sw(&mut card, &format!("00D68700 64{}", hexed(&data[200..]))),
        0x9000
    );
    let (read, status) = send(&mut card, "00B08700 00012C");
    assert_eq!((read, status), (data.clone(), 0x9000));
    // A link with another header breaks the chain.
    assert_eq!(sw(&mut card, "10D6870001AA"), 0x9000);
    assert_eq!(sw(&mut card, "00D6870101BB"), 0x6883);
    // Too much data in a chain.
    for _ in 0..4 {
        assert_eq!(
            sw(&mut card, &format!("10D68700 FF{}", "11".repeat(255))),
            0x9000
        );
    }
    assert_eq!(
        sw(&mut card, &format!("10D68700 FF{}", "11".repeat(255))),
        0x6A84
    );
}

#[test]
fn a_small_response_buffer_offers_the_rest_through_61xx() {
    let mut card = demo();
    send(&mut card, SELECT_SSSE);
    let mut small = [0u8; 8];
    let n = card.process(&hex("00B0870010"), &mut small);
    assert_eq!(n, 8);
    assert_eq!(&small[6..8], &[0x61, 10]);
    let mut tiny = [0u8; 1];
    assert_eq!(card.process(&hex("00B0870010"), &mut tiny), 0);
}

#[test]
fn atr_power_on_and_warm_reset() {
    let mut card = demo();
    let mut atr = [0u8; 33];
    let n = card.atr(&mut atr);
    assert_eq!(&atr[..n], &hex("3B6D0000 0081544C97868433 03E4B2CBAC")[..]);
    send(&mut card, SELECT_SSSE);
    assert_eq!(send(&mut card, "00B2010400").1, 0x6986);
    assert_eq!(sw(&mut card, "00B2012C00"), 0x9000);
    card.warm_reset();
    // MF is current again: EF05 of SSSE is not reachable by SFI, data still there.
    assert_eq!(sw(&mut card, "00B2012C00"), 0x6A82);
    send(&mut card, SELECT_SSSE);
    assert_eq!(send(&mut card, "00B2012C00").0, DEMO_EF05[0]);
    assert_eq!(card.volatile().selection.record, Some(1));
    let storage = card.into_storage();
    let card = Card::power_on(storage).unwrap();
    assert_eq!(card.volatile().selection.record, None);
}

#[test]
fn access_conditions_refuse_with_6982() {
    let mut card = demo();
    send(&mut card, "00A4000C02DF01");
    // An EF whose update needs the PIN and whose read needs key 04.
    assert_eq!(
        sw(
            &mut card,
            "00E00000176215820101830211018002000486080204010002040000"
        ),
        0x9000
    );
    // Access conditions take effect at ISSUE CARD.
    assert_eq!(sw(&mut card, "00B0000002"), 0x9000);
    assert_eq!(sw(&mut card, "80F00200"), 0x9000);
    assert_eq!(sw(&mut card, "00B0000002"), 0x6982);
    assert_eq!(sw(&mut card, "00D6000001AA"), 0x6982);
    card.volatile_mut().security.pin_verified = true;
    assert_eq!(sw(&mut card, "00D6000001AA"), 0x9000);
    assert_eq!(sw(&mut card, "00B0000002"), 0x6982);
    card.volatile_mut().security.authenticated_keys.insert(4);
    assert_eq!(send(&mut card, "00B0000002"), (vec![0xAA, 0x00], 0x9000));
    card.warm_reset();
    send(&mut card, "00A4000C02DF01");
    assert_eq!(sw(&mut card, "00A4000C021101"), 0x9000);
    assert_eq!(sw(&mut card, "00B0000002"), 0x6982);
    assert_eq!(Status::from_u16(0x6982), Status::SecurityStatusNotSatisfied);
}

#[test]
fn power_on_refuses_an_unformatted_storage() {
    let storage = Box::leak(Box::new(Storage::new()));
    let failure = Card::power_on(storage).err().unwrap();
    assert_eq!(failure.error, card_os::PowerOnError::NotFormatted);
}
