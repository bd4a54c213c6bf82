//! EXTERNAL AUTHENTICATE as a terminal does it (docs/security.md): GET CHALLENGE, then the
//! challenge encrypted with the card's key, which is diversified from the issuer's master key by
//! file-structures' key handling (`IssuerKeys::card_key`).

use file_structures::layout::Layout;
use file_structures::personalise::{IssuerKeys, KeyError};

use crate::protocol::apdu::{build, Status};
use crate::protocol::client::{Client, ClientError};
use crate::transport::CardTransport;

/// Bytes of challenge asked for (the card gives 4 or 8).
const CHALLENGE_LEN: usize = 8;

/// Why an authentication did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the layout has no key {id:02X} in {df}")]
    UnknownKey { df: String, id: u8 },
    #[error("cannot make the card key")]
    Key(#[source] KeyError),
    // card_os::crypto::Error is no_std and not a std error: kept as a value.
    #[error("the cryptogram could not be computed ({0:?})")]
    Crypto(card_os::crypto::Error),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the card refused {command}: {}", crate::protocol::sw::explain(*.sw))]
    Refused { command: &'static str, sw: Status },
}

/// Authenticates the host to the card with key `id` of DF `df` (which must be the current DF).
/// `card_id_code` is the card's identification code (SSSE EF05 record 1), the diversification
/// input. The key's algorithm is the one the layout gives it.
pub fn external_authenticate<T: CardTransport>(
    client: &mut Client<T>,
    layout: &Layout,
    keys: &IssuerKeys,
    df: &str,
    id: u8,
    card_id_code: &[u8; 16],
) -> Result<(), AuthError> {
    let spec = layout
        .df(df)
        .and_then(|d| d.keys.iter().find(|k| k.id == id))
        .ok_or_else(|| AuthError::UnknownKey { df: df.into(), id })?;
    let card_key = keys
        .card_key(df, id, spec.algorithm, card_id_code)
        .map_err(AuthError::Key)?;
    let challenge = get_challenge(client)?;
    let cryptogram =
        card_os::crypto::external_cryptogram(&card_key, &challenge).map_err(AuthError::Crypto)?;
    send_cryptogram(client, id, cryptogram.as_bytes())
}

/// GET CHALLENGE of the bytes a terminal asks for.
pub fn get_challenge<T: CardTransport>(client: &mut Client<T>) -> Result<Vec<u8>, AuthError> {
    let challenge = client.send(&build::get_challenge(CHALLENGE_LEN))?;
    if challenge.sw != Status::Success {
        return Err(AuthError::Refused {
            command: "GET CHALLENGE",
            sw: challenge.sw,
        });
    }
    Ok(challenge.data)
}

/// EXTERNAL AUTHENTICATE with key `id` and a cryptogram computed for the last challenge (here or
/// by a security module).
pub fn send_cryptogram<T: CardTransport>(
    client: &mut Client<T>,
    id: u8,
    cryptogram: &[u8],
) -> Result<(), AuthError> {
    let answer = client.send(&build::external_authenticate(id, cryptogram))?;
    if answer.sw != Status::Success {
        return Err(AuthError::Refused {
            command: "EXTERNAL AUTHENTICATE",
            sw: answer.sw,
        });
    }
    Ok(())
}
