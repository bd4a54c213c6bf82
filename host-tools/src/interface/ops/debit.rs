//! iDoDebit, iDoDebit_HSM_Step1/2, iReadDebitRecord: the medical-insurance debit. Their
//! parameters are parsed and checked here (pPayInfo's grammar, the card named by pCardInfo); the
//! card's medical purse itself does not exist yet (the settlement issue adds it), so the purse
//! step answers −13 with that reason, after every check before it has passed.

use super::{check_chars, key_hex, key_items, pins, CardInfo};
use crate::interface::api::Driver;
use crate::interface::codes::{self, Failure, Outcome};
use crate::interface::session::CardSession;
use crate::interface::text::split_list;

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

fn no_purse() -> Failure {
    Failure::new(
        codes::NOT_SUPPORTED,
        "the card has no medical purse yet (DF04 purse and its debit commands come with the settlement issue): no debit was made",
    )
}

/// The checks every debit function makes before it would reach the purse.
fn open_checked(
    driver: &mut Driver,
    i_type: i32,
    card_info: Option<&CardInfo>,
) -> Result<(), Failure> {
    let config = driver.config()?;
    let session = match card_info {
        Some(info) => pins::open_named(&config, i_type, info)?.0,
        None => {
            let mut s = CardSession::open(&config, i_type)?;
            if let Err(e) = s.card_facts() {
                s.close();
                return Err(e);
            }
            s
        }
    };
    session.close();
    Err(no_purse())
}

pub fn do_debit(driver: &mut Driver, i_type: i32, card_info: &str, pay_info: &str) -> Outcome {
    let info = CardInfo::parse(card_info)?;
    PayInfo::parse(pay_info)?;
    open_checked(driver, i_type, Some(&info)).map(|()| String::new())
}

pub fn read_debit_record(driver: &mut Driver, i_type: i32) -> Outcome {
    open_checked(driver, i_type, None).map(|()| String::new())
}

pub fn hsm_step1(driver: &mut Driver, i_type: i32, card_info: &str, pay_info: &str) -> Outcome {
    let info = CardInfo::parse(card_info)?;
    PayInfo::parse(pay_info)?;
    open_checked(driver, i_type, Some(&info)).map(|()| String::new())
}

/// pKey: `<8 hex MAC1>|`.
pub fn hsm_step2(_driver: &mut Driver, key: &str) -> Outcome {
    let items = key_items(key, 1)?;
    key_hex(items[0], 4, "MAC1")?;
    Err(no_purse())
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
