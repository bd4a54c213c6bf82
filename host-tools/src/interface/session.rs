//! One card in its reader for the length of a call (or of an HSM Step1 → Step2 exchange):
//! opened through the one transport, spoken to through the one client, read through the layout.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::card::auth;
use crate::card::files::{self, Answer};
use crate::card::info::version_from_atr;
use crate::jobs::activation::security::{KeyRef, PsamModule, SecurityError, SecurityModule};
use crate::protocol::apdu::{self, Command, Response, Status};
use crate::protocol::client::Client;
use crate::transport::pcsc::{PcscOptions, PcscTransport};
use crate::transport::sim::SimTransport;
use crate::transport::CardTransport;
use card_os::crypto::Algorithm;
use file_structures::codec;
use file_structures::layout::{self, Df, Ef, Field, KeyUsage, Layout};

use crate::interface::codes::{self, Failure};
use crate::interface::config::{Config, Slot};
use crate::interface::readers::{PsamLease, Readers};

/// A reader with a card, as every function uses it.
pub type Transport = Box<dyn CardTransport + Send>;
/// The terminal's PSAM behind its reader.
pub type PsamModuleBox = PsamModule<Transport>;

/// Opens what a slot names: a PC/SC reader (waiting up to `wait` for a card) or a card image.
pub fn open_slot(slot: &Slot, wait: Duration) -> Result<Transport, Failure> {
    Ok(match slot {
        Slot::Reader(choice) => Box::new(PcscTransport::open(&PcscOptions {
            reader: Some(choice.clone()),
            wait,
            ..PcscOptions::default()
        })?),
        // The image is the card: no file is no card in the reader (not a reader fault).
        Slot::Image(path) if !path.exists() => {
            return Err(Failure::new(
                codes::NO_CARD,
                format!("no card: the card image {} does not exist", path.display()),
            ))
        }
        Slot::Image(path) => Box::new(SimTransport::open_image(path)?),
    })
}

/// The card's identification (SSSE EF05), read at the start of every card function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFacts {
    pub code: [u8; 16],
    /// The card identification code in upper-case hex (32 digits).
    pub code_hex: String,
    pub card_number: String,
    pub spec_version: String,
    pub issue_date: String,
    pub expiry_date: String,
}

impl CardFacts {
    /// The region code: the first 6 digits of the card identification code.
    pub fn region(&self) -> &str {
        self.code_hex.get(..6).unwrap_or_default()
    }
}

/// A card opened for a call.
pub struct CardSession {
    pub client: Client<Transport>,
    pub layout: Arc<Layout>,
    /// "2.0" or "3.0".
    pub version: String,
    pub atr: Vec<u8>,
}

/// Which iType values there are: 1 contact, 2 contactless, 3 and 4 auto. The configured reader
/// serves all four (a PC/SC reader shows one interface at a time).
pub fn check_i_type(i_type: i32) -> Result<(), Failure> {
    if (1..=4).contains(&i_type) {
        Ok(())
    } else {
        Err(Failure::new(
            codes::WRONG_CARD_TYPE,
            format!("iType {i_type} is not 1 (contact), 2 (contactless), 3 or 4 (auto)"),
        ))
    }
}

/// The layouts built so far, by layout file (None: the national layout), its text and version:
/// a layout is built once per process, and again only when its file changes.
type BuiltLayouts = Vec<(Option<(PathBuf, String)>, String, Arc<Layout>)>;

/// At most this many layouts are kept (the national two and a few files).
const LAYOUTS_KEPT: usize = 8;

/// The layout for a card of `version`.
pub fn layout_for(config: &Config, version: &str) -> Result<Arc<Layout>, Failure> {
    static BUILT: Mutex<BuiltLayouts> = Mutex::new(Vec::new());
    let cannot = |e: layout::LayoutError| {
        Failure::new(
            codes::CANNOT_LOAD,
            format!("the layout cannot be used: {e}"),
        )
    };
    let source = match &config.layout_file {
        Some(path) => {
            let text = file_structures::input::read_text_bounded(
                path,
                layout::MAX_LAYOUT_BYTES,
                "a layout file",
            )
            .map_err(|source| {
                cannot(layout::LayoutError::Read {
                    path: path.clone(),
                    source,
                })
            })?;
            Some((path.clone(), text))
        }
        None => None,
    };
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, _, layout)) = built.iter().find(|(s, v, _)| *s == source && v == version) {
        return Ok(layout.clone());
    }
    let layout = match &source {
        Some((path, text)) => layout::load_str(&path.display().to_string(), text, Some(version)),
        None => layout::national(version),
    }
    .map_err(cannot)?;
    let layout = Arc::new(layout);
    if built.len() >= LAYOUTS_KEPT {
        built.remove(0);
    }
    built.push((source, version.to_owned(), layout.clone()));
    Ok(layout)
}

