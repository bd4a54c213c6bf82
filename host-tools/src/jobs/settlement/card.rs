//! The purse commands of the card (CLA `B0`, docs/settlement.md "Commands and status words") and
//! the PIN, built with the one host APDU builder (`file_structures::apdu`) and sent through the
//! one client. Each returns
//! the card's answer or its status word; the caller decides what a status word means.

use card_os::crypto::purse::{PurseMac, Settings};
use card_os::crypto::Pin;

use super::input::Amounts;
use super::SettleError;
use crate::protocol::apdu::{build, Status};
use crate::protocol::client::Client;
use crate::transport::CardTransport;

/// What INITIALIZE FOR PURCHASE answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseInit {
    pub balance: u32,
    pub spip: u32,
    pub spfp: u32,
    pub payment_year: [u8; 2],
    /// The purchase counter (2 bytes on the card whatever the wire carries).
    pub serial: u16,
    pub key_version: u8,
    pub algorithm: u8,
    pub random: [u8; 4],
}

/// What INITIALIZE FOR LOAD answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadInit {
    pub balance: u32,
    pub serial: u16,
    pub key_version: u8,
    pub algorithm: u8,
    pub random: [u8; 4],
    pub mac1: PurseMac,
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    data.get(at..at + 4)?
        .try_into()
        .ok()
        .map(u32::from_be_bytes)
}

fn array<const N: usize>(data: &[u8], at: usize) -> Option<[u8; N]> {
    data.get(at..at + N)?.try_into().ok()
}

/// A refusal unless `sw` is `9000`.
fn ok(command: &'static str, sw: Status) -> Result<(), SettleError> {
    if sw == Status::Success {
        Ok(())
    } else {
        Err(SettleError::from_card(command, sw))
    }
}

fn short(command: &'static str) -> SettleError {
    SettleError::Unreadable(format!("{command} answered too few bytes"))
}

/// VERIFY of the holder PIN: `63Cx` is a wrong PIN with x tries left, `6983` a blocked one.
pub fn verify_pin<T: CardTransport>(client: &mut Client<T>, pin: &Pin) -> Result<(), SettleError> {
    let answer = client.send(&build::verify(pin))?;
    match answer.sw {
        Status::Success => Ok(()),
        Status::Counter(0) | Status::AuthenticationMethodBlocked => Err(SettleError::PinBlocked),
        Status::Counter(left) => Err(SettleError::WrongPin { tries_left: left }),
        sw => Err(SettleError::from_card("VERIFY", sw)),
    }
}

/// SET DATE: the card has no clock; the six-month rule of a card not yet activated is judged on
/// this date. A card that does not know the command keeps its own rule: ignored.
pub fn set_date<T: CardTransport>(
    client: &mut Client<T>,
    date: &[u8; 4],
) -> Result<(), SettleError> {
    client.send(&build::set_date(date))?;
    Ok(())
}

/// GET BALANCE of the account (`B0 26 00 01 04`).
pub fn get_balance<T: CardTransport>(client: &mut Client<T>) -> Result<u32, SettleError> {
    let answer = client.send(&build::get_balance(0x01))?;
    ok("GET BALANCE", answer.sw)?;
    u32_at(&answer.data, 0).ok_or_else(|| short("GET BALANCE"))
}

