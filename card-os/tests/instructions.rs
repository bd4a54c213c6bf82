//! The instruction table is complete: every instruction the card answers (anything but `6D00`)
//! has its row, with a name, a redaction rule and a decision for read-only tools, and every row
//! is an instruction the card answers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use card_os::instructions::{self, ClassRule, INSTRUCTIONS};
use card_os::Card;
use common::{demo_storage, sw};

/// The plain classes: interindustry `00`, proprietary `80` and the medical purse's `B0`. (A MAC'd
/// class has every command's MAC checked before its INS is looked at, so it tells nothing about
/// the INS.)
const PLAIN_CLASSES: [u8; 3] = [0x00, 0x80, 0xB0];

#[test]
fn every_instruction_the_card_answers_is_in_the_table_and_nothing_else() {
    let storage = demo_storage();
    for cla in PLAIN_CLASSES {
        for ins in 0..=u8::MAX {
            // A fresh card each time: some commands change it (and none may hide the next).
            let mut fresh = storage.clone();
            let mut card = Card::power_on(&mut *fresh).unwrap();
            let answer = sw(&mut card, &format!("{cla:02X}{ins:02X}0000"));
            let row = instructions::of_command(cla, ins);
            assert_eq!(
                answer != 0x6D00,
                row.is_some(),
                "{cla:02X} {ins:02X} answers {answer:04X}, table: {row:?}"
            );
            if let Some(row) = row {
                assert!(!row.name().is_empty(), "{ins:02X}");
                assert_eq!(row.ins, ins);
            }
        }
    }
}

#[test]
fn instructions_of_the_mac_class_alone_are_found_with_it() {
    for row in INSTRUCTIONS {
        match row.class {
            ClassRule::Any => {
                assert_eq!(instructions::of_command(0x00, row.ins), Some(row));
                assert_eq!(instructions::of_command(0x84, row.ins), Some(row));
            }
            ClassRule::Mac => {
                assert_eq!(instructions::of_command(0x84, row.ins), Some(row));
                assert_ne!(instructions::of_command(0x00, row.ins), Some(row));
            }
            ClassRule::Plain => {
                assert_eq!(instructions::of_command(0x80, row.ins), Some(row));
                assert_ne!(instructions::of_command(0x04, row.ins), Some(row));
            }
            ClassRule::Purse => {
                assert_eq!(instructions::of_command(0xB0, row.ins), Some(row));
                assert_ne!(instructions::of_command(0x80, row.ins), Some(row));
                assert_ne!(instructions::of_command(0x00, row.ins), Some(row));
            }
        }
        assert_eq!(
            instructions::of_command(row.class.example_cla(), row.ins),
            Some(row)
        );
        // ISO secure messaging is refused before any instruction is looked up.
        assert_eq!(
            instructions::of_command(0x0C, row.ins).filter(|r| r.class != ClassRule::Any),
            None
        );
    }
}
