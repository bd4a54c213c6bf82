//! iDoDebit, iDoDebit_HSM_Step1/2, iReadDebitRecord: the medical-insurance debit from the card's
//! purse. Their parameters are parsed and checked here (pPayInfo's grammar, the card named by
//! pCardInfo); the purse flow itself is the settlement terminal's
//! ([`crate::jobs::settlement::settle`], [`crate::jobs::settlement::read_purse`]): this module
//! only adapts its inputs and outputs to the national formats. The HSM pair splits the same
//! flow at the MAC1 ([`settlement::start_purchase`] in Step1, [`settlement::debit_purchase`] in
//! Step2), the back office's HSM computing MAC1 in between; both paths share the journal.

use std::path::{Path, PathBuf};

use card_os::crypto::purse::TYPE_PURCHASE;
use card_os::crypto::{Algorithm, Pin};

use super::{check_chars, key_hex, key_items, pins, CardInfo};
use crate::interface::api::{Driver, Pending};
use crate::interface::codes::{self, Failure, Outcome};
use crate::interface::config::{Config, PinCodes};
use crate::interface::pin::PROMPT_PIN;
use crate::interface::session::{require_psam, security_failure, CardSession};
use crate::interface::text::{list, split_list};
use crate::jobs::activation::{LostList, SecurityModule};
use crate::jobs::settlement::{
    self, fen_to_yuan, Amounts, InitialisedPurchase, PinEntry, PurchaseRequest, Receipt,
    SettleError, SettlementJournal, Started, Terminal, TradeTime,
};

/// pPayInfo: `total amount | account + pooled amount | YYYYMMDDHHMMSS |`, amounts in yuan with
/// two decimals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayInfo {
    /// In fen (hundredths of a yuan).
    pub total: u64,
    pub account_and_pooled: u64,
    pub time: String,
}

/// The largest amount a debit may carry: a 4-byte purse counts fen up to 2^32 - 1.
const AMOUNT_MAX_FEN: u64 = u32::MAX as u64;

fn amount(text: &str, what: &str) -> Result<u64, Failure> {
    let (yuan, fen) = text.split_once('.').ok_or_else(|| {
        Failure::new(
            codes::ILLEGAL_DATA,
            format!("{what} is yuan with two decimals (12.50)"),
        )
    })?;
    if !yuan.bytes().chain(fen.bytes()).all(|b| b.is_ascii_digit()) || yuan.is_empty() {
        return Err(Failure::new(
            codes::ILLEGAL_CHARACTERS,
            format!("{what} is digits and one '.'"),
        ));
    }
    if fen.len() != 2 || yuan.len() > 8 {
        return Err(Failure::new(
            codes::ILLEGAL_LENGTH,
            format!("{what} has at most 8 digits of yuan and exactly 2 decimals"),
        ));
    }
    let value =
        yuan.parse::<u64>().unwrap_or(u64::MAX / 1000) * 100 + fen.parse::<u64>().unwrap_or(0);
    if value > AMOUNT_MAX_FEN {
        return Err(Failure::new(
            codes::ILLEGAL_DATA,
            format!("{what} is too large for the purse"),
        ));
    }
    Ok(value)
}

impl PayInfo {
    pub fn parse(text: &str) -> Result<PayInfo, Failure> {
        check_chars(text, "pPayInfo", false)?;
        let items = split_list(text).ok_or_else(|| {
            Failure::new(
                codes::BAD_PARAMETER,
                "pPayInfo is 'total|account+pooled|YYYYMMDDHHMMSS|'",
            )
        })?;
        let [total, paid, time] = items[..] else {
            return Err(Failure::new(
                codes::BAD_PARAMETER,
                format!("pPayInfo has {} items, not 3", items.len()),
            ));
        };
        let total = amount(total, "the total amount")?;
        let account_and_pooled = amount(paid, "the account and pooled amount")?;
        if account_and_pooled > total {
            return Err(Failure::new(
                codes::ILLEGAL_DATA,
                "the account and pooled amount exceeds the total",
            ));
        }
        if !time.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Failure::new(
                codes::ILLEGAL_CHARACTERS,
                "the time is digits YYYYMMDDHHMMSS",
            ));
        }
        if time.len() != 14 {
            return Err(Failure::new(
                codes::ILLEGAL_LENGTH,
                "the time is 14 digits YYYYMMDDHHMMSS",
            ));
        }
        let (date, clock) = time.split_at(8);
        let field = |range: std::ops::Range<usize>| clock[range].parse::<u8>().unwrap_or(99);
        if file_structures::codec::encode(file_structures::codec::Encoding::Date, 4, date).is_err()
            || field(0..2) > 23
            || field(2..4) > 59
            || field(4..6) > 59
        {
            return Err(Failure::new(
                codes::ILLEGAL_DATA,
                "the time is not a calendar time",
            ));
        }
        Ok(PayInfo {
            total,
            account_and_pooled,
            time: time.to_owned(),
        })
    }
}

