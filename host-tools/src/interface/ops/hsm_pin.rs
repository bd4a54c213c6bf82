//! iReloadPIN_HSM_Step1/2/3 and iUnblockPIN_HSM_Step1/2/3: PIN reload and unblock with the
//! card's own keys held by the back office's HSM.
//!
//! - Step1 `(iType, pCardInfo)`: the card proves itself: `region | ATR historical bytes |
//!   algorithm id | card identification code | process factor | original data |` (INTERNAL
//!   AUTHENTICATE of factor ‖ original, as iReadCardBas_HSM_Step1).
//! - Step2 `(pKey = <16 hex internal-auth result><16 hex original>|)`: checked against the card's
//!   answer (−21 fake card); reload asks the new PIN twice at the pad; then GET CHALLENGE:
//!   `card identification code | key id | challenge |`.
//! - Step3: unblock `pKey = <8 hex MAC>|` of `84 24 00 <key id>`; reload `pKey = <32 hex session
//!   key>|` (the one-time session key of that challenge and the reload key: the PIN stays in the
//!   terminal, which MACs `84 2C 00 <key id> PIN` itself).

use crate::protocol::apdu::{self, Command};
use card_os::crypto::{Pin, SecretKey};
use file_structures::layout::KeyUsage;

use super::{key_hex, key_items, pins, random8, CardInfo};
use crate::interface::api::{Driver, Pending};
use crate::interface::codes::{self, Failure, Outcome};
use crate::interface::session::{succeeded, CardFacts, CardSession};
use crate::interface::text::list;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Reload,
    Unblock,
}

