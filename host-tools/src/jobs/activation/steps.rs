//! The steps of an activation, each over the one client and the security module. File ids, key
//! ids and tags all come from the layout.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

use card_os::crypto::Pin;
use card_os::data_tags;
use card_os::memory_map::{LIFE_CYCLE_CARD_BLOCKED, LIFE_CYCLE_PERSONALISATION};
use card_os::restriction::{STATUS_GRACE, STATUS_NORMAL, STATUS_RESTRICTED};
use card_os::security::Usage;
use file_structures::codec::{self, Encoding};
use file_structures::layout::{Df, Ef, FieldRef, KeySpec, KeyUsage, Layout};

use super::rules::{Identity, InputError};
use super::security::{KeyRef, SecurityModule};
use super::{ActivationError, Receipt, Terminal};
use crate::card::auth::{self, AuthError};
use crate::card::files::{self, Answer};
use crate::card::info::{self, Activation};
use crate::protocol::apdu::{build, CommandApdu, Status};

use crate::protocol::client::Client;
use crate::transport::CardTransport;

/// The layout's activation field ids (docs/layouts.md).
const STATE: &str = info::ACTIVATION_FIELD;
const DATE: &str = "activation_date";
const OUTLET: &str = "activation_outlet";
const TERMINAL: &str = "activation_terminal";
/// The state value of an activated card.
const ACTIVATED: &str = "1";

/// What the layout says an activation uses.
pub(crate) struct Plan<'l> {
    /// The DF holding the activation file (SSSE).
    df: &'l Df,
    df_path: Vec<u16>,
    ef: &'l Ef,
    sfi: u8,
    /// The key the activation file's update rule names (0B).
    write_key: KeyRef,
    mac_key: KeyRef,
    internal_key: KeyRef,
}

fn key_ref(df: &Df, spec: &KeySpec) -> Option<KeyRef> {
    Some(KeyRef {
        df: df.name.clone(),
        id: spec.id,
        usage: Usage::from_byte(spec.usage.to_byte())?,
        algorithm: spec.algorithm,
    })
}

impl<'l> Plan<'l> {
    pub(crate) fn new(layout: &'l Layout) -> Result<Self, ActivationError> {
        let missing = |what: &str| ActivationError::Layout(what.to_owned());
        let state = layout
            .field(STATE)
            .ok_or_else(|| missing("no activation_state field"))?;
        let (df, ef) = (state.df, state.ef);
        let sfi = ef
            .sfi
            .ok_or_else(|| missing("the activation file has no SFI"))?;
        let rule = ef.access.update;
        let by_usage = |usage: KeyUsage| df.keys.iter().find(|k| k.usage == usage);
        let write_key = rule
            .key()
            .and_then(|id| df.keys.iter().find(|k| k.id == id))
            .and_then(|k| key_ref(df, k))
            .ok_or_else(|| missing("the activation file's update rule names no key"))?;
        let mac_key = by_usage(KeyUsage::Mac)
            .and_then(|k| key_ref(df, k))
            .ok_or_else(|| missing("the activation file's DF has no MAC key"))?;
        let internal_key = by_usage(KeyUsage::InternalAuth)
            .and_then(|k| key_ref(df, k))
            .ok_or_else(|| missing("the activation file's DF has no internal-auth key"))?;
        Ok(Plan {
            df,
            df_path: layout.df_path(df),
            ef,
            sfi,
            write_key,
            mac_key,
            internal_key,
        })
    }
}

/// The card's facts an activation needs.
pub(crate) struct CardFacts {
    pub number: String,
    pub id_number: String,
    pub name: String,
    pub expiry: String,
    pub code: [u8; 16],
    pub activation: Activation,
}

