//! iVerifyPIN, iChangePIN, iReloadPIN, iUnblockPIN: the PIN from the pad, never from the caller.
//! Reload and unblock are MAC'd with the card's own PIN-reload / PIN-unblock keys by the PSAM.

use crate::protocol::apdu::{self, Command, Status};
use card_os::crypto::Pin;
use file_structures::layout::KeyUsage;

use super::CardInfo;
use crate::interface::api::Driver;
use crate::interface::codes::{self, Failure, Outcome};
use crate::interface::config::{Config, PinCodes};
use crate::interface::pin::{PROMPT_AGAIN, PROMPT_NEW, PROMPT_OLD, PROMPT_PIN};
use crate::interface::session::{require_psam, succeeded, CardSession};

/// The answer to a PIN command as the interface reports it: 63Cx wrong (tries left in
/// pOutInfo), 6983 blocked, 6984 the initial PIN; other refusals as their status word.
pub fn pin_answer(config: &Config, command: &str, sw: Status) -> Result<(), Failure> {
    let raw = sw.to_u16();
    match (raw, config.pin_codes) {
        (0x9000, _) => Ok(()),
        // ISO 7816: 63C0 is a wrong PIN with no try left, i.e. blocked now.
        (0x63C0, PinCodes::Short) => Err(Failure::new(
            codes::PIN_BLOCKED,
            "the PIN was wrong and is now blocked (no tries left)",
        )),
        (0x63C1..=0x63CF, PinCodes::Short) => {
            Err(Failure::new(codes::PIN_WRONG, format!("{}", raw & 0x0F)))
        }
        (0x6983, PinCodes::Short) => Err(Failure::new(codes::PIN_BLOCKED, "the PIN is blocked")),
        (0x6984, _) => Err(initial_pin()),
        _ => succeeded(command, sw),
    }
}

fn initial_pin() -> Failure {
    Failure::new(
        codes::INITIAL_PIN,
        "the PIN is still the initial PIN, which cannot transact: change it first",
    )
}

/// The layout's initial PIN.
fn initial(session: &CardSession) -> Result<Pin, Failure> {
    Pin::from_ascii(session.layout.pin.initial.as_bytes())
        .map_err(|_| Failure::new(codes::CANNOT_LOAD, "the layout's initial PIN is not a PIN"))
}

/// VERIFY of a PIN from the pad; the initial PIN verifies but is −35.
pub fn verify(
    driver: &mut Driver,
    config: &Config,
    session: &mut CardSession,
) -> Result<(), Failure> {
    let pin_df = session.layout.pin.df.clone();
    session.select_df(&pin_df)?;
    let pin = driver.pad()?.ask(PROMPT_PIN)?;
    let answer = session.transmit(&Command {
        data: pin.as_bcd(),
        ..apdu::command(0x00, 0x20, 0x00, 0x00)
    })?;
    pin_answer(config, "VERIFY", answer.sw)?;
    if pin == initial(session)? {
        return Err(initial_pin());
    }
    Ok(())
}

pub fn verify_pin(driver: &mut Driver, i_type: i32) -> Outcome {
    let config = driver.config()?;
    let mut session = CardSession::open(&driver.readers(), &config, i_type)?;
    let result = verify(driver, &config, &mut session).map(|()| String::new());
    session.close();
    result
}

/// A new PIN typed twice: −34 when they differ.
pub(crate) fn new_pin_twice(driver: &mut Driver) -> Result<Pin, Failure> {
    let pad = driver.pad()?;
    let first = pad.ask(PROMPT_NEW)?;
    let second = pad.ask(PROMPT_AGAIN)?;
    if first != second {
        return Err(Failure::new(codes::PINS_DIFFER, "the two new PINs differ"));
    }
    Ok(first)
}

pub fn change_pin(driver: &mut Driver, i_type: i32) -> Outcome {
    let config = driver.config()?;
    let mut session = CardSession::open(&driver.readers(), &config, i_type)?;
    let result = (|| {
        let pin_df = session.layout.pin.df.clone();
        session.select_df(&pin_df)?;
        let old = driver.pad()?.ask(PROMPT_OLD)?;
        let new = new_pin_twice(driver)?;
        if new == initial(&session)? {
            return Err(Failure::new(
                codes::TO_INITIAL_PIN,
                "the new PIN may not be the initial PIN",
            ));
        }
        let mut data = zeroize::Zeroizing::new(old.as_bcd().to_vec());
        data.push(0xFF);
        data.extend_from_slice(new.as_bcd());
        let answer = session.transmit(&Command {
            data: &data,
            ..apdu::command(0x80, 0x5E, 0x01, 0x00)
        })?;
        pin_answer(&config, "CHANGE PIN", answer.sw).map(|()| String::new())
    })();
    session.close();
    result
}

/// Opens the card named by pCardInfo (−22 when another card is in the reader).
pub(crate) fn open_named(
    readers: &crate::interface::readers::Readers,
    config: &Config,
    i_type: i32,
    info: &CardInfo,
) -> Result<(CardSession, crate::interface::session::CardFacts), Failure> {
    let mut session = CardSession::open(readers, config, i_type)?;
    let facts = match session
        .card_facts()
        .and_then(|f| info.check(&f).map(|()| f))
    {
        Ok(f) => f,
        Err(e) => {
            session.close();
            return Err(e);
        }
    };
    Ok((session, facts))
}

/// PIN RELOAD `84 2C 00 <reload key> Lc PIN MAC`: the new PIN (typed twice) with all its tries.
pub fn reload_pin(driver: &mut Driver, i_type: i32, card_info: &str) -> Outcome {
    let info = CardInfo::parse(card_info)?;
    let config = driver.config()?;
    let mut psam = require_psam(&driver.readers(), &config)?;
    let (mut session, facts) = open_named(&driver.readers(), &config, i_type, &info)?;
    let result = (|| {
        let pin_df = session.layout.pin.df.clone();
        let key = session.key_with_usage(&pin_df, KeyUsage::PinReload)?;
        session.select_df(&pin_df)?;
        let pin = new_pin_twice(driver)?;
        let answer = session.send_with_mac(
            &mut *psam,
            &key,
            &facts,
            [0x84, 0x2C, 0x00, key.id],
            pin.as_bcd(),
        )?;
        succeeded("PIN RELOAD", answer.sw).map(|()| String::new())
    })();
    session.close();
    result
}

/// PIN UNBLOCK `84 24 00 <unblock key> 04 MAC`: the PIN's tries back, the PIN unchanged.
pub fn unblock_pin(driver: &mut Driver, i_type: i32, card_info: &str) -> Outcome {
    let info = CardInfo::parse(card_info)?;
    let config = driver.config()?;
    let mut psam = require_psam(&driver.readers(), &config)?;
    let (mut session, facts) = open_named(&driver.readers(), &config, i_type, &info)?;
    let result = (|| {
        let pin_df = session.layout.pin.df.clone();
        let key = session.key_with_usage(&pin_df, KeyUsage::PinUnblock)?;
        session.select_df(&pin_df)?;
        let answer =
            session.send_with_mac(&mut *psam, &key, &facts, [0x84, 0x24, 0x00, key.id], &[])?;
        succeeded("PIN UNBLOCK", answer.sw).map(|()| String::new())
    })();
    session.close();
    result
}