impl CardSession {
    /// Opens the configured card reader (kept between calls in `readers`) and powers the card.
    pub fn open(readers: &Readers, config: &Config, i_type: i32) -> Result<CardSession, Failure> {
        check_i_type(i_type)?;
        let transport = readers.open_card(&config.card, config.card_wait)?;
        let atr = transport.atr();
        let version = version_from_atr(&atr)
            .unwrap_or(config.default_version.as_str())
            .to_owned();
        let layout = layout_for(config, &version)?;
        Ok(CardSession {
            client: Client::new(transport),
            layout,
            version,
            atr,
        })
    }

    /// Powers the card down (the end of every call); a card already gone is no error here.
    pub fn close(mut self) {
        let _ = self.client.transport_mut().power_off();
    }

    /// The ATR's historical bytes in upper-case hex.
    pub fn historical_hex(&self) -> String {
        let historical = crate::protocol::atr::parse(&self.atr)
            .map(|a| a.historical.clone())
            .unwrap_or_default();
        hex::encode_upper(historical)
    }

    pub fn transmit(&mut self, command: &Command<'_>) -> Result<Response, Failure> {
        Ok(self.client.transmit(command)?)
    }

    /// The DF named `name` in the layout.
    pub fn df(&self, name: &str) -> Result<&Df, Failure> {
        self.layout
            .df(name)
            .ok_or_else(|| Failure::new(codes::CANNOT_LOAD, format!("the layout has no {name}")))
    }

    /// SELECT of a DF by its path from the MF.
    pub fn select_df(&mut self, name: &str) -> Result<(), Failure> {
        let df = self.df(name)?;
        let path = self.layout.df_path(df);
        let answer = files::select_df(&mut self.client, &path, Answer::Nothing)?;
        succeeded(&format!("SELECT {name}"), answer.sw)
    }

    /// SELECT of an EF of the current DF.
    pub fn select_ef(&mut self, fid: u16) -> Result<(), Failure> {
        let answer = files::select_ef(&mut self.client, fid, Answer::Nothing)?;
        succeeded(&format!("SELECT {fid:04X}"), answer.sw)
    }

    /// READ RECORD by identifier (`00 B2 <tag> 00`) of the current EF: the field's value bytes.
    pub fn read_tag(&mut self, tag: u8) -> Result<Vec<u8>, Failure> {
        let answer = self.transmit(&Command {
            ne: Some(256),
            ..apdu::command(0x00, 0xB2, tag, 0x00)
        })?;
        succeeded(&format!("READ RECORD {tag:02X}"), answer.sw)?;
        match answer.data.as_slice() {
            [t, len, value @ ..] if *t == tag && usize::from(*len) <= value.len() => {
                Ok(value[..usize::from(*len)].to_vec())
            }
            _ => Err(Failure::new(
                codes::ILLEGAL_DATA,
                format!("record {tag:02X} on the card is not tag-length-value"),
            )),
        }
    }

    /// A field of the current EF as text (its layout encoding decoded).
    pub fn read_field(&mut self, field: &Field) -> Result<String, Failure> {
        let value = self.read_tag(field.tag)?;
        if value.is_empty() {
            return Ok(String::new());
        }
        codec::decode(field.encoding, &value).map_err(|e| {
            Failure::new(
                codes::ILLEGAL_DATA,
                format!("{} on the card does not decode: {e}", field.id),
            )
        })
    }

