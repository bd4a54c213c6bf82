//! The terminal's security module: what computes with the card keys so that the terminal
//! authenticates to the card, checks the card's own proof, and MACs its writes. Two kinds: a
//! software module holding an issuer key file (TEST keys only: it refuses others), and a PSAM
//! card in a second reader (docs/security.md, "PSAM").

use card_os::crypto::{self, Algorithm, SecretKey};
use card_os::security::Usage;
use file_structures::personalise::{IssuerKeys, KeyError};

use crate::protocol::apdu::{build, CommandApdu, SelectReply, Status};
use crate::protocol::client::{Client, ClientError};
use crate::transport::CardTransport;

/// The PSAM application's AID (ssc-card.md: `00 A4 04 00 06 D1 56 00 00 05 90`).
pub const PSAM_AID: [u8; 6] = [0xD1, 0x56, 0x00, 0x00, 0x05, 0x90];

/// One card key, named as the layout names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    /// The DF holding it on the card ("SSSE").
    pub df: String,
    pub id: u8,
    pub usage: Usage,
    pub algorithm: Algorithm,
}

/// Why the security module could not compute.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("the key file holds real keys: the software security module takes TEST keys only (use a PSAM)")]
    NotTestKeys,
    #[error("the key file has no key for {df} key {id:02X}")]
    Key {
        df: String,
        id: u8,
        #[source]
        source: KeyError,
    },
    // card_os::crypto::Error is no_std and not a std error: kept as a value.
    #[error("the computation failed ({0:?})")]
    Crypto(crypto::Error),
    #[error("the PSAM could not be reached")]
    PsamLink(#[source] ClientError),
    #[error("the PSAM refused {command}: {}", crate::protocol::sw::explain(*.sw))]
    PsamRefused { command: &'static str, sw: Status },
}

/// What a terminal asks of its security module. `card_id_code` is the card's identification code
/// (the diversification input).
pub trait SecurityModule {
    /// "software (test keys)", "PSAM in <reader>".
    fn describe(&self) -> String;
    /// The issuer keys, when the module holds them in software (to read 3.0 personal data).
    fn issuer_keys(&self) -> Option<&IssuerKeys> {
        None
    }
    /// `E(card key, data zero-padded)`: the EXTERNAL AUTHENTICATE cryptogram of a challenge, and
    /// the answer a genuine card gives to INTERNAL AUTHENTICATE.
    fn encrypt(
        &mut self,
        key: &KeyRef,
        card_id_code: &[u8; 16],
        data: &[u8],
    ) -> Result<Vec<u8>, SecurityError>;
    /// The secure-messaging MAC of a command (`sm::command_mac`).
    fn command_mac(
        &mut self,
        key: &KeyRef,
        card_id_code: &[u8; 16],
        challenge: &[u8],
        header: [u8; 4],
        data: &[u8],
    ) -> Result<[u8; 4], SecurityError>;
}

/// The software security module: the card keys are diversified here from a key file's master
/// keys (`IssuerKeys::card_key`). Test keys only.
pub struct SoftwareModule {
    keys: IssuerKeys,
}

impl SoftwareModule {
    pub fn new(keys: IssuerKeys) -> Result<Self, SecurityError> {
        if !keys.test_only {
            return Err(SecurityError::NotTestKeys);
        }
        Ok(SoftwareModule { keys })
    }

    pub fn keys(&self) -> &IssuerKeys {
        &self.keys
    }

    fn card_key(&self, key: &KeyRef, code: &[u8; 16]) -> Result<SecretKey, SecurityError> {
        self.keys
            .card_key(&key.df, key.id, key.algorithm, code)
            .map_err(|source| SecurityError::Key {
                df: key.df.clone(),
                id: key.id,
                source,
            })
    }
}

impl SecurityModule for SoftwareModule {
    fn describe(&self) -> String {
        "software security module (TEST keys)".into()
    }

    fn issuer_keys(&self) -> Option<&IssuerKeys> {
        Some(&self.keys)
    }

    fn encrypt(
        &mut self,
        key: &KeyRef,
        card_id_code: &[u8; 16],
        data: &[u8],
    ) -> Result<Vec<u8>, SecurityError> {
        let card_key = self.card_key(key, card_id_code)?;
        crypto::internal_authenticate(&card_key, data)
            .map(|c| c.as_bytes().to_vec())
            .map_err(SecurityError::Crypto)
    }

    fn command_mac(
        &mut self,
        key: &KeyRef,
        card_id_code: &[u8; 16],
        challenge: &[u8],
        header: [u8; 4],
        data: &[u8],
    ) -> Result<[u8; 4], SecurityError> {
        let card_key = self.card_key(key, card_id_code)?;
        crypto::sm::command_mac(&card_key, challenge, header, data).map_err(SecurityError::Crypto)
    }
}

/// A PSAM card behind its own transport: it holds the region keys under the card keys' ids and
/// usages and derives a card's key itself (DELIVER KEY), then computes with it (CIPHER DATA).
pub struct PsamModule<T: CardTransport> {
    client: Client<T>,
    /// (usage, id, card identification code) of the key the PSAM holds in RAM now.
    delivered: Option<(u8, u8, [u8; 16])>,
}

impl<T: CardTransport> PsamModule<T> {
    /// Selects the PSAM application.
    pub fn open(transport: T) -> Result<Self, SecurityError> {
        let mut psam = PsamModule {
            client: Client::new(transport),
            delivered: None,
        };
        psam.call(
            "SELECT PSAM",
            &build::select_name(&PSAM_AID, SelectReply::Fci),
        )?;
        Ok(psam)
    }

    pub fn into_transport(self) -> T {
        self.client.into_transport()
    }

    /// The PSAM's transport (to check a connection kept between operations).
    pub fn transport_mut(&mut self) -> &mut T {
        self.client.transport_mut()
    }

    /// Makes the next use DELIVER its key again, as on a PSAM just opened: an operation does not
    /// rely on the key RAM an earlier operation left.
    pub fn forget_delivered_key(&mut self) {
        self.delivered = None;
    }

    fn call(
        &mut self,
        command: &'static str,
        apdu: &CommandApdu,
    ) -> Result<Vec<u8>, SecurityError> {
        let answer = self.client.send(apdu).map_err(SecurityError::PsamLink)?;
        if answer.sw != Status::Success {
            return Err(SecurityError::PsamRefused {
                command,
                sw: answer.sw,
            });
        }
        Ok(answer.data)
    }

    /// SELECT of one of the PSAM application's files and READ BINARY of its `len` bytes
    /// (the purchase files 0016, 001A..001C; docs/settlement.md, "The PSAM's side").
    pub fn read_file(&mut self, fid: u16, len: usize) -> Result<Vec<u8>, SecurityError> {
        // The PSAM's key RAM does not outlive another command of the application.
        self.delivered = None;
        self.call(
            "SELECT (PSAM file)",
            &build::select_ef(fid, SelectReply::Nothing),
        )?;
        self.call("READ BINARY (PSAM file)", &build::read_binary(0, len))
    }

    /// INIT SAM FOR PURCHASE `80 70 01 00`: the PSAM's terminal serial and MAC1 for `input`
    /// (card random ‖ card serial ‖ amounts ‖ type ‖ time ‖ DPK version ‖ algorithm ‖ factors).
    pub fn init_sam_for_purchase(&mut self, input: &[u8]) -> Result<[u8; 8], SecurityError> {
        self.delivered = None;
        let answer = self.call(
            "INIT SAM FOR PURCHASE",
            &build::init_sam_for_purchase(input),
        )?;
        answer.try_into().map_err(|_| SecurityError::PsamRefused {
            command: "INIT SAM FOR PURCHASE",
            sw: Status::WrongLength,
        })
    }

    /// CREDIT SAM FOR PURCHASE `80 72 00 00 04`: the PSAM checks the card's MAC2.
    pub fn credit_sam_for_purchase(&mut self, mac2: &[u8; 4]) -> Result<(), SecurityError> {
        self.delivered = None;
        self.call(
            "CREDIT SAM FOR PURCHASE",
            &build::credit_sam_for_purchase(mac2),
        )
        .map(drop)
    }

    /// DELIVER KEY `80 1A <usage> <id> 08 <card factor>` unless that key is delivered already.
    fn deliver(&mut self, key: &KeyRef, code: &[u8; 16]) -> Result<(), SecurityError> {
        let wanted = (key.usage as u8, key.id, *code);
        if self.delivered == Some(wanted) {
            return Ok(());
        }
        self.delivered = None;
        let factor = crypto::diversify::card_factor(code).map_err(SecurityError::Crypto)?;
        self.call(
            "DELIVER KEY",
            &build::deliver_key(key.usage as u8, key.id, &factor),
        )?;
        self.delivered = Some(wanted);
        Ok(())
    }
}

impl<T: CardTransport> SecurityModule for PsamModule<T> {
    fn describe(&self) -> String {
        format!("PSAM in {}", self.client.transport().name())
    }

    fn encrypt(
        &mut self,
        key: &KeyRef,
        card_id_code: &[u8; 16],
        data: &[u8],
    ) -> Result<Vec<u8>, SecurityError> {
        self.deliver(key, card_id_code)?;
        self.call("CIPHER DATA", &build::cipher_data(0x00, data))
    }

    fn command_mac(
        &mut self,
        key: &KeyRef,
        card_id_code: &[u8; 16],
        challenge: &[u8],
        header: [u8; 4],
        data: &[u8],
    ) -> Result<[u8; 4], SecurityError> {
        self.deliver(key, card_id_code)?;
        let mut input = vec![challenge.len() as u8];
        input.extend_from_slice(challenge);
        input.extend_from_slice(&header);
        input.extend_from_slice(data);
        let mac = self.call("CIPHER DATA (MAC)", &build::cipher_data(0x05, &input))?;
        mac.try_into().map_err(|_| SecurityError::PsamRefused {
            command: "CIPHER DATA (MAC)",
            sw: Status::Success,
        })
    }
}