/// Refuses a card that is not issued or is blocked (card, or the activation file's application).
pub(crate) fn check_blocking<T: CardTransport>(
    client: &mut Client<T>,
    plan: &Plan<'_>,
) -> Result<(), ActivationError> {
    let life = client.send(&build::get_data(data_tags::CARD_LIFE_CYCLE, 256))?;
    match (life.sw, life.data.as_slice()) {
        (Status::Success, [LIFE_CYCLE_PERSONALISATION]) => return Err(ActivationError::NotIssued),
        (Status::Success, [LIFE_CYCLE_CARD_BLOCKED]) => {
            return Err(ActivationError::Blocked("card blocked".into()))
        }
        _ => {}
    }
    let select = files::select_df(client, &plan.df_path, Answer::Nothing)?;
    match select.sw {
        Status::Success => Ok(()),
        Status::SelectedFileDeactivated => Err(ActivationError::Blocked(format!(
            "{} temporarily blocked",
            plan.df.name
        ))),
        Status::APPLICATION_PERMANENTLY_BLOCKED => Err(ActivationError::Blocked(format!(
            "{} permanently blocked",
            plan.df.name
        ))),
        Status::FunctionNotSupported => Err(ActivationError::Blocked("card blocked".into())),
        _ => Err(ActivationError::Refused {
            command: "SELECT",
            sw: select.sw,
        }),
    }
}

/// Reads the card's identification, holder and activation data, and its identification code.
pub(crate) fn read_card<T: CardTransport, M: SecurityModule + ?Sized>(
    client: &mut Client<T>,
    layout: &Layout,
    module: &mut M,
) -> Result<CardFacts, ActivationError> {
    let info = info::read_card_info(client, layout, module.issuer_keys())?;
    let code = read_card_id_code(client, layout)?;
    let mut value = |id: &str| -> Result<String, ActivationError> {
        let field = info.fields.iter().find(|f| f.id == id);
        if let Some(f) = field.filter(|f| f.value.is_none()) {
            // Behind a key the module holds (3.0 personal data with a PSAM): read it here.
            if let Some(v) = read_behind_key(client, layout, module, &code, id)? {
                return Ok(v);
            }
            let _ = f;
        }
        match field {
            Some(f) => f.value.clone().ok_or_else(|| {
                ActivationError::Unreadable(format!(
                    "{} ({}): {}",
                    f.en,
                    f.file,
                    f.missing.as_deref().unwrap_or("missing")
                ))
            }),
            None => Err(ActivationError::Layout(format!("no {id} field"))),
        }
    };
    Ok(CardFacts {
        number: value("card_number")?,
        id_number: value("ssn")?,
        name: value("name")?,
        expiry: value("expiry_date")?,
        code,
        activation: info.activation,
    })
}

/// A field whose EF's read rule is an external authentication (alone): authenticated through the
/// security module, read and decoded. `None` when the rule is something else or the record empty.
fn read_behind_key<T: CardTransport, M: SecurityModule + ?Sized>(
    client: &mut Client<T>,
    layout: &Layout,
    module: &mut M,
    code: &[u8; 16],
    id: &str,
) -> Result<Option<String>, ActivationError> {
    let Some(field) = layout.field(id) else {
        return Ok(None);
    };
    let rule = field.ef.access.read;
    let (Some(key_id), false) = (rule.key(), rule.secure_messaging) else {
        return Ok(None);
    };
    if !matches!(
        rule.condition,
        file_structures::layout::Condition::Key(_)
            | file_structures::layout::Condition::PinOrKey(_)
    ) {
        return Ok(None);
    }
    let Some(key) = field
        .df
        .keys
        .iter()
        .find(|k| k.id == key_id)
        .and_then(|k| key_ref(field.df, k))
    else {
        return Ok(None);
    };
    select_field_df(client, layout, &field)?;
    let challenge = auth::get_challenge(client).map_err(auth_error)?;
    let cryptogram = module.encrypt(&key, code, &challenge)?;
    auth::send_cryptogram(client, key.id, &cryptogram).map_err(auth_error)?;
    let record = read_field_record(client, &field)?;
    Ok(record
        .get(2..)
        .and_then(|v| codec::decode(field.field.encoding, v).ok())
        .filter(|v| !v.is_empty()))
}

