//! iReadCardBas and its HSM pair: the card's basic information, 11 items.
//!
//! On a 3.0 card the personal items (social security number, name) are behind SSSE key 0A: the
//! PSAM computes the external-authentication cryptogram, or, without a PSAM, the back office's HSM
//! does (Step1 → HSM → Step2).

use crate::protocol::apdu::{self, Command};

use super::{key_hex, key_items, random8};
use crate::interface::api::{Driver, Pending};
use crate::interface::codes::{self, Failure, Outcome};
use crate::interface::config::Config;
use crate::interface::session::{succeeded, CardFacts, CardSession};
use crate::interface::text::list;

/// The key a 3.0 card wants before it shows personal data.
pub const PERSONAL_DATA_KEY: u8 = 0x0A;
/// Terminal number without a PSAM.
pub const NO_TERMINAL_NUMBER: &str = "000000000000";

/// The personal items: social security number and name (+ name extension), read in SSSE, the
/// current DF (after the card identification, EF05, and the authentication in SSSE).
fn personal(session: &mut CardSession) -> Result<(String, String), Failure> {
    let has_ext = session
        .ef("SSSE/EF06")?
        .1
        .fields
        .iter()
        .any(|f| f.id == "name_ext");
    let ids: &[&str] = if has_ext {
        &["ssn", "name", "name_ext"]
    } else {
        &["ssn", "name"]
    };
    let values = session.read_fields_in_current_df("SSSE/EF06", ids)?;
    let ssn = values.first().cloned().unwrap_or_default();
    let name: String = values.iter().skip(1).map(String::as_str).collect();
    Ok((ssn, name))
}

/// The 11 items of the national format.
fn items(
    session: &CardSession,
    facts: &CardFacts,
    ssn: &str,
    name: &str,
    terminal_number: &str,
    config: &Config,
) -> String {
    list([
        facts.region(),
        ssn,
        &facts.card_number,
        &facts.code_hex,
        name,
        &session.historical_hex(),
        &facts.spec_version,
        &facts.issue_date,
        &facts.expiry_date,
        terminal_number,
        &config.terminal_device_number,
    ])
}

/// The terminal number reported with a PSAM: the configured one (the simulated PSAM has no
/// EF16 terminal-number file), else twelve zeros.
fn psam_terminal_number(config: &Config) -> String {
    config
        .psam_terminal_number
        .clone()
        .unwrap_or_else(|| NO_TERMINAL_NUMBER.to_owned())
}

pub fn read_card_bas(driver: &mut Driver, i_type: i32) -> Outcome {
    let config = driver.config()?;
    let mut session = CardSession::open(&driver.readers(), &config, i_type)?;
    let result = (|| {
        let facts = session.card_facts()?;
        // A 2.0 card shows its personal data freely: no PSAM needed.
        let mut psam = if session.version == "3.0" {
            Some(crate::interface::session::require_psam(
                &driver.readers(),
                &config,
            )?)
        } else {
            crate::interface::session::open_psam(&driver.readers(), &config)?
        };
        if let (Some(psam), "3.0") = (psam.as_deref_mut(), session.version.as_str()) {
            // card_facts left SSSE selected: key 0A is SSSE's.
            let key = session.key_ref("SSSE", PERSONAL_DATA_KEY)?;
            session.authenticate_with(psam, &key, &facts)?;
        }
        let (ssn, name) = personal(&mut session)?;
        let terminal = match psam.as_mut() {
            Some(_) => psam_terminal_number(&config),
            None => NO_TERMINAL_NUMBER.to_owned(),
        };
        Ok(items(&session, &facts, &ssn, &name, &terminal, &config))
    })();
    session.close();
    result
}

/// What Step1 keeps for Step2.
pub(crate) struct BasPending {
    pub session: CardSession,
    facts: CardFacts,
    /// The card's INTERNAL AUTHENTICATE answer and the original data it was given.
    internal_answer: Vec<u8>,
    original: [u8; 8],
    /// A 3.0 card waits for EXTERNAL AUTHENTICATE of key 0A (its challenge was the last command).
    external: bool,
}

