//! Crypto known-answer vectors (data files under suite/crypto/): they check card_os::crypto, the
//! one implementation the card and the runner's cryptograms and MACs both use.

use card_os::crypto::mac::CbcMac;
use card_os::crypto::{self, Algorithm, SecretKey};
use serde::Deserialize;

use crate::format::FormatError;
use crate::runner::{Filter, VectorResult, Verdict};

/// One known answer: a function of card_os::crypto, its inputs, the published output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kat {
    pub id: String,
    #[serde(default)]
    pub reference: Option<String>,
    pub function: String,
    #[serde(default)]
    pub algorithm: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub input: String,
    #[serde(default)]
    pub iv: Option<String>,
    #[serde(default)]
    pub challenge: Option<String>,
    #[serde(default)]
    pub header: Option<String>,
    pub expected: String,
}

/// A file of known answers.
#[derive(Debug, Clone)]
pub struct KatFile {
    pub name: String,
    pub title: String,
    pub kats: Vec<Kat>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKatFile {
    suite: RawKatSuite,
    kat: Vec<Kat>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKatSuite {
    title: String,
    reference: String,
}

pub fn parse_kat_file(name: &str, text: &str) -> Result<KatFile, FormatError> {
    let raw: RawKatFile = toml::from_str(text).map_err(|source| FormatError::Toml {
        file: name.into(),
        source,
    })?;
    let reference = raw.suite.reference;
    let kats = raw
        .kat
        .into_iter()
        .map(|mut k| {
            k.reference.get_or_insert_with(|| reference.clone());
            k
        })
        .collect();
    Ok(KatFile {
        name: name.into(),
        title: raw.suite.title,
        kats,
    })
}

fn bytes(text: &str) -> Result<Vec<u8>, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(&compact).map_err(|e| format!("{text:?} is not hex: {e}"))
}

fn algorithm(name: Option<&str>) -> Result<Algorithm, String> {
    match name {
        Some("3des") => Ok(Algorithm::Des3),
        Some("sm4") => Ok(Algorithm::Sm4),
        Some("aes128") => Ok(Algorithm::Aes128),
        other => Err(format!("algorithm {other:?}: write 3des, sm4 or aes128")),
    }
}

/// Computes what `kat` names; the output to compare with `expected`.
pub fn compute(kat: &Kat) -> Result<Vec<u8>, String> {
    let crypto_error = |e: crypto::Error| format!("card_os::crypto refused: {e:?}");
    let key = || -> Result<SecretKey, String> {
        let bytes = bytes(kat.key.as_deref().ok_or("this function needs a key")?)?;
        SecretKey::from_slice(algorithm(kat.algorithm.as_deref())?, &bytes).map_err(crypto_error)
    };
    let input = bytes(&kat.input)?;
    let field = |f: &Option<String>, name: &str| -> Result<Vec<u8>, String> {
        bytes(f.as_deref().ok_or(format!("this function needs {name}"))?)
    };
    let factor = |data: &[u8]| -> Result<[u8; 8], String> {
        data.try_into()
            .map_err(|_| "a diversification factor is 8 bytes".to_string())
    };
    match kat.function.as_str() {
        "sha256" => Ok(crypto::sha256(&input).to_vec()),
        "crc32" => Ok(crypto::crc32(&input).to_be_bytes().to_vec()),
        "aes-cmac" => Ok(crypto::mac::aes_cmac(&key()?, &input)
            .map_err(crypto_error)?
            .to_vec()),
        "encrypt" => {
            let mut data = input;
            crypto::ecb_encrypt(&key()?, &mut data).map_err(crypto_error)?;
            Ok(data)
        }
        "decrypt" => {
            let mut data = input;
            crypto::ecb_decrypt(&key()?, &mut data).map_err(crypto_error)?;
            Ok(data)
        }
        "cbc-mac-1" | "cbc-mac-3" => {
            let key = key()?;
            let iv = match &kat.iv {
                Some(iv) => bytes(iv)?,
                None => vec![0; key.algorithm().block_size()],
            };
            let mut mac = if kat.function == "cbc-mac-1" {
                CbcMac::algorithm1(&key, &iv)
            } else {
                CbcMac::algorithm3(&key, &iv)
            }
            .map_err(crypto_error)?;
            mac.update(&input).map_err(crypto_error)?;
            Ok(mac.finalize().map_err(crypto_error)?.as_bytes().to_vec())
        }
        "diversify" => Ok(crypto::diversify(&key()?, &factor(&input)?)
            .map_err(crypto_error)?
            .expose_bytes()
            .to_vec()),
        "session-key" => Ok(crypto::session_key(&key()?, &input)
            .map_err(crypto_error)?
            .expose_bytes()
            .to_vec()),
        "external-cryptogram" => Ok(crypto::external_cryptogram(&key()?, &input)
            .map_err(crypto_error)?
            .as_bytes()
            .to_vec()),
        "internal-authenticate" => Ok(crypto::internal_authenticate(&key()?, &input)
            .map_err(crypto_error)?
            .as_bytes()
            .to_vec()),
        "command-mac" => {
            let header: [u8; 4] = field(&kat.header, "header")?
                .try_into()
                .map_err(|_| "header is CLA INS P1 P2".to_string())?;
            Ok(crypto::sm::command_mac(
                &key()?,
                &field(&kat.challenge, "challenge")?,
                header,
                &input,
            )
            .map_err(crypto_error)?
            .to_vec())
        }
        other => Err(format!("{other:?} is not a known-answer function")),
    }
}

/// The `card` of a known answer's result: it runs in the runner and never touches a card.
pub const KNOWN_ANSWER_CARD: &str = "none (runner crypto)";

/// Checks one known answer.
pub fn run_kat(file: &str, kat: &Kat) -> VectorResult {
    let verdict = match (compute(kat), bytes(&kat.expected)) {
        (Ok(got), Ok(expected)) if got == expected => Verdict::Pass,
        (Ok(got), Ok(expected)) => Verdict::Fail {
            step: 1,
            message: format!(
                "expected {}, got {}",
                hex::encode_upper(expected),
                hex::encode_upper(got)
            ),
        },
        (Err(message), _) | (_, Err(message)) => Verdict::Error { step: 1, message },
    };
    VectorResult {
        id: kat.id.clone(),
        file: file.into(),
        requirement: format!(
            "card_os::crypto {} gives the published answer",
            kat.function
        ),
        reference: kat.reference.clone().unwrap_or_default(),
        card: KNOWN_ANSWER_CARD,
        verdict,
        exchanges: Vec::new(),
        reached_card: false,
    }
}

/// Checks the known answers `filter` selects (by id or file).
pub fn run_kats(files: &[KatFile], filter: &Filter) -> Vec<VectorResult> {
    files
        .iter()
        .flat_map(|f| f.kats.iter().map(move |k| (f, k)))
        .filter(|(f, k)| filter.matches_id(&k.id, &f.name))
        .map(|(f, k)| run_kat(&f.name, k))
        .collect()
}