/// SELECT of the DF that holds `field`; a refusal stops the activation.
fn select_field_df<T: CardTransport>(
    client: &mut Client<T>,
    layout: &Layout,
    field: &FieldRef<'_>,
) -> Result<(), ActivationError> {
    let answer = files::select_df(client, &layout.df_path(field.df), Answer::Nothing)?;
    succeeded("SELECT", answer.sw)
}

/// SELECT of `field`'s EF under the current DF, then READ RECORD of its record: the whole record
/// (`tag len value`).
fn read_field_record<T: CardTransport>(
    client: &mut Client<T>,
    field: &FieldRef<'_>,
) -> Result<Vec<u8>, ActivationError> {
    let answer = files::select_ef(client, field.ef.fid, Answer::Nothing)?;
    succeeded("SELECT", answer.sw)?;
    let record = files::read_record(client, field.field.rec)?;
    succeeded("READ RECORD", record.sw)?;
    Ok(record.data)
}

fn succeeded(command: &'static str, sw: Status) -> Result<(), ActivationError> {
    if sw == Status::Success {
        Ok(())
    } else {
        Err(ActivationError::Refused { command, sw })
    }
}

/// What a settlement needs of the card (its identification file alone, readable without a key):
/// the card number, the expiry date and the card identification code.
pub(crate) struct CardId {
    pub number: String,
    pub expiry: String,
    pub code: [u8; 16],
}

/// Reads [`CardId`]: three records, instead of the whole card information.
pub(crate) fn read_card_id<T: CardTransport>(
    client: &mut Client<T>,
    layout: &Layout,
) -> Result<CardId, ActivationError> {
    let code = read_card_id_code(client, layout)?;
    let mut value = |id: &str| -> Result<String, ActivationError> {
        let field = layout
            .field(id)
            .ok_or_else(|| ActivationError::Layout(format!("no {id} field")))?;
        select_field_df(client, layout, &field)?;
        let record = read_field_record(client, &field)?;
        record
            .get(2..)
            .and_then(|v| codec::decode(field.field.encoding, v).ok())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ActivationError::Unreadable(format!(
                    "{} ({id}) is empty or invalid",
                    field.field.en
                ))
            })
    };
    Ok(CardId {
        number: value("card_number")?,
        expiry: value("expiry_date")?,
        code,
    })
}

/// The card identification code (the diversification input), read by the layout's field.
fn read_card_id_code<T: CardTransport>(
    client: &mut Client<T>,
    layout: &Layout,
) -> Result<[u8; 16], ActivationError> {
    let field = layout
        .fields()
        .find(|f| f.field.encoding == Encoding::CardIdCode)
        .ok_or_else(|| ActivationError::Layout("no card identification code field".into()))?;
    select_field_df(client, layout, &field)?;
    read_field_record(client, &field)?
        .get(2..18)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| ActivationError::Unreadable("the card identification code is short".into()))
}

/// The document against the card: ID number, then name (decoded from GBK by the layout).
pub(super) fn check_identity(card: &CardFacts, identity: &Identity) -> Result<(), ActivationError> {
    if !card.id_number.eq_ignore_ascii_case(&identity.id_number) {
        return Err(ActivationError::IdentityMismatch { what: "ID number" });
    }
    if card.name.trim() != identity.name {
        return Err(ActivationError::IdentityMismatch { what: "name" });
    }
    Ok(())
}

/// 8 unpredictable bytes (std's per-process random hash keys): the INTERNAL AUTHENTICATE data.
fn random_bytes() -> [u8; 8] {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0x5353_4341_5244);
    hasher.finish().to_be_bytes()
}

fn auth_error(e: AuthError) -> ActivationError {
    match e {
        AuthError::Client(c) => ActivationError::Client(c),
        AuthError::Refused { command, sw } => ActivationError::Refused { command, sw },
        other => ActivationError::Unreadable(other.to_string()),
    }
}