/// Step1's 8 items: region | ATR historical bytes | algorithm id | card identification code |
/// internal-auth process factor | internal-auth original data | external-auth process factor |
/// external-auth original data |. The card's INTERNAL AUTHENTICATE (SSSE internal-auth key) gets
/// factor ‖ original; on 3.0 the last command is GET CHALLENGE, whose 8 bytes are the external
/// process factor and whose zero padding to the key's block is the external original data.
pub fn hsm_step1(driver: &mut Driver, i_type: i32) -> Outcome {
    let config = driver.config()?;
    let mut session = CardSession::open(&driver.readers(), &config, i_type)?;
    let prepared = (|| {
        let facts = session.card_facts()?;
        session.select_df("SSSE")?;
        let internal =
            session.key_with_usage("SSSE", file_structures::layout::KeyUsage::InternalAuth)?;
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
        if answer.data.len() < 8 {
            return Err(Failure::new(
                codes::FAKE_CARD,
                "the card's INTERNAL AUTHENTICATE answer is too short",
            ));
        }
        let external = session.version == "3.0";
        let (ext_factor, ext_original) = if external {
            let key = session.key_ref("SSSE", PERSONAL_DATA_KEY)?;
            let challenge = session.challenge()?;
            let block = crate::interface::hsm::block_len(key.algorithm);
            let padding = block.saturating_sub(challenge.len());
            (hex::encode_upper(&challenge), "00".repeat(padding))
        } else {
            (String::new(), String::new())
        };
        let out = list([
            facts.region().to_owned(),
            session.historical_hex(),
            CardSession::algorithm_id(internal.algorithm).to_owned(),
            facts.code_hex.clone(),
            hex::encode_upper(factor),
            hex::encode_upper(original),
            ext_factor,
            ext_original,
        ]);
        Ok((out, facts, answer.data, original, external))
    })();
    match prepared {
        Ok((out, facts, internal_answer, original, external)) => {
            driver.pending = Some(Pending::ReadCardBas(BasPending {
                session,
                facts,
                internal_answer,
                original,
                external,
            }));
            Ok(out)
        }
        Err(e) => {
            session.close();
            Err(e)
        }
    }
}

/// Step2: pKey = `<16 hex internal-auth result><16 hex original>|<external cryptogram hex>|`.
/// The internal part is compared with the card's own answer (a mismatch is a fake card, −21);
/// the external part is sent as EXTERNAL AUTHENTICATE of key 0A; then the 11 items.
pub fn hsm_step2(driver: &mut Driver, key: &str) -> Outcome {
    let config = driver.config()?;
    let items_in = key_items(key, 2)?;
    // Malformed parts are refused before the exchange is used up, so the caller can retry.
    let internal = key_hex(items_in[0], 16, "the internal-authentication part")?;
    if !items_in[1].is_empty() {
        key_hex(
            items_in[1],
            items_in[1].len() / 2,
            "the external-authentication part",
        )?;
        if !matches!(items_in[1].len(), 16 | 32) {
            return Err(Failure::new(
                codes::ILLEGAL_LENGTH,
                "the external-authentication part of pKey is 16 or 32 hex digits",
            ));
        }
    }
    let Some(Pending::ReadCardBas(mut pending)) = driver.pending.take() else {
        if let Some(other) = driver.pending.take() {
            other.into_session().close();
        }
        return Err(Failure::new(
            codes::NO_CONNECTION,
            "no iReadCardBas_HSM_Step1 before this Step2",
        ));
    };
    let result = (|| {
        let (result, original) = internal.split_at(8);
        if original != pending.original {
            return Err(Failure::new(
                codes::DATA_DIFFERS,
                "pKey answers another Step1 (its original data differs)",
            ));
        }
        let card_answer = pending.internal_answer.get(..8).unwrap_or_default();
        if result != card_answer {
            return Err(Failure::new(
                codes::FAKE_CARD,
                "the card's internal authentication does not match the HSM's: not a genuine card",
            ));
        }
        let session = &mut pending.session;
        if pending.external {
            let key = session.key_ref("SSSE", PERSONAL_DATA_KEY)?;
            let len = crate::interface::hsm::block_len(key.algorithm);
            let cryptogram = key_hex(items_in[1], len, "the external-authentication part")?;
            let answer = session.transmit(&Command {
                data: &cryptogram,
                ..apdu::command(0x00, 0x82, 0x00, key.id)
            })?;
            succeeded("EXTERNAL AUTHENTICATE", answer.sw)?;
        } else if !items_in[1].is_empty() {
            return Err(Failure::new(
                codes::NO_HSM_NEEDED,
                "a 2.0 card needs no external authentication: pKey's second item must be empty",
            ));
        }
        let (ssn, name) = personal(session)?;
        Ok(items(
            session,
            &pending.facts,
            &ssn,
            &name,
            NO_TERMINAL_NUMBER,
            &config,
        ))
    })();
    pending.session.close();
    result
}