    /// The fields `ids` of EF `path` ("SSSE/EF06"), read by tag after selecting its DF and EF.
    pub fn read_fields(&mut self, path: &str, ids: &[&str]) -> Result<Vec<String>, Failure> {
        let (df, ef) = self.ef(path)?;
        let (df_name, fid) = (df.name.clone(), ef.fid);
        let fields = self.fields_of(path, ids)?;
        self.select_df(&df_name)?;
        self.select_ef(fid)?;
        fields.iter().map(|f| self.read_field(f)).collect()
    }

    /// As [`CardSession::read_fields`] when the EF's DF is the current DF already: the EF is
    /// selected, the DF not again (one APDU fewer; and a card may clear what an authentication
    /// granted in a DF when that DF is selected again).
    pub fn read_fields_in_current_df(
        &mut self,
        path: &str,
        ids: &[&str],
    ) -> Result<Vec<String>, Failure> {
        let (_, ef) = self.ef(path)?;
        let fid = ef.fid;
        let fields = self.fields_of(path, ids)?;
        self.select_ef(fid)?;
        fields.iter().map(|f| self.read_field(f)).collect()
    }

    /// The layout's fields `ids` of EF `path`.
    fn fields_of(&self, path: &str, ids: &[&str]) -> Result<Vec<Field>, Failure> {
        let (_, ef) = self.ef(path)?;
        ids.iter()
            .map(|id| {
                ef.fields
                    .iter()
                    .find(|f| f.id == *id)
                    .cloned()
                    .ok_or_else(|| {
                        Failure::new(
                            codes::CANNOT_LOAD,
                            format!("the layout has no {id} in {path}"),
                        )
                    })
            })
            .collect()
    }

    pub fn ef(&self, path: &str) -> Result<(&Df, &Ef), Failure> {
        self.layout
            .ef(path)
            .ok_or_else(|| Failure::new(codes::CANNOT_LOAD, format!("the layout has no {path}")))
    }

    /// SSSE EF05: the card identification code, version, dates and card number.
    pub fn card_facts(&mut self) -> Result<CardFacts, Failure> {
        let values = self.read_fields(
            "SSSE/EF05",
            &[
                "card_id_code",
                "spec_version",
                "issue_date",
                "expiry_date",
                "card_number",
            ],
        )?;
        let [code_hex, spec_version, issue_date, expiry_date, card_number] =
            <[String; 5]>::try_from(values).map_err(|_| {
                Failure::new(codes::ILLEGAL_DATA, "the card identification is incomplete")
            })?;
        let code: [u8; 16] = hex::decode(&code_hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                Failure::new(
                    codes::CARD_ID_FORMAT,
                    "the card's identification code is not 16 bytes",
                )
            })?;
        Ok(CardFacts {
            code,
            code_hex,
            card_number,
            spec_version,
            issue_date,
            expiry_date,
        })
    }

    /// The key of `df` with `id` as the layout describes it.
    pub fn key_ref(&self, df: &str, id: u8) -> Result<KeyRef, Failure> {
        let spec = self
            .df(df)?
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| {
                Failure::new(
                    codes::CANNOT_LOAD,
                    format!("the layout has no key {id:02X} in {df}"),
                )
            })?;
        // The layout's usage byte is the card's (one table: card-os's security::Usage).
        let usage = card_os::security::Usage::from_byte(spec.usage.to_byte()).ok_or_else(|| {
            Failure::new(
                codes::CANNOT_LOAD,
                format!("the layout's key {id:02X} in {df} has a usage the card does not know"),
            )
        })?;
        Ok(KeyRef {
            df: df.into(),
            id,
            usage,
            algorithm: spec.algorithm,
        })
    }

    /// The first key of `df` with `usage` (PIN unblock, PIN reload, internal auth, MAC).
    pub fn key_with_usage(&self, df: &str, usage: KeyUsage) -> Result<KeyRef, Failure> {
        let id = self
            .df(df)?
            .keys
            .iter()
            .find(|k| k.usage == usage)
            .map(|k| k.id)
            .ok_or_else(|| {
                Failure::new(
                    codes::CANNOT_LOAD,
                    format!("the layout has no {} key in {df}", usage.name()),
                )
            })?;
        self.key_ref(df, id)
    }

    /// GET CHALLENGE of 8 bytes.
    pub fn challenge(&mut self) -> Result<Vec<u8>, Failure> {
        auth::get_challenge(&mut self.client).map_err(auth_failure)
    }

    /// EXTERNAL AUTHENTICATE with key `key` of the current DF, the cryptogram from `module`.
    pub fn authenticate_with(
        &mut self,
        module: &mut dyn SecurityModule,
        key: &KeyRef,
        facts: &CardFacts,
    ) -> Result<(), Failure> {
        let challenge = self.challenge()?;
        let cryptogram = module
            .encrypt(key, &facts.code, &challenge)
            .map_err(security_failure)?;
        auth::send_cryptogram(&mut self.client, key.id, &cryptogram).map_err(auth_failure)
    }

    /// A command under secure messaging with `key`'s MAC from `module` (after a fresh challenge).
    pub fn send_with_mac(
        &mut self,
        module: &mut dyn SecurityModule,
        key: &KeyRef,
        facts: &CardFacts,
        header: [u8; 4],
        data: &[u8],
    ) -> Result<Response, Failure> {
        let challenge = self.challenge()?;
        let mac = module
            .command_mac(key, &facts.code, &challenge, header, data)
            .map_err(security_failure)?;
        self.send_with_given_mac(header, data, &mac)
    }

    /// A command with a MAC computed elsewhere (an HSM): the answer, refusals included.
    pub fn send_with_given_mac(
        &mut self,
        header: [u8; 4],
        data: &[u8],
        mac: &[u8],
    ) -> Result<Response, Failure> {
        let mut body = data.to_vec();
        body.extend_from_slice(mac);
        let [cla, ins, p1, p2] = header;
        let answer = self.transmit(&Command {
            data: &body,
            ..apdu::command(cla, ins, p1, p2)
        });
        zeroize::Zeroize::zeroize(&mut body);
        answer
    }

    /// The algorithm byte of the spec (01 DES, 02 SSF33, 03 SM4) of a key.
    pub fn algorithm_id(algorithm: Algorithm) -> &'static str {
        match algorithm {
            Algorithm::Des3 => "01",
            Algorithm::Sm4 => "03",
            _ => "04",
        }
    }
}

