//! Power cuts during every security command: after re-powering, the card holds exactly the old or
//! the new state (or, for a try counter, the old state with one try spent), and no cut ever gives
//! a PIN or key a try back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;
use common::secured::*;
use common::{cut_at_every_write, hex, snapshot, Storage};

use card_os::crypto::external_cryptogram;
use card_os::testing::{exchange, TearingStorage};
use card_os::Card;

/// Builds the command on a powered card (after whatever it needs first, e.g. GET CHALLENGE).
type Build = fn(&mut Card<&mut TearingStorage<&mut Storage>>) -> Vec<u8>;

/// The state after `build` then its command; also returns the state before the command and the
/// number of writes the command made.
fn reference(base: &Storage, build: Build) -> (Vec<u8>, Vec<u8>, usize) {
    let mut storage = Box::new(base.clone());
    let mut tearing = TearingStorage::new(&mut *storage);
    let (old, writes);
    {
        let mut card = Card::power_on(&mut tearing).unwrap();
        let apdu = build(&mut card);
        old = snapshot(card.storage().inner());
        let before = card.storage().writes();
        exchange(&mut card, &apdu);
        writes = card.storage().writes() - before;
    }
    (old, snapshot(&storage), writes)
}

/// Cuts power after every write of the command (`build`), torn or not, and during recovery;
/// the state must be old, new, or one of `also`.
fn check_atomic(base: &Storage, build: Build, also: &[Vec<u8>]) {
    let (old, new, writes) = reference(base, build);
    assert!(writes > 0);
    cut_at_every_write(base, writes, build, |_, state, cut, tear| {
        assert!(
            state == old || state == new || also.contains(&state),
            "cut after {cut} writes (tear {tear}) left a mixed state"
        );
    });
}

fn select(card: &mut Card<&mut TearingStorage<&mut Storage>>) {
    swb(card, &hex(SELECT_SSSE_FID));
}

fn right_verify(card: &mut Card<&mut TearingStorage<&mut Storage>>) -> Vec<u8> {
    select(card);
    hex("00200000 03 123456")
}

fn wrong_verify(card: &mut Card<&mut TearingStorage<&mut Storage>>) -> Vec<u8> {
    select(card);
    hex("00200000 03 111111")
}

#[test]
fn verify_right_and_wrong_never_gives_a_try_back() {
    let base = issued_storage();
    // A cut during a right VERIFY may leave the try spent: the state a wrong VERIFY leaves.
    let (_, spent, _) = reference(&base, wrong_verify);
    check_atomic(&base, right_verify, std::slice::from_ref(&spent));
    // A wrong VERIFY: old or one try fewer, never more.
    check_atomic(&base, wrong_verify, &[]);
}

#[test]
fn change_pin_and_reference_data_are_atomic() {
    let base = issued_storage();
    let (_, spent, _) = reference(&base, wrong_verify);
    check_atomic(
        &base,
        |c| {
            select(c);
            hex("805E0100 07 123456 FF 654321")
        },
        std::slice::from_ref(&spent),
    );
    check_atomic(
        &base,
        |c| {
            select(c);
            hex("00240000 06 123456 654321")
        },
        std::slice::from_ref(&spent),
    );
}

fn mac_command(
    card: &mut Card<&mut TearingStorage<&mut Storage>>,
    id: u8,
    header: [u8; 4],
    data: &[u8],
    good: bool,
) -> Vec<u8> {
    select(card);
    let c = challenge(card);
    let mut apdu = with_mac(id, &c, header, data);
    if !good {
        *apdu.last_mut().unwrap() ^= 1;
    }
    apdu
}

#[test]
fn pin_unblock_and_reload_are_atomic() {
    let base = issued_storage();
    let (_, spent, _) = reference(&base, |c| {
        mac_command(c, UNBLOCK, [0x84, 0x24, 0, UNBLOCK], &[], false)
    });
    check_atomic(
        &base,
        |c| mac_command(c, UNBLOCK, [0x84, 0x24, 0, UNBLOCK], &[], true),
        std::slice::from_ref(&spent),
    );
    let (_, spent, _) = reference(&base, |c| {
        mac_command(c, RELOAD, [0x84, 0x2C, 0, RELOAD], &[0x77, 0x88], false)
    });
    check_atomic(
        &base,
        |c| mac_command(c, RELOAD, [0x84, 0x2C, 0, RELOAD], &[0x77, 0x88], true),
        std::slice::from_ref(&spent),
    );
}

#[test]
fn external_authenticate_and_secure_messaging_are_atomic() {
    let base = issued_storage();
    fn auth(card: &mut Card<&mut TearingStorage<&mut Storage>>, with: u8) -> Vec<u8> {
        select(card);
        let c = challenge(card);
        let mut apdu = hex("00820004 08");
        apdu.extend_from_slice(external_cryptogram(&key(with), &c).unwrap().as_bytes());
        apdu
    }
    let (_, spent, _) = reference(&base, |c| auth(c, MAC));
    check_atomic(&base, |c| auth(c, EXTERNAL), std::slice::from_ref(&spent));
    check_atomic(&base, |c| auth(c, MAC), &[]);
    let (_, spent, _) = reference(&base, |c| {
        mac_command(c, MAC, [0x04, 0xD6, 0x95, 0], b"12", false)
    });
    check_atomic(
        &base,
        |c| mac_command(c, MAC, [0x04, 0xD6, 0x95, 0], b"12", true),
        std::slice::from_ref(&spent),
    );
}

#[test]
fn blocking_commands_are_atomic() {
    let base = issued_storage();
    let (_, spent, _) = reference(&base, |c| {
        mac_command(c, MAC, [0x84, 0x1E, 0, 1], &[], false)
    });
    check_atomic(
        &base,
        |c| mac_command(c, MAC, [0x84, 0x1E, 0, 1], &[], true),
        std::slice::from_ref(&spent),
    );
    check_atomic(
        &base,
        |c| mac_command(c, MAC, [0x84, 0x16, 0, 0], &[], true),
        std::slice::from_ref(&spent),
    );
}

#[test]
fn personalisation_commands_are_atomic() {
    let base = personalised_storage();
    check_atomic(
        &base,
        |c| {
            select(c);
            write_key(0x30, 1)
        },
        &[],
    );
    check_atomic(
        &base,
        |c| {
            select(c);
            write_key(EXTERNAL, 1)
        },
        &[],
    );
    check_atomic(
        &base,
        |c| {
            select(c);
            hex("80D40100 05 03 12345678")
        },
        &[],
    );
    check_atomic(&base, |_| hex("80F00200"), &[]);
    check_atomic(
        &base,
        |c| {
            select(c);
            hex("0084000008")
        },
        &[],
    );
}
