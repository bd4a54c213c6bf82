//! The functions themselves, over the session: each checks its parameters first (the spec's
//! parameter codes), then talks to the card.

pub mod address;
pub mod bas;
pub mod debit;
pub mod files;
pub mod hsm_files;
pub mod hsm_pin;
pub mod pins;

use crate::interface::api::{Arg, Driver, Signature};
use crate::interface::codes::{self, Failure, Outcome};
use crate::interface::session::CardFacts;
use crate::interface::text::split_list;

/// Arguments in C order, checked one by one.
pub(crate) struct Args<'a, 'b> {
    args: &'b [Arg<'a>],
    next: usize,
}

impl<'a> Args<'a, '_> {
    fn take(&mut self) -> Option<Arg<'a>> {
        let arg = self.args.get(self.next).copied();
        self.next += 1;
        arg
    }

    pub fn int(&mut self, name: &str) -> Result<i32, Failure> {
        match self.take() {
            Some(Arg::Int(n)) => Ok(n),
            _ => Err(Failure::new(
                codes::BAD_PARAMETER,
                format!("{name} must be a number"),
            )),
        }
    }

    /// A string parameter: a null pointer is −14.
    pub fn text(&mut self, name: &str) -> Result<&'a str, Failure> {
        match self.take() {
            Some(Arg::Text(Some(text))) => Ok(text),
            _ => Err(Failure::new(
                codes::BAD_PARAMETER,
                format!("{name} is missing (a null pointer)"),
            )),
        }
    }
}

/// The longest string parameter accepted (a pFileAddr of every file of a card is far shorter).
pub const PARAM_MAX: usize = 8 * 1024;

/// Characters a parameter may hold: printable ASCII, and GBK text in write data.
pub(crate) fn check_chars(text: &str, name: &str, allow_text: bool) -> Result<(), Failure> {
    if text.len() > PARAM_MAX {
        return Err(Failure::new(
            codes::ILLEGAL_LENGTH,
            format!("{name} is longer than {PARAM_MAX} bytes"),
        ));
    }
    let bad = text
        .chars()
        .find(|c| c.is_control() || (!allow_text && !c.is_ascii()));
    match bad {
        Some(c) => Err(Failure::new(
            codes::ILLEGAL_CHARACTERS,
            format!("{name} holds an illegal character {c:?}"),
        )),
        None => Ok(()),
    }
}

/// pCardInfo: `card identification code|card number|`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInfo {
    pub code_hex: String,
    pub card_number: String,
}

impl CardInfo {
    pub fn parse(text: &str) -> Result<CardInfo, Failure> {
        check_chars(text, "pCardInfo", false)?;
        let items = split_list(text).ok_or_else(|| {
            Failure::new(
                codes::BAD_PARAMETER,
                "pCardInfo is 'card identification code|card number|' (each item ends with '|')",
            )
        })?;
        let [code, number] = items[..] else {
            return Err(Failure::new(
                codes::BAD_PARAMETER,
                format!("pCardInfo has {} items, not 2", items.len()),
            ));
        };
        if !code.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Failure::new(
                codes::ILLEGAL_CHARACTERS,
                "the card identification code in pCardInfo is hex digits",
            ));
        }
        if code.len() != 32 {
            return Err(Failure::new(
                codes::ILLEGAL_LENGTH,
                "the card identification code in pCardInfo is 32 hex digits",
            ));
        }
        let bytes = hex::decode(code).unwrap_or_default();
        if file_structures::codec::decode(file_structures::codec::Encoding::CardIdCode, &bytes)
            .is_err()
        {
            return Err(Failure::new(
                codes::CARD_ID_FORMAT,
                "pCardInfo's card identification code is not region + D156000005 + 8 bytes",
            ));
        }
        if !number.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Failure::new(
                codes::ILLEGAL_CHARACTERS,
                "the card number in pCardInfo is digits and letters",
            ));
        }
        if number.len() != 9 {
            return Err(Failure::new(
                codes::ILLEGAL_LENGTH,
                "the card number in pCardInfo is 9 characters",
            ));
        }
        Ok(CardInfo {
            code_hex: code.to_ascii_uppercase(),
            card_number: number.to_owned(),
        })
    }

    /// −22 when the card in the reader is another card.
    pub fn check(&self, facts: &CardFacts) -> Result<(), Failure> {
        if self.code_hex != facts.code_hex || self.card_number != facts.card_number {
            return Err(Failure::new(
                codes::DATA_DIFFERS,
                "pCardInfo names another card than the one in the reader",
            ));
        }
        Ok(())
    }
}