/// A status word other than 9000 as the failure of `command`.
pub fn succeeded(command: &str, sw: Status) -> Result<(), Failure> {
    if sw == Status::Success {
        Ok(())
    } else {
        Err(Failure::card(command, sw))
    }
}

fn auth_failure(e: auth::AuthError) -> Failure {
    match e {
        auth::AuthError::Client(c) => c.into(),
        auth::AuthError::Refused { command, sw } => Failure::card(command, sw),
        other => Failure::new(codes::ILLEGAL_DATA, other.to_string()),
    }
}

/// A PSAM (or software module) that could not compute: the PSAM codes of the spec.
pub fn security_failure(e: SecurityError) -> Failure {
    match &e {
        SecurityError::PsamLink(c) => Failure::new(
            codes::NO_PSAM,
            format!("the PSAM could not be reached: {c}"),
        ),
        SecurityError::PsamRefused { sw, .. } if sw.to_u16() == 0x6A88 => Failure::new(
            codes::PSAM_NO_KEY,
            format!("{e}: the PSAM lacks the key (use the HSM functions)"),
        ),
        SecurityError::PsamRefused { sw, .. } if sw.to_u16() == 0x6A80 => Failure::new(
            codes::PSAM_NO_ALGORITHM,
            format!("{e}: the PSAM lacks the algorithm (use the HSM functions)"),
        ),
        _ => Failure::new(codes::PSAM_LEVEL_LOW, e.to_string()),
    }
}

/// The terminal's PSAM for a call (kept between calls in `readers`); `None` without one in the
/// configuration.
pub fn open_psam(readers: &Readers, config: &Config) -> Result<Option<PsamLease>, Failure> {
    readers.open_psam(config)
}

/// The PSAM or −2201 (callers then take the HSM path).
pub fn require_psam(readers: &Readers, config: &Config) -> Result<PsamLease, Failure> {
    open_psam(readers, config)?.ok_or_else(|| {
        Failure::new(
            codes::NO_PSAM,
            "no PSAM is configured: use the HSM functions (Step1/Step2)",
        )
    })
}
