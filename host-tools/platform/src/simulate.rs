//! Settlement records as a card signs them, from the issuer keys: for simulated tills, tests,
//! benchmarks and demos (a real till uploads what the card answered).

use card_os::crypto::purse::{Purchase, Settings};
use file_structures::personalise::IssuerKeys;

use crate::error::PlatformError;
use crate::model::SettlementRecord;
use crate::registry::{algorithm_of, hex_field};

/// The card's purchase, its TAC computed with the card's DTK (DF04 key 33) as the card does.
#[allow(clippy::too_many_arguments)]
pub fn signed_purchase(
    keys: &IssuerKeys,
    card_number: &str,
    card_id_code: &str,
    version: &str,
    serial: u16,
    balance_before: u32,
    amount: u32,
    time: &str,
) -> Result<SettlementRecord, PlatformError> {
    let cic = hex_field::<16>("card_id_code", card_id_code)?;
    let dtk = keys
        .card_key("DF04", 0x33, algorithm_of(version)?, &cic)
        .map_err(|e| PlatformError::invalid("card_id_code", e.to_string()))?;
    let mut amounts = [0u8; 12];
    amounts[..4].copy_from_slice(&amount.to_be_bytes());
    let terminal_no = "330300000001";
    let terminal_serial = u32::from(serial).to_be_bytes();
    let purchase = Purchase {
        amounts,
        terminal_no: hex_field::<6>("terminal_no", terminal_no)?,
        terminal_serial,
        time: hex_field::<7>("time", time)?,
    };
    let tac = purchase
        .tac(&dtk, Settings::default())
        .map_err(|e| PlatformError::invalid("tac", format!("{e:?}")))?;
    Ok(SettlementRecord {
        card_number: card_number.into(),
        serial,
        balance_before,
        account_fen: amount,
        self_pay_fen: 0,
        pooled_fen: 0,
        terminal_no: terminal_no.into(),
        terminal_serial: hex::encode_upper(terminal_serial),
        time: time.into(),
        tac: hex::encode_upper(tac),
    })
}