/// The purse's amounts of a pPayInfo: the account and pooled amount is what the purse pays
/// (`account`); the rest of the total is the holder's self-pay, recorded with it (the card adds
/// it to its yearly total). The card does not split account from pooled funds.
fn amounts(pay: &PayInfo) -> Result<Amounts, Failure> {
    let paid = u32::try_from(pay.account_and_pooled).unwrap_or(u32::MAX);
    let self_pay = u32::try_from(pay.total - pay.account_and_pooled).unwrap_or(u32::MAX);
    Amounts::new(paid, self_pay, 0).map_err(|e| Failure::new(codes::ILLEGAL_DATA, e.to_string()))
}

/// The PIN for the settlement, asked from the driver's PIN source; a failure of the source
/// (cancelled, timed out) is kept to be reported with its own code.
struct PadPin<'d> {
    driver: &'d mut Driver,
    failure: Option<Failure>,
}

impl PinEntry for PadPin<'_> {
    fn pin(&mut self) -> Result<Pin, SettleError> {
        match self.driver.pad().and_then(|pad| pad.ask(PROMPT_PIN)) {
            Ok(pin) => Ok(pin),
            Err(failure) => {
                self.failure = Some(failure);
                Err(SettleError::PinForm)
            }
        }
    }
}

/// The settlement journal of the library: beside its configuration file, so that a debit torn
/// by a pulled card is completed (not paid twice) by the next call with the same card.
fn journal_path(config: &Config) -> PathBuf {
    config
        .source
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(DEBIT_JOURNAL)
}

/// The journal's file name, beside the configuration.
pub const DEBIT_JOURNAL: &str = "sscard-debit-journal.jsonl";

fn open_journal(config: &Config) -> Result<SettlementJournal, Failure> {
    SettlementJournal::open(&journal_path(config)).map_err(|e| {
        Failure::new(
            codes::CANNOT_LOAD,
            format!("the debit journal cannot be opened: {e}"),
        )
    })
}

/// A refused or failed settlement as the interface's code: a card's status word negated
/// (9401 balance → −37889), the PIN codes, the PSAM's codes, the link's.
pub(crate) fn settle_failure(config: &Config, e: SettleError) -> Failure {
    let message = e.to_string();
    match e {
        SettleError::WrongPin { tries_left } => match config.pin_codes {
            PinCodes::Short if tries_left == 0 => Failure::new(codes::PIN_BLOCKED, message),
            PinCodes::Short => Failure::new(codes::PIN_WRONG, format!("{tries_left}")),
            _ => Failure::new(codes::of_sw(0x63C0 | u16::from(tries_left)), message),
        },
        SettleError::PinBlocked => match config.pin_codes {
            PinCodes::Short => Failure::new(codes::PIN_BLOCKED, message),
            _ => Failure::new(codes::of_sw(0x6983), message),
        },
        SettleError::InitialPin => Failure::new(codes::INITIAL_PIN, message),
        SettleError::FakeCard => Failure::new(codes::FAKE_CARD, message),
        SettleError::Security(s) => security_failure(s),
        SettleError::Client(c) => Failure::from(c),
        SettleError::Amount(_) => Failure::new(codes::ILLEGAL_DATA, message),
        other => match other.status_word() {
            Some(sw) => Failure::new(codes::of_sw(sw), message),
            None => Failure::new(codes::ILLEGAL_DATA, message),
        },
    }
}