/// Runs one function. Anything but the next Step of an open HSM exchange ends that exchange.
pub(crate) fn dispatch(driver: &mut Driver, signature: &Signature, args: &[Arg<'_>]) -> Outcome {
    let is_continuation =
        signature.name.contains("_HSM_Step") && !signature.name.ends_with("Step1");
    if !is_continuation {
        driver.drop_pending();
    }
    let mut a = Args { args, next: 0 };
    match signature.name {
        "iReadCardBas" => {
            let i_type = a.int("iType")?;
            bas::read_card_bas(driver, i_type)
        }
        "iReadCard" => {
            let (i_type, auth) = (a.int("iType")?, a.int("iAuthType")?);
            let info = a.text("pCardInfo")?;
            let addr = a.text("pFileAddr")?;
            files::read_card(driver, i_type, auth, info, addr)
        }
        "iWriteCard" => {
            let i_type = a.int("iType")?;
            let (info, addr) = (a.text("pCardInfo")?, a.text("pFileAddr")?);
            let data = a.text("pWriteData")?;
            files::write_card(driver, i_type, info, addr, data)
        }
        "iVerifyPIN" => pins::verify_pin(driver, a.int("iType")?),
        "iChangePIN" => pins::change_pin(driver, a.int("iType")?),
        "iReloadPIN" => {
            let i_type = a.int("iType")?;
            pins::reload_pin(driver, i_type, a.text("pCardInfo")?)
        }
        "iUnblockPIN" => {
            let i_type = a.int("iType")?;
            pins::unblock_pin(driver, i_type, a.text("pCardInfo")?)
        }
        "iDoDebit" => {
            let i_type = a.int("iType")?;
            let info = a.text("pCardInfo")?;
            debit::do_debit(driver, i_type, info, a.text("pPayInfo")?)
        }
        "iReadDebitRecord" => debit::read_debit_record(driver, a.int("iType")?),
        "iReadCardBas_HSM_Step1" => bas::hsm_step1(driver, a.int("iType")?),
        "iReadCardBas_HSM_Step2" => bas::hsm_step2(driver, a.text("pKey")?),
        "iReadCard_HSM_Step1" => {
            let i_type = a.int("iType")?;
            let (info, addr) = (a.text("pCardInfo")?, a.text("pFileAddr")?);
            hsm_files::step1(driver, hsm_files::Direction::Read, i_type, info, addr)
        }
        "iReadCard_HSM_Step2" => hsm_files::read_step2(driver, a.text("pKey")?),
        "iWriteCard_HSM_Step1" => {
            let i_type = a.int("iType")?;
            let (info, addr) = (a.text("pCardInfo")?, a.text("pFileAddr")?);
            hsm_files::step1(driver, hsm_files::Direction::Write, i_type, info, addr)
        }
        "iWriteCard_HSM_Step2" => {
            let key = a.text("pKey")?;
            hsm_files::write_step2(driver, key, a.text("pWriteData")?)
        }
        "iReloadPIN_HSM_Step1" => {
            let i_type = a.int("iType")?;
            hsm_pin::step1(driver, hsm_pin::Group::Reload, i_type, a.text("pCardInfo")?)
        }
        "iReloadPIN_HSM_Step2" => hsm_pin::step2(driver, hsm_pin::Group::Reload, a.text("pKey")?),
        "iReloadPIN_HSM_Step3" => hsm_pin::step3(driver, hsm_pin::Group::Reload, a.text("pKey")?),
        "iUnblockPIN_HSM_Step1" => {
            let i_type = a.int("iType")?;
            hsm_pin::step1(
                driver,
                hsm_pin::Group::Unblock,
                i_type,
                a.text("pCardInfo")?,
            )
        }
        "iUnblockPIN_HSM_Step2" => hsm_pin::step2(driver, hsm_pin::Group::Unblock, a.text("pKey")?),
        "iUnblockPIN_HSM_Step3" => hsm_pin::step3(driver, hsm_pin::Group::Unblock, a.text("pKey")?),
        "iDoDebit_HSM_Step1" => {
            let i_type = a.int("iType")?;
            let info = a.text("pCardInfo")?;
            debit::hsm_step1(driver, i_type, info, a.text("pPayInfo")?)
        }
        "iDoDebit_HSM_Step2" => debit::hsm_step2(driver, a.text("pKey")?),
        other => Err(Failure::new(
            codes::NOT_SUPPORTED,
            format!("{other} is not implemented"),
        )),
    }
}

/// 8 unpredictable bytes from the operating system.
pub(crate) fn random8() -> Result<[u8; 8], Failure> {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| {
            Failure::new(
                codes::CANNOT_LOAD,
                format!("no random numbers from the system: {e}"),
            )
        })?;
    Ok(bytes)
}

/// Parses a hex item of exactly `len` bytes of a pKey.
pub(crate) fn key_hex(item: &str, len: usize, what: &str) -> Result<Vec<u8>, Failure> {
    if !item.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Failure::new(
            codes::ILLEGAL_CHARACTERS,
            format!("{what} in pKey is hex digits"),
        ));
    }
    if item.len() != len * 2 {
        return Err(Failure::new(
            codes::ILLEGAL_LENGTH,
            format!("{what} in pKey is {} hex digits", len * 2),
        ));
    }
    hex::decode(item).map_err(|_| Failure::new(codes::ILLEGAL_CHARACTERS, "pKey is not hex"))
}

/// pKey's items (checked for illegal characters and its `|` ending).
pub(crate) fn key_items(key: &str, count: usize) -> Result<Vec<&str>, Failure> {
    check_chars(key, "pKey", false)?;
    let items = split_list(key).ok_or_else(|| {
        Failure::new(
            codes::BAD_PARAMETER,
            "pKey is a list: each item ends with '|'",
        )
    })?;
    if items.len() != count {
        return Err(Failure::new(
            codes::BAD_PARAMETER,
            format!("pKey has {} items, not {count}", items.len()),
        ));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_info_parameter_codes() {
        let good = "110100D15600000500000000000000A1|T0000001X|";
        assert!(CardInfo::parse(good).is_ok());
        let cases = [
            ("110100D15600000500000000000000A1|T0000001X", -14),
            ("110100D15600000500000000000000A1|", -14),
            ("110100D15600000500000000000000AZ|T0000001X|", -41),
            ("110100D15600000500000000000000A|T0000001X|", -42),
            ("110100D15600000600000000000000A1|T0000001X|", -20),
            ("110100D15600000500000000000000A1|T000-001X|", -41),
            ("110100D15600000500000000000000A1|T0000001|", -42),
            ("110100D15600000500000000000000A1|T0000001X\n|", -41),
        ];
        for (text, code) in cases {
            assert_eq!(CardInfo::parse(text).unwrap_err().code, code, "{text:?}");
        }
    }
}