/// INTERNAL AUTHENTICATE with the plan's internal-auth key (its DF selected): the card proves it
/// is genuine; a wrong answer is a fake card. Used by activation and by settlement.
pub(crate) fn internal_authenticate<T: CardTransport, M: SecurityModule + ?Sized>(
    client: &mut Client<T>,
    module: &mut M,
    plan: &Plan<'_>,
    code: &[u8; 16],
) -> Result<(), ActivationError> {
    let data = random_bytes();
    let key = &plan.internal_key;
    let answer = client.send(&build::internal_authenticate(key.id, &data))?;
    succeeded("INTERNAL AUTHENTICATE", answer.sw)?;
    let expected = module.encrypt(key, code, &data)?;
    if expected != answer.data {
        return Err(ActivationError::FakeCard);
    }
    Ok(())
}

impl Plan<'_> {
    /// The path of the DF holding the internal-auth key (select it before
    /// [`internal_authenticate`]).
    pub(crate) fn df_path(&self) -> &[u16] {
        &self.df_path
    }
}

/// One activation run's working set.
pub(super) struct Run<'a, T: CardTransport, M: SecurityModule + ?Sized> {
    pub client: &'a mut Client<T>,
    pub module: &'a mut M,
    pub plan: &'a Plan<'a>,
    pub card: &'a CardFacts,
    pub terminal: &'a Terminal,
}