impl Group {
    fn usage(self) -> KeyUsage {
        match self {
            Group::Reload => KeyUsage::PinReload,
            Group::Unblock => KeyUsage::PinUnblock,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Group::Reload => "iReloadPIN_HSM",
            Group::Unblock => "iUnblockPIN_HSM",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Step1 done: waiting for the internal-authentication check.
    Proved,
    /// Step2 done: the challenge was the card's last command.
    Challenged,
}

/// What the steps keep between them.
pub(crate) struct PinPending {
    pub session: CardSession,
    facts: CardFacts,
    stage: Stage,
    internal_answer: Vec<u8>,
    original: [u8; 8],
    key_id: u8,
    challenge: Vec<u8>,
    new_pin: Option<Pin>,
}

pub fn step1(driver: &mut Driver, group: Group, i_type: i32, card_info: &str) -> Outcome {
    let info = CardInfo::parse(card_info)?;
    let config = driver.config()?;
    let (mut session, facts) = pins::open_named(&driver.readers(), &config, i_type, &info)?;
    let prepared = (|| {
        let pin_df = session.layout.pin.df.clone();
        session.select_df(&pin_df)?;
        let internal = session.key_with_usage(&pin_df, KeyUsage::InternalAuth)?;
        let key = session.key_with_usage(&pin_df, group.usage())?;
        let factor = random8()?;
        let original: [u8; 8] = session
            .challenge()?
            .try_into()
            .map_err(|_| Failure::new(codes::CARD_SILENT, "the card's challenge is not 8 bytes"))?;
        let mut data = factor.to_vec();
        data.extend_from_slice(&original);
        let answer = session.transmit(&Command {
            data: &data,
            ne: Some(256),
            ..apdu::command(0x00, 0x88, 0x00, internal.id)
        })?;
        succeeded("INTERNAL AUTHENTICATE", answer.sw)?;
        let out = list([
            facts.region().to_owned(),
            session.historical_hex(),
            CardSession::algorithm_id(key.algorithm).to_owned(),
            facts.code_hex.clone(),
            hex::encode_upper(factor),
            hex::encode_upper(original),
        ]);
        Ok((out, answer.data, original, key.id))
    })();
    match prepared {
        Ok((out, internal_answer, original, key_id)) => {
            let pending = PinPending {
                session,
                facts,
                stage: Stage::Proved,
                internal_answer,
                original,
                key_id,
                challenge: Vec::new(),
                new_pin: None,
            };
            driver.pending = Some(match group {
                Group::Reload => Pending::ReloadPin(pending),
                Group::Unblock => Pending::UnblockPin(pending),
            });
            Ok(out)
        }
        Err(e) => {
            session.close();
            Err(e)
        }
    }
}

fn take(driver: &mut Driver, group: Group, stage: Stage) -> Result<PinPending, Failure> {
    match (driver.pending.take(), group) {
        (Some(Pending::ReloadPin(p)), Group::Reload)
        | (Some(Pending::UnblockPin(p)), Group::Unblock)
            if p.stage == stage =>
        {
            Ok(p)
        }
        (other, _) => {
            if let Some(other) = other {
                other.into_session().close();
            }
            Err(Failure::new(
                codes::NO_CONNECTION,
                format!(
                    "{} steps are called in order: {} first",
                    group.name(),
                    match stage {
                        Stage::Proved => "Step1",
                        Stage::Challenged => "Step2",
                    }
                ),
            ))
        }
    }
}

pub fn step2(driver: &mut Driver, group: Group, key: &str) -> Outcome {
    let items = key_items(key, 1)?;
    let internal = key_hex(items[0], 16, "the internal-authentication part")?;
    let mut pending = take(driver, group, Stage::Proved)?;
    let result = (|| {
        let (result, original) = internal.split_at(8);
        if original != pending.original {
            return Err(Failure::new(
                codes::DATA_DIFFERS,
                "pKey answers another Step1 (its original data differs)",
            ));
        }
        if Some(result) != pending.internal_answer.get(..8) {
            return Err(Failure::new(
                codes::FAKE_CARD,
                "the card's internal authentication does not match the HSM's: not a genuine card",
            ));
        }
        if group == Group::Reload {
            pending.new_pin = Some(super::pins::new_pin_twice(driver)?);
        }
        pending.challenge = pending.session.challenge()?;
        Ok(list([
            pending.facts.code_hex.clone(),
            format!("{:02X}", pending.key_id),
            hex::encode_upper(&pending.challenge),
        ]))
    })();
    match result {
        Ok(out) => {
            pending.stage = Stage::Challenged;
            driver.pending = Some(match group {
                Group::Reload => Pending::ReloadPin(pending),
                Group::Unblock => Pending::UnblockPin(pending),
            });
            Ok(out)
        }
        Err(e) => {
            pending.session.close();
            Err(e)
        }
    }
}

pub fn step3(driver: &mut Driver, group: Group, key: &str) -> Outcome {
    let items = key_items(key, 1)?;
    let secret = match group {
        Group::Unblock => key_hex(items[0], 4, "the MAC")?,
        Group::Reload => key_hex(items[0], 16, "the session key")?,
    };
    let secret = zeroize::Zeroizing::new(secret);
    let mut pending = take(driver, group, Stage::Challenged)?;
    let result = (|| {
        let id = pending.key_id;
        match group {
            Group::Unblock => {
                let answer =
                    pending
                        .session
                        .send_with_given_mac([0x84, 0x24, 0x00, id], &[], &secret)?;
                succeeded("PIN UNBLOCK", answer.sw)
            }
            Group::Reload => {
                let pin = pending
                    .new_pin
                    .take()
                    .ok_or_else(|| Failure::new(codes::NO_CONNECTION, "no PIN from Step2"))?;
                let pin_df = pending.session.layout.pin.df.clone();
                let algorithm = pending
                    .session
                    .key_with_usage(&pin_df, KeyUsage::PinReload)?
                    .algorithm;
                let session_key = SecretKey::from_slice(algorithm, &secret).map_err(|_| {
                    Failure::new(codes::ILLEGAL_LENGTH, "the session key is 16 bytes")
                })?;
                let header = [0x84, 0x2C, 0x00, id];
                let mac = card_os::crypto::sm::session_command_mac(
                    &session_key,
                    &pending.challenge,
                    header,
                    pin.as_bcd(),
                )
                .map_err(|e| {
                    Failure::new(
                        codes::ILLEGAL_DATA,
                        format!("the MAC cannot be computed ({e:?})"),
                    )
                })?;
                let answer = pending
                    .session
                    .send_with_given_mac(header, pin.as_bcd(), &mac)?;
                succeeded("PIN RELOAD", answer.sw)
            }
        }
    })();
    pending.session.close();
    result.map(|()| String::new())
}
