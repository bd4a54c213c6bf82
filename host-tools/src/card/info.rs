//! What `sscard info` and the demo show: the card's identification and cardholder data, read
//! through the layout's read plan and decoded by file-structures. Fields the card keeps behind a
//! PIN or a key are reported with what they need instead of failing the whole reading.

use std::collections::BTreeMap;

use file_structures::codec::{gender_name, nation_name, Encoding};
use file_structures::decode::decode_ef;
use file_structures::layout::{AccessRule, Condition, Layout, ReadMode, ReadPlan};
use file_structures::personalise::IssuerKeys;
use serde::Serialize;

use crate::card::auth::{self, AuthError};
use crate::card::files::{self, Answer};
use crate::protocol::apdu::Status;
use crate::protocol::client::{Client, ClientError};
use crate::protocol::fcp::rule_words;
use crate::transport::CardTransport;

/// The fields `info` shows, by layout field id, in the order shown.
pub const INFO_FIELDS: [&str; 10] = [
    "card_number",
    "ssn",
    "name",
    "gender",
    "nation",
    "birthplace",
    "birth_date",
    "issue_date",
    "expiry_date",
    "spec_version",
];

/// The field whose emptiness means "not activated" (the project's activation file).
pub const ACTIVATION_FIELD: &str = "activation_state";

/// One field as `info` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InfoField {
    pub id: String,
    pub zh: String,
    pub en: String,
    /// "SSSE/EF06".
    pub file: String,
    /// The value as stored (digits, text), when it was read and is present.
    pub value: Option<String>,
    /// The value for a person: dates with dashes, codes with their names.
    pub shown: Option<String>,
    /// Why there is no value: "empty", "needs PIN", "6982 security status not satisfied", ...
    pub missing: Option<String>,
}

/// The activation state, from the activation file when its rule lets it be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Activation {
    NotActivated,
    Activated { fields: BTreeMap<String, String> },
    Unknown { reason: String },
}

impl Activation {
    pub fn words(&self) -> String {
        match self {
            Activation::NotActivated => "not activated".into(),
            Activation::Activated { fields } => {
                let details: Vec<String> = fields.iter().map(|(k, v)| format!("{k} {v}")).collect();
                format!("activated ({})", details.join(", "))
            }
            Activation::Unknown { reason } => format!("unknown ({reason})"),
        }
    }
}

/// Everything `info` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardInfo {
    /// The layout the card was read with, e.g. "national 3.0".
    pub layout: String,
    pub fields: Vec<InfoField>,
    pub activation: Activation,
    /// Keys the host authenticated with, e.g. "SSSE key 0A".
    pub authenticated: Vec<String>,
}

/// Why a card could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum InfoError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("external authentication with {df} key {id:02X} failed")]
    Auth {
        df: String,
        id: u8,
        #[source]
        source: AuthError,
    },
}

/// How one EF went: its records, or why there are none.
enum EfRead {
    Records(Vec<Vec<u8>>),
    Missing(String),
}

/// The national version a card announces in its ATR's historical bytes (generation byte `20`
/// or `30`), if it does.
pub fn version_from_atr(atr: &[u8]) -> Option<&'static str> {
    let profile = crate::protocol::atr::parse(atr).ok()?.ssc?;
    match profile.generation_byte {
        0x20 => Some("2.0"),
        0x30 => Some("3.0"),
        _ => None,
    }
}

/// A value for a person: `20240101` → `2024-01-01`, gender and nation codes with their names.
pub fn shown_value(encoding: Encoding, value: &str) -> String {
    match encoding {
        Encoding::Date if value.len() == 8 => {
            format!("{}-{}-{}", &value[..4], &value[4..6], &value[6..])
        }
        Encoding::Gender => match gender_name(value) {
            Some((zh, en)) => format!("{zh} {en}"),
            None => value.to_owned(),
        },
        Encoding::Nation => match nation_name(value) {
            Some(name) => format!("{name} ({value})"),
            None => value.to_owned(),
        },
        _ => value.to_owned(),
    }
}

/// What reading with `rule` needs that the host does not have; `None` when it can read.
fn unmet(rule: AccessRule, have_keys: bool) -> Option<String> {
    let needs = || format!("needs {}", rule_words(rule));
    if rule.secure_messaging {
        return Some(needs());
    }
    match rule.condition {
        Condition::Free => None,
        Condition::Key(_) | Condition::PinOrKey(_) if have_keys => None,
        Condition::Key(_) | Condition::PinOrKey(_) => Some(format!("{} (give --keys)", needs())),
        Condition::Pin | Condition::PinAndKey(_) | Condition::Never => Some(needs()),
    }
}