pub fn do_debit(driver: &mut Driver, i_type: i32, card_info: &str, pay_info: &str) -> Outcome {
    let info = CardInfo::parse(card_info)?;
    let pay = PayInfo::parse(pay_info)?;
    let amounts = amounts(&pay)?;
    let time = TradeTime::parse(&pay.time)
        .map_err(|e| Failure::new(codes::ILLEGAL_DATA, e.to_string()))?;
    let config = driver.config()?;
    let mut psam = require_psam(&driver.readers(), &config)?;
    let (mut session, _facts) = pins::open_named(&driver.readers(), &config, i_type, &info)?;
    let result = (|| {
        let terminal = Terminal::from_psam(&mut *psam, LostList::default())
            .map_err(|e| settle_failure(&config, e))?;
        let mut journal = open_journal(&config)?;
        let request = PurchaseRequest { amounts, time };
        let mut pin = PadPin {
            driver: &mut *driver,
            failure: None,
        };
        let settled = settlement::settle(
            &mut session.client,
            &mut *psam,
            &session.layout,
            &terminal,
            &request,
            &mut pin,
            &mut journal,
        );
        let receipt = match (settled, pin.failure) {
            (Ok(receipt), _) => receipt,
            (Err(_), Some(failure)) => return Err(failure),
            (Err(e), None) => return Err(settle_failure(&config, e)),
        };
        let purse = session
            .layout
            .purse
            .as_ref()
            .map(|p| p.settings.type_byte(TYPE_PURCHASE))
            .unwrap_or(TYPE_PURCHASE);
        let algorithm = Algorithm::from_byte(receipt.algorithm)
            .map(CardSession::algorithm_id)
            .unwrap_or("04");
        Ok([
            algorithm.to_owned(),
            format!("{:02X}", terminal.key_index),
            fen_to_yuan(receipt.amounts.account),
            format!("{purse:02X}"),
            receipt.terminal_no.clone(),
            receipt.terminal_serial.clone().unwrap_or_default(),
            receipt.time.clone(),
            receipt.tac.clone(),
        ]
        .iter()
        .map(|item| format!("{item}|"))
        .collect())
    })();
    session.close();
    result
}

/// iReadDebitRecord's buffer: 2048 bytes with the terminating NUL.
const RECORDS_MAX: usize = 2047;

/// The card's purchase records, newest first, as `serial^terminal^time^total^account+pooled^`
/// joined by `|`; as many whole records as fit the buffer.
pub fn read_debit_record(driver: &mut Driver, i_type: i32) -> Outcome {
    let config = driver.config()?;
    let mut session = CardSession::open(&driver.readers(), &config, i_type)?;
    let result = (|| {
        session.card_facts()?;
        let mut pin = PadPin {
            driver: &mut *driver,
            failure: None,
        };
        let state = match (
            settlement::read_purse(&mut session.client, &session.layout, &mut pin),
            pin.failure,
        ) {
            (Ok(state), _) => state,
            (Err(_), Some(failure)) => return Err(failure),
            (Err(e), None) => return Err(settle_failure(&config, e)),
        };
        let mut out = String::new();
        for record in state.records.iter().filter(|r| r.kind == "settlement") {
            let paid = u64::from(record.account) + u64::from(record.pooled.unwrap_or(0));
            let total = paid + u64::from(record.self_pay.unwrap_or(0));
            let text = format!(
                "{:04X}^{}^{}^{}^{}^|",
                record.serial,
                record.terminal_no,
                record.time,
                fen_to_yuan(u32::try_from(total).unwrap_or(u32::MAX)),
                fen_to_yuan(u32::try_from(paid).unwrap_or(u32::MAX)),
            );
            if out.len() + text.len() > RECORDS_MAX {
                break;
            }
            out.push_str(&text);
        }
        Ok(out)
    })();
    session.close();
    result
}

/// The algorithm id of the national formats of a card key's algorithm byte.
fn algorithm_id(byte: u8) -> &'static str {
    Algorithm::from_byte(byte)
        .map(CardSession::algorithm_id)
        .unwrap_or("04")
}

/// What iDoDebit_HSM_Step1 keeps for Step2: the card, powered and in its purchase.
pub(crate) struct DebitPending {
    pub session: CardSession,
    purchase: Box<InitialisedPurchase>,
}