/// INITIALIZE FOR PURCHASE (`B0 28 01 01 13`).
pub fn init_purchase<T: CardTransport>(
    client: &mut Client<T>,
    settings: Settings,
    key_index: u8,
    amounts: Amounts,
    terminal_no: &[u8; 6],
) -> Result<PurchaseInit, SettleError> {
    let serial_len = settings.serial_len();
    let answer = client.send(&build::init_for_purchase(
        key_index,
        &amounts.to_bytes(),
        terminal_no,
        serial_len,
    ))?;
    ok("INITIALIZE FOR PURCHASE", answer.sw)?;
    let d = &answer.data;
    let at = 14 + serial_len;
    let parse = || -> Option<PurchaseInit> {
        let serial: [u8; 2] = array(d, at - 2)?;
        Some(PurchaseInit {
            balance: u32_at(d, 0)?,
            spip: u32_at(d, 4)?,
            spfp: u32_at(d, 8)?,
            payment_year: array(d, 12)?,
            serial: u16::from_be_bytes(serial),
            key_version: *d.get(at)?,
            algorithm: *d.get(at + 1)?,
            random: array(d, at + 2)?,
        })
    };
    parse().ok_or_else(|| short("INITIALIZE FOR PURCHASE"))
}

/// DEBIT FOR PURCHASE (`B0 2C 01 00 0F`): the TAC and MAC2.
pub fn debit<T: CardTransport>(
    client: &mut Client<T>,
    terminal_serial: &[u8; 4],
    time: &[u8; 7],
    mac1: &PurseMac,
) -> Result<(PurseMac, PurseMac), SettleError> {
    let answer = client.send(&build::debit_for_purchase(terminal_serial, time, mac1))?;
    ok("DEBIT FOR PURCHASE", answer.sw)?;
    match (array(&answer.data, 0), array(&answer.data, 4)) {
        (Some(tac), Some(mac2)) => Ok((tac, mac2)),
        _ => Err(short("DEBIT FOR PURCHASE")),
    }
}

/// GET TRANSACTION PROOF (`B0 2E 00 <type> 02`): `Some((MAC, TAC))` when the transaction with
/// this serial happened, `None` when the card answers `9406` (it did not).
pub fn transaction_proof<T: CardTransport>(
    client: &mut Client<T>,
    settings: Settings,
    proof_type: u8,
    serial: u16,
) -> Result<Option<(PurseMac, PurseMac)>, SettleError> {
    let mut data = [0u8; 4];
    data[2..].copy_from_slice(&serial.to_be_bytes());
    let data = &data[4 - settings.serial_len()..];
    let answer = client.send(&build::get_transaction_proof(proof_type, data))?;
    if answer.sw == Status::MAC_NOT_AVAILABLE {
        return Ok(None);
    }
    ok("GET TRANSACTION PROOF", answer.sw)?;
    match (array(&answer.data, 0), array(&answer.data, 4)) {
        (Some(mac), Some(tac)) => Ok(Some((mac, tac))),
        _ => Err(short("GET TRANSACTION PROOF")),
    }
}

/// INITIALIZE FOR LOAD (`B0 28 00 01 0B`).
pub fn init_load<T: CardTransport>(
    client: &mut Client<T>,
    key_index: u8,
    amount: u32,
    terminal_no: &[u8; 6],
) -> Result<LoadInit, SettleError> {
    let answer = client.send(&build::init_for_load(key_index, amount, terminal_no))?;
    ok("INITIALIZE FOR LOAD", answer.sw)?;
    let d = &answer.data;
    let parse = || -> Option<LoadInit> {
        Some(LoadInit {
            balance: u32_at(d, 0)?,
            serial: u16::from_be_bytes(array(d, 4)?),
            key_version: *d.get(6)?,
            algorithm: *d.get(7)?,
            random: array(d, 8)?,
            mac1: array(d, 12)?,
        })
    };
    parse().ok_or_else(|| short("INITIALIZE FOR LOAD"))
}

/// CREDIT FOR LOAD (`B0 2A 00 00 0B`): the TAC.
pub fn credit_load<T: CardTransport>(
    client: &mut Client<T>,
    time: &[u8; 7],
    mac2: &PurseMac,
) -> Result<PurseMac, SettleError> {
    let answer = client.send(&build::credit_for_load(time, mac2))?;
    ok("CREDIT FOR LOAD", answer.sw)?;
    array(&answer.data, 0).ok_or_else(|| short("CREDIT FOR LOAD"))
}
