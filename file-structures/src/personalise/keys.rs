//! Issuer master keys and the card keys diversified from them.
//!
//! Key values are never in a layout. A key file (TOML) holds one master key per (DF, key id);
//! the card's key is the master diversified with the region factor, then with the card factor
//! (card_os::crypto::diversify_two_level, done in two steps so a batch reuses the region level),
//! the factors coming from the card identification code (docs/security.md).

use std::collections::HashMap;

use card_os::crypto::diversify::{card_factor, region_factor, Diversifier};
use card_os::crypto::{diversify, Algorithm, SecretKey};
use serde::Deserialize;
use toml::Spanned;
use zeroize::Zeroizing;

use crate::layout::{algorithm_name, Problem, Source};

/// The test master keys shipped with the crate (values are public: TEST ONLY).
pub const TEST_KEYS_TOML: &str = include_str!("../../keys/test-issuer-keys.toml");

/// Master keys by (DF name, key id, algorithm): a region may hold 3DES and SM4 masters side by side.
#[derive(Debug)]
pub struct IssuerKeys {
    keys: HashMap<(String, u8, Algorithm), SecretKey>,
    /// Set when the file says `test_only = true`: such keys must never reach a real card.
    pub test_only: bool,
}

/// Why a key file cannot be used, or a card key not made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    File(Problem),
    #[error("the key file has no {algorithm} master key for {df} key {id:02X}")]
    Missing {
        df: String,
        id: u8,
        algorithm: &'static str,
    },
    // card_os::crypto::Error is no_std and not a std error: it is kept as a value.
    #[error("diversifying {df} key {id:02X} failed: {cause:?}")]
    Diversify {
        df: String,
        id: u8,
        cause: card_os::crypto::Error,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyFile {
    test_only: bool,
    #[serde(default)]
    master: Vec<RawMaster>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMaster {
    df: String,
    id: Spanned<String>,
    algorithm: Spanned<String>,
    value: Spanned<String>,
}

impl IssuerKeys {
    /// The shipped test keys.
    pub fn test_keys() -> Result<IssuerKeys, KeyError> {
        IssuerKeys::from_toml("keys/test-issuer-keys.toml", TEST_KEYS_TOML)
    }

    /// Master keys from a key file's text (`name` is shown in problems).
    pub fn from_toml(name: &str, text: &str) -> Result<IssuerKeys, KeyError> {
        let source = Source::new(name, text);
        let raw: RawKeyFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| source.line_of(s.start));
            KeyError::File(Problem {
                file: name.into(),
                line,
                message: format!("not a key file: {}", e.message().trim()),
                clash: None,
            })
        })?;
        let mut keys = HashMap::new();
        for m in raw.master {
            let bad = |span: std::ops::Range<usize>, message: &str| {
                KeyError::File(source.problem(span, message))
            };
            let id = u8::from_str_radix(m.id.get_ref(), 16)
                .map_err(|_| bad(m.id.span(), "key id must be two hex digits"))?;
            let algorithm = match m.algorithm.get_ref().as_str() {
                "3des" => Algorithm::Des3,
                "sm4" => Algorithm::Sm4,
                "aes128" => Algorithm::Aes128,
                _ => {
                    return Err(bad(
                        m.algorithm.span(),
                        "algorithm must be 3des, sm4 or aes128",
                    ))
                }
            };
            let bytes = Zeroizing::new(
                hex::decode(m.value.get_ref())
                    .map_err(|_| bad(m.value.span(), "a master key is 32 hex digits"))?,
            );
            let key = SecretKey::from_slice(algorithm, &bytes)
                .map_err(|_| bad(m.value.span(), "a master key is 32 hex digits"))?;
            if keys.insert((m.df.clone(), id, algorithm), key).is_some() {
                return Err(bad(
                    m.id.span(),
                    "this DF, key id and algorithm already have a master key",
                ));
            }
        }
        Ok(IssuerKeys {
            keys,
            test_only: raw.test_only,
        })
    }

    /// The region-level key of `df` key `id` (the key a region's PSAM would hold): the master
    /// diversified with the region factor of the 3 BCD region bytes.
    pub fn region_key(
        &self,
        df: &str,
        id: u8,
        algorithm: Algorithm,
        region_bcd: &[u8; 3],
    ) -> Result<SecretKey, KeyError> {
        let master = self
            .keys
            .get(&(df.to_owned(), id, algorithm))
            .ok_or_else(|| KeyError::Missing {
                df: df.into(),
                id,
                algorithm: algorithm_name(algorithm),
            })?;
        let fail = |cause| KeyError::Diversify {
            df: df.into(),
            id,
            cause,
        };
        diversify(master, &region_factor(region_bcd).map_err(fail)?).map_err(fail)
    }

    /// The card key of `df` key `id` for the card with this 16-byte card identification code:
    /// the region key diversified with the card factor.
    pub fn card_key(
        &self,
        df: &str,
        id: u8,
        algorithm: Algorithm,
        card_id_code: &[u8; 16],
    ) -> Result<SecretKey, KeyError> {
        let region = [card_id_code[0], card_id_code[1], card_id_code[2]];
        card_key_from_region(
            &Diversifier::new(&self.region_key(df, id, algorithm, &region)?),
            df,
            id,
            card_id_code,
        )
    }
}

/// The card key from its region key (see [`IssuerKeys::card_key`]), keyed once as a
/// [`Diversifier`] so that a batch computes the region key's schedule once.
pub(crate) fn card_key_from_region(
    region_key: &Diversifier,
    df: &str,
    id: u8,
    card_id_code: &[u8; 16],
) -> Result<SecretKey, KeyError> {
    let fail = |cause| KeyError::Diversify {
        df: df.into(),
        id,
        cause,
    };
    region_key
        .diversify(&card_factor(card_id_code).map_err(fail)?)
        .map_err(fail)
}