/// The HSM path's amounts: Step1's format carries one amount for the HSM's MAC1, so the purse
/// is given the account and pooled amount alone (self-pay and pooled 0); docs/reader-interface.md,
/// "The HSM debit".
fn hsm_amounts(pay: &PayInfo) -> Result<Amounts, Failure> {
    let paid = u32::try_from(pay.account_and_pooled).unwrap_or(u32::MAX);
    Amounts::new(paid, 0, 0).map_err(|e| Failure::new(codes::ILLEGAL_DATA, e.to_string()))
}

/// The terminal number of the HSM path: the configured one, else twelve zeros.
fn hsm_terminal_no(config: &Config) -> [u8; 6] {
    config
        .psam_terminal_number
        .as_deref()
        .and_then(|n| hex::decode(n).ok())
        .and_then(|b| b.try_into().ok())
        .unwrap_or([0; 6])
}

/// A debit's outcome in iDoDebit_HSM_Step2's 9 items: `MAC2 | alg id | key address | amount |
/// type | terminal no. | terminal serial | time | TAC |`.
fn step2_items(receipt: &Receipt, mac2: &str, key_index: u8, kind: u8) -> String {
    list([
        mac2.to_owned(),
        algorithm_id(receipt.algorithm).to_owned(),
        format!("{key_index:02X}"),
        fen_to_yuan(receipt.amounts.account),
        format!("{kind:02X}"),
        receipt.terminal_no.clone(),
        receipt.terminal_serial.clone().unwrap_or_default(),
        receipt.time.clone(),
        receipt.tac.clone(),
    ])
}

/// iDoDebit_HSM_Step1: the card named by pCardInfo; the settlement's checks (the journal's open
/// transaction of this card resolved first, the lost list, the expiry, the PIN at the pad);
/// INITIALIZE FOR PURCHASE; then `alg id | key address | random | purchase serial | amount | type
/// | terminal no. | time |` for the HSM, the card kept powered in its purchase for Step2.
pub fn hsm_step1(driver: &mut Driver, i_type: i32, card_info: &str, pay_info: &str) -> Outcome {
    let info = CardInfo::parse(card_info)?;
    let pay = PayInfo::parse(pay_info)?;
    let amounts = hsm_amounts(&pay)?;
    let time = TradeTime::parse(&pay.time)
        .map_err(|e| Failure::new(codes::ILLEGAL_DATA, e.to_string()))?;
    let config = driver.config()?;
    let (mut session, _facts) = pins::open_named(&driver.readers(), &config, i_type, &info)?;
    let started = (|| {
        let key_index = settlement::purchase_key_index(&session.layout)
            .map_err(|e| settle_failure(&config, e))?;
        let terminal = Terminal {
            terminal_no: hsm_terminal_no(&config),
            key_index,
            lost: LostList::default(),
        };
        let mut journal = open_journal(&config)?;
        let request = PurchaseRequest { amounts, time };
        let mut pin = PadPin {
            driver: &mut *driver,
            failure: None,
        };
        let started = settlement::start_purchase(
            &mut session.client,
            None::<&mut dyn SecurityModule>,
            &session.layout,
            &terminal,
            &request,
            &mut pin,
            &mut journal,
            &mut settlement::registry::NoApproval,
        );
        match (started, pin.failure) {
            (Ok(started), _) => Ok(started),
            (Err(_), Some(failure)) => Err(failure),
            (Err(e), None) => Err(settle_failure(&config, e)),
        }
    })();
    match started {
        Ok(Started::Initialised(purchase)) => {
            let kind = purchase.settings.type_byte(TYPE_PURCHASE);
            let out = list([
                algorithm_id(purchase.init.algorithm).to_owned(),
                format!("{:02X}", purchase.key_index),
                hex::encode_upper(purchase.init.random),
                format!("{:04X}", purchase.init.serial),
                fen_to_yuan(purchase.amounts.account),
                format!("{kind:02X}"),
                hex::encode_upper(purchase.terminal_no),
                purchase.time.text(),
            ]);
            driver.pending = Some(Pending::Debit(DebitPending { session, purchase }));
            Ok(out)
        }
        Ok(Started::Resumed(receipt)) => {
            // An earlier debit of this card was torn after the card debited: it is complete now
            // (GET TRANSACTION PROOF) and is not paid again. Its outcome goes to the caller.
            let kind = session
                .layout
                .purse
                .as_ref()
                .map_or(TYPE_PURCHASE, |p| p.settings.type_byte(TYPE_PURCHASE));
            let key_index = settlement::purchase_key_index(&session.layout).unwrap_or_default();
            session.close();
            Err(Failure::new(
                codes::DATA_DIFFERS,
                format!(
                    "this card's previous debit (card serial {:04X}) was completed before the card was pulled and is not paid again; start a new debit with Step1; it was: {}",
                    receipt.serial,
                    step2_items(&receipt, "", key_index, kind)
                ),
            ))
        }
        Err(e) => {
            session.close();
            Err(e)
        }
    }
}