/// Reads one EF of the plan, authenticating first when its rule asks for a key the host has.
fn read_ef<T: CardTransport>(
    client: &mut Client<T>,
    layout: &Layout,
    plan: &ReadPlan,
    rule: AccessRule,
    keys: Option<(&IssuerKeys, &[u8; 16])>,
    authenticated: &mut Vec<String>,
) -> Result<EfRead, InfoError> {
    if let Some(reason) = unmet(rule, keys.is_some()) {
        return Ok(EfRead::Missing(reason));
    }
    let refused = |what: &str, sw: Status| {
        EfRead::Missing(format!("{what}: {}", crate::protocol::sw::explain(sw)))
    };
    let answer = files::select_df(client, &plan.df_path, Answer::Nothing)?;
    if answer.sw != Status::Success {
        return Ok(refused(&format!("SELECT {}", plan.df_name), answer.sw));
    }
    if let (Some(id), Some((issuer, code))) = (rule.key(), keys) {
        auth::external_authenticate(client, layout, issuer, &plan.df_name, id, code).map_err(
            |source| InfoError::Auth {
                df: plan.df_name.clone(),
                id,
                source,
            },
        )?;
        let name = format!("{} key {id:02X}", plan.df_name);
        if !authenticated.contains(&name) {
            authenticated.push(name);
        }
    }
    let answer = files::select_ef(client, plan.ef_fid, Answer::Nothing)?;
    if answer.sw != Status::Success {
        return Ok(refused(&format!("SELECT {}", plan.path), answer.sw));
    }
    let ReadMode::Records { records } = plan.mode else {
        return Ok(EfRead::Missing("not a record file".into()));
    };
    let (read, sw) = files::read_records(client, records)?;
    if sw != Status::Success {
        return Ok(refused("READ RECORD", sw));
    }
    Ok(EfRead::Records(read))
}

/// Reads the card's identification, cardholder data and activation state through `layout`.
/// With issuer `keys`, EFs whose rule needs an external authentication are read after it.
pub fn read_card_info<T: CardTransport>(
    client: &mut Client<T>,
    layout: &Layout,
    keys: Option<&IssuerKeys>,
) -> Result<CardInfo, InfoError> {
    let plans = layout.read_plan();
    let plan_of = |path: &str| plans.iter().find(|p| p.path == path);
    let mut authenticated = Vec::new();
    // The card identification code first: it is the key diversification input.
    let id_field = layout
        .fields()
        .find(|f| f.field.encoding == Encoding::CardIdCode);
    let mut values: BTreeMap<String, Result<Option<String>, String>> = BTreeMap::new();
    let mut read_paths: Vec<String> = Vec::new();
    let mut card_id_code: Option<[u8; 16]> = None;
    let wanted_paths: Vec<String> = id_field
        .iter()
        .chain(
            INFO_FIELDS
                .iter()
                .chain([&ACTIVATION_FIELD])
                .filter_map(|id| layout.field(id))
                .collect::<Vec<_>>()
                .iter(),
        )
        .map(|f| file_structures::layout::ef_path(f.df, f.ef))
        .collect();
    for path in wanted_paths {
        if read_paths.contains(&path) {
            continue;
        }
        read_paths.push(path.clone());
        let (Some(plan), Some((_, ef))) = (plan_of(&path), layout.ef(&path)) else {
            continue;
        };
        let card_keys = match (keys, &card_id_code) {
            (Some(k), Some(code)) => Some((k, code)),
            _ => None,
        };
        let read = read_ef(
            client,
            layout,
            plan,
            ef.access.read,
            card_keys,
            &mut authenticated,
        )?;
        match read {
            EfRead::Missing(reason) => {
                for f in &ef.fields {
                    values.insert(f.id.clone(), Err(reason.clone()));
                }
            }
            EfRead::Records(records) => match decode_ef(layout, &path, &records) {
                Ok(decoded) => {
                    for f in decoded {
                        values.insert(f.id, Ok(f.value));
                    }
                }
                Err(e) => {
                    for f in &ef.fields {
                        values.insert(f.id.clone(), Err(format!("does not decode: {e}")));
                    }
                }
            },
        }
        if card_id_code.is_none() {
            if let Some(Ok(Some(code))) = id_field.and_then(|f| values.get(&f.field.id)) {
                card_id_code = hex::decode(code).ok().and_then(|b| b.try_into().ok());
            }
        }
    }
    let fields = INFO_FIELDS
        .iter()
        .filter_map(|id| layout.field(id))
        .map(|f| {
            let (value, missing) = match values.get(&f.field.id) {
                Some(Ok(Some(v))) => (Some(v.clone()), None),
                Some(Ok(None)) => (None, Some("empty".to_owned())),
                Some(Err(reason)) => (None, Some(reason.clone())),
                None => (None, Some("not read".to_owned())),
            };
            InfoField {
                id: f.field.id.clone(),
                zh: f.field.zh.clone(),
                en: f.field.en.clone(),
                file: file_structures::layout::ef_path(f.df, f.ef),
                shown: value.as_deref().map(|v| shown_value(f.field.encoding, v)),
                value,
                missing,
            }
        })
        .collect();
    let activation = match layout.field(ACTIVATION_FIELD) {
        None => Activation::Unknown {
            reason: "the layout has no activation file".into(),
        },
        // docs/layouts.md: state "0" (the default) or empty = not activated, "1" = activated.
        Some(f) => match values.get(ACTIVATION_FIELD) {
            Some(Ok(None)) => Activation::NotActivated,
            Some(Ok(Some(state))) if state == "0" => Activation::NotActivated,
            Some(Ok(Some(state))) if state == "1" => Activation::Activated {
                fields: f
                    .ef
                    .fields
                    .iter()
                    .filter(|fd| fd.id != ACTIVATION_FIELD)
                    .filter_map(|fd| match values.get(&fd.id) {
                        Some(Ok(Some(v))) => Some((fd.id.clone(), v.clone())),
                        _ => None,
                    })
                    .collect(),
            },
            Some(Ok(Some(state))) => Activation::Unknown {
                reason: format!("state {state:?} is not one the layout defines"),
            },
            Some(Err(reason)) => Activation::Unknown {
                reason: reason.clone(),
            },
            None => Activation::Unknown {
                reason: "not read".into(),
            },
        },
    };
    Ok(CardInfo {
        layout: layout.name.clone(),
        fields,
        activation,
        authenticated,
    })
}