impl<T: CardTransport, M: SecurityModule + ?Sized> Run<'_, T, M> {
    fn select_df(&mut self) -> Result<(), ActivationError> {
        let answer = files::select_df(self.client, &self.plan.df_path, Answer::Nothing)?;
        succeeded("SELECT", answer.sw)
    }

    /// A command with the secure-messaging MAC of `key` (CLA `84`/`04`), after a fresh challenge.
    fn send_with_mac(
        &mut self,
        command: &'static str,
        key: &KeyRef,
        header: [u8; 4],
        data: &[u8],
    ) -> Result<(), ActivationError> {
        let challenge = auth::get_challenge(self.client).map_err(auth_error)?;
        let mac = self
            .module
            .command_mac(key, &self.card.code, &challenge, header, data)?;
        let mut body = data.to_vec();
        body.extend_from_slice(&mac);
        let [cla, ins, p1, p2] = header;
        let answer = self
            .client
            .send(&CommandApdu::new(cla, ins, p1, p2).with_data(body))?;
        succeeded(command, answer.sw)
    }

    /// APPLICATION BLOCK (temporary) of the activation file's application, under its MAC key.
    pub(super) fn block_application(&mut self) -> Result<(), ActivationError> {
        self.select_df()?;
        let key = self.plan.mac_key.clone();
        self.send_with_mac("APPLICATION BLOCK", &key, [0x84, 0x1E, 0x00, 0x00], &[])
    }

    /// EXTERNAL AUTHENTICATE with the activation file's key (the terminal proves itself), then
    /// INTERNAL AUTHENTICATE (the card proves itself; a wrong answer is a fake card).
    pub(super) fn authenticate(&mut self) -> Result<(), ActivationError> {
        self.select_df()?;
        let challenge = auth::get_challenge(self.client).map_err(auth_error)?;
        let key = &self.plan.write_key;
        let cryptogram = self.module.encrypt(key, &self.card.code, &challenge)?;
        auth::send_cryptogram(self.client, key.id, &cryptogram).map_err(auth_error)?;
        internal_authenticate(self.client, self.module, self.plan, &self.card.code)
    }

    /// CHANGE PIN from the initial PIN. A card whose PIN is no longer the initial one (an earlier
    /// run changed it and was cut before its journal line) is checked with VERIFY of the new PIN,
    /// which also gives back the try the CHANGE PIN spent.
    pub(super) fn change_pin(&mut self, initial: &str, pin: &Pin) -> Result<(), ActivationError> {
        let initial = Pin::from_ascii(initial.as_bytes()).map_err(|_| InputError::PinForm)?;
        let answer = self.client.send(&build::change_pin(&initial, pin))?;
        match answer.sw {
            Status::Success => Ok(()),
            Status::Counter(_) => {
                let verify = self.client.send(&build::verify(pin))?;
                match verify.sw {
                    Status::Success => Ok(()),
                    Status::Counter(_) => Err(ActivationError::PinAlreadyChanged),
                    sw => Err(ActivationError::Refused {
                        command: "VERIFY",
                        sw,
                    }),
                }
            }
            sw => Err(ActivationError::Refused {
                command: "CHANGE PIN",
                sw,
            }),
        }
    }

    /// Writes the activation record: date, outlet and terminal first, the state last (the one
    /// record that makes the card activated, written atomically by the card).
    pub(super) fn write_activation(&mut self) -> Result<BTreeMap<String, String>, ActivationError> {
        let values = [
            (DATE, self.terminal.date.clone()),
            (OUTLET, self.terminal.outlet.clone()),
            (TERMINAL, self.terminal.terminal_id.clone()),
            (STATE, ACTIVATED.to_owned()),
        ];
        // Encode everything before the first write: a value that does not fit writes nothing.
        let mut records = Vec::new();
        for (id, value) in &values {
            let Some(field) = self.plan.ef.fields.iter().find(|f| f.id == *id) else {
                continue;
            };
            let bytes = codec::encode(field.encoding, usize::from(field.len), value)
                .map_err(|e| InputError::Field(field.en.clone(), e))?;
            let mut record = vec![field.tag, bytes.len() as u8];
            record.extend_from_slice(&bytes);
            records.push((field.rec, record, (*id).to_owned(), value.clone()));
        }
        // The activation file's DF is still selected and its key authenticated (authenticate).
        let mac_key = self.plan.mac_key.clone();
        let p2 = (self.plan.sfi << 3) | 0x04;
        let mut written = BTreeMap::new();
        for (rec, record, id, value) in records {
            self.send_with_mac("UPDATE RECORD", &mac_key, [0x04, 0xDC, rec, p2], &record)?;
            if id != STATE {
                written.insert(id, value);
            }
        }
        Ok(written)
    }

    /// SET DATE, then the medical insurance status (GET DATA `DF41`), in words.
    fn medical_status(&mut self) -> Result<String, ActivationError> {
        let date = codec::encode(Encoding::Date, 4, &self.terminal.date)
            .map_err(|e| InputError::Field("date".into(), e))?;
        let set = self.client.send(&build::set_date(&date))?;
        let status = self
            .client
            .send(&build::get_data(data_tags::MEDICAL_STATUS, 256))?;
        Ok(match (set.sw, status.sw, status.data.as_slice()) {
            (Status::Success, Status::Success, [STATUS_NORMAL]) => "normal".into(),
            (Status::Success, Status::Success, [STATUS_GRACE]) => {
                "normal (not activated, within six months of issue)".into()
            }
            (Status::Success, Status::Success, [STATUS_RESTRICTED]) => "restricted".into(),
            _ => "not reported by this card".into(),
        })
    }

    pub(super) fn receipt(
        &mut self,
        written: BTreeMap<String, String>,
        attempt: &str,
        resumed: bool,
    ) -> Result<Receipt, ActivationError> {
        let get = |id: &str| written.get(id).cloned().unwrap_or_default();
        Ok(Receipt {
            card_number: self.card.number.clone(),
            name: self.card.name.clone(),
            activation_date: get(DATE),
            outlet: get(OUTLET),
            terminal: get(TERMINAL),
            attempt: attempt.to_owned(),
            resumed,
            // The card is activated whatever this answers: a card pulled now loses only the line.
            medical_insurance: self
                .medical_status()
                .unwrap_or_else(|e| format!("not read ({e})")),
            security_module: self.module.describe(),
        })
    }
}