/// pKey: `terminal serial | time | MAC1 |` (8 hex digits, `YYYYMMDDHHMMSS`, 8 hex digits).
/// DEBIT FOR PURCHASE with them, journalled as the PSAM path's; the card's refusal is its status
/// word negated (a wrong MAC1: 9302 → −37634), and it changes neither balance nor log.
pub fn hsm_step2(driver: &mut Driver, key: &str) -> Outcome {
    let items = key_items(key, 3)?;
    let serial = key_hex(items[0], 4, "the terminal serial")?;
    if !items[1].bytes().all(|b| b.is_ascii_digit()) {
        return Err(Failure::new(
            codes::ILLEGAL_CHARACTERS,
            "the time in pKey is digits YYYYMMDDHHMMSS",
        ));
    }
    if items[1].len() != 14 {
        return Err(Failure::new(
            codes::ILLEGAL_LENGTH,
            "the time in pKey is 14 digits YYYYMMDDHHMMSS",
        ));
    }
    let mac1 = key_hex(items[2], 4, "MAC1")?;
    let (Ok(serial), Ok(mac1)) = (<[u8; 4]>::try_from(serial), <[u8; 4]>::try_from(mac1)) else {
        return Err(Failure::new(
            codes::ILLEGAL_LENGTH,
            "pKey's items are 4 bytes",
        ));
    };
    let Some(Pending::Debit(pending)) = driver.pending.take() else {
        if let Some(other) = driver.pending.take() {
            other.into_session().close();
        }
        return Err(Failure::new(
            codes::NO_CONNECTION,
            "no iDoDebit_HSM_Step1 before this Step2",
        ));
    };
    let DebitPending {
        mut session,
        purchase,
    } = pending;
    let result = (|| {
        if items[1] != purchase.time.text() {
            return Err(Failure::new(
                codes::DATA_DIFFERS,
                "pKey answers another Step1 (its time differs)",
            ));
        }
        let config = driver.config()?;
        let mut journal = open_journal(&config)?;
        let (receipt, mac2) = settlement::debit_purchase(
            &mut session.client,
            &purchase,
            serial,
            mac1,
            &mut journal,
            |_| Ok(()),
        )
        .map_err(|e| settle_failure(&config, e))?;
        let kind = purchase.settings.type_byte(TYPE_PURCHASE);
        Ok(step2_items(
            &receipt,
            &hex::encode_upper(mac2),
            purchase.key_index,
            kind,
        ))
    })();
    session.close();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pay_info_grammar() {
        let p = PayInfo::parse("12.50|10.00|20240401093000|").unwrap();
        assert_eq!((p.total, p.account_and_pooled), (1250, 1000));
        for (text, code) in [
            ("12.50|10.00|20240401093000", -14),
            ("12.50|10.00|", -14),
            ("12.5|10.00|20240401093000|", -42),
            ("12,50|10.00|20240401093000|", -23),
            ("1a.50|10.00|20240401093000|", -41),
            ("12.50|13.00|20240401093000|", -23),
            ("12.50|10.00|2024040109300|", -42),
            ("12.50|10.00|2024040109300X|", -41),
            ("12.50|10.00|20240231093000|", -23),
            ("12.50|10.00|20240401253000|", -23),
            ("123456789.00|1.00|20240401093000|", -42),
            ("99999999.99|1.00|20240401093000|", -23),
        ] {
            assert_eq!(PayInfo::parse(text).unwrap_err().code, code, "{text:?}");
        }
    }
}
