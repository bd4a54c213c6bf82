//! Layout + cardholder record → the personalisation APDU script of one card.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use card_os::crypto::SecretKey;

use super::apdu::{self, StepError};
use super::keys::{card_key_from_region, IssuerKeys, KeyError};
use super::record::{CardRecord, RecordError};
use crate::codec::{self, Encoding};
use crate::layout::{
    ef_path, AccessRule, AccessRules, Ef, FieldRef, KeySpec, Layout, PurseSpec, Structure,
    PURSE_BALANCE_FIELD,
};
use card_os::crypto::diversify::Diversifier;
use card_os::memory_map::{self as map, PURSE_FID, PURSE_SIZE};

/// One command of a script, with the label traces and errors show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Shared by every card of a batch.
    pub label: Arc<str>,
    pub apdu: Vec<u8>,
}

/// The personalisation script of one card. Its WRITE KEY steps hold card keys: treat a script
/// like a key file.
#[derive(Clone, PartialEq, Eq)]
pub struct Script {
    /// The record it was made from.
    pub card: String,
    /// The card identification code (16 bytes), for the card's format parameters.
    pub card_id_code: [u8; 16],
    pub steps: Vec<Step>,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Steps carry key values: show their labels only.
        let labels: Vec<_> = self.steps.iter().map(|s| &*s.label).collect();
        f.debug_struct("Script")
            .field("card", &self.card)
            .field("steps", &labels)
            .finish()
    }
}

impl Script {
    /// The plain-text form: a `#` comment line with the label, then the APDU as spaced hex
    /// (the format pcsc-tools' scriptor reads).
    pub fn to_text(&self) -> String {
        let mut text = format!("# personalisation script for {}\n", self.card);
        for step in &self.steps {
            text.push_str("# ");
            text.push_str(&step.label);
            text.push('\n');
            let hex: Vec<String> = step.apdu.iter().map(|b| format!("{b:02X}")).collect();
            text.push_str(&hex.join(" "));
            text.push('\n');
        }
        text
    }
}

/// Why a card could not be personalised.
#[derive(Debug, thiserror::Error)]
pub enum PersoError {
    #[error("{} has {} bad field(s); the first: {}", .record, .errors.len(), .errors.first().map(|e| e.to_string()).unwrap_or_default())]
    Record {
        record: String,
        errors: Vec<RecordError>,
    },
    #[error("{record}: cannot make the card keys")]
    Keys {
        record: String,
        #[source]
        source: KeyError,
    },
    #[error("{record}: the layout has no card-id-code field, so card keys cannot be diversified")]
    NoCardIdCode { record: String },
    #[error("{record}: step \"{step}\" answered SW {sw:04X}, expected 9000")]
    Card {
        record: String,
        step: String,
        sw: u16,
    },
    #[error("the layout cannot be personalised: step \"{step}\": {source}")]
    Step {
        step: String,
        #[source]
        source: StepError,
    },
    #[error("{record}: the card could not be formatted ({reason})")]
    Format { record: String, reason: String },
}

/// Every field of the layout, in layout order, as its APPEND RECORD command with the record
/// `tag len value` (`len` 0 for an absent optional field, so that record numbers stay those of
/// the layout). All bad fields of the record are reported together.
pub(crate) fn encode_record(
    layout: &Layout,
    record: &CardRecord,
) -> Result<Vec<Vec<u8>>, Vec<RecordError>> {
    let mut errors = Vec::new();
    for id in record.values.keys() {
        let purse_balance = layout.purse.is_some() && id == PURSE_BALANCE_FIELD;
        if layout.field(id).is_none() && !purse_balance {
            errors.push(RecordError::new(
                &record.label,
                Some(id),
                "no field of the layout has this id",
            ));
        }
    }
    let mut appends = Vec::new();
    for FieldRef { df, ef, field } in layout.fields() {
        let value = record.values.get(&field.id).or(field.default.as_ref());
        let mut apdu = Vec::with_capacity(7 + usize::from(field.len));
        apdu.extend_from_slice(&[0x00, 0xE2, 0x00, 0x00, 2, field.tag, 0]);
        match value {
            Some(v) if v.is_empty() && field.mandatory => {
                errors.push(RecordError::new(
                    &record.label,
                    Some(&field.id),
                    "a mandatory field may not be empty",
                ));
            }
            Some(v) => {
                match codec::encode_into(field.encoding, usize::from(field.len), v, &mut apdu) {
                    Ok(()) => {
                        apdu[4] = 2 + field.len;
                        apdu[6] = field.len;
                    }
                    Err(e) => errors.push(RecordError::new(
                        &record.label,
                        Some(&field.id),
                        format!(
                            "{e} ({} {}, {} {} bytes, {})",
                            ef_path(df, ef),
                            field.en,
                            field.encoding,
                            field.len,
                            field.zh
                        ),
                    )),
                }
            }
            None if field.mandatory => errors.push(RecordError::new(
                &record.label,
                Some(&field.id),
                format!("the mandatory field {} ({}) is missing", field.en, field.zh),
            )),
            None => {}
        }
        appends.push(apdu);
    }
    if errors.is_empty() {
        Ok(appends)
    } else {
        Err(errors)
    }
}

/// What one step of the plan is: the same bytes on every card, or a card's own key or field.
enum Part {
    Fixed(Vec<u8>),
    /// A fixed step the layout's values cannot make (reported by [`Personaliser::script`]).
    Unbuildable(StepError),
    /// Index into `Personaliser::keys`.
    Key(usize),
    /// Index into the layout's fields (layout order).
    Field(usize),
    /// UPDATE BINARY of the medical purse object with the card's starting balance.
    Purse,
}

/// The medical purse object as an EF: transparent, every rule never (only the card uses it).
fn purse_ef(purse: &PurseSpec) -> Ef {
    Ef {
        fid: PURSE_FID,
        sfi: None,
        zh: "医疗保险个人帐户".into(),
        en: "medical purse".into(),
        structure: Structure::Transparent {
            size: PURSE_SIZE as u16,
        },
        access: AccessRules {
            read: AccessRule::NEVER,
            update: AccessRule::NEVER,
            append: AccessRule::NEVER,
            admin: AccessRule::NEVER,
        },
        fields: Vec::new(),
        reserved_tags: Vec::new(),
        origin: purse.origin.clone(),
    }
}

/// The purse object a card starts with (docs/settlement.md): counters 0, the balance, no totals
/// and no payment year yet (the first purchase sets it), the start day and the settings.
pub fn purse_object(purse: &PurseSpec, balance: u32) -> [u8; PURSE_SIZE] {
    let mut object = [0u8; PURSE_SIZE];
    object[map::PURSE_BALANCE..map::PURSE_BALANCE + 4].copy_from_slice(&balance.to_be_bytes());
    object[map::PURSE_START_DAY..map::PURSE_START_DAY + 2].copy_from_slice(&purse.start_day);
    object[map::PURSE_SETTINGS..map::PURSE_SETTINGS + 4]
        .copy_from_slice(&purse.settings.to_bytes());
    object
}

/// The starting balance of a card: its record's `purse_balance` (decimal fen) or the layout's.
fn starting_balance(purse: &PurseSpec, record: &CardRecord) -> Result<u32, RecordError> {
    match record.values.get(PURSE_BALANCE_FIELD) {
        None => Ok(purse.starting_balance),
        Some(v) => v.trim().parse::<u32>().map_err(|_| {
            RecordError::new(
                &record.label,
                Some(PURSE_BALANCE_FIELD),
                "the starting purse balance is a whole number of fen, 0 to 4294967295",
            )
        }),
    }
}

fn fixed(bytes: apdu::Bytes) -> Part {
    match bytes {
        Ok(bytes) => Part::Fixed(bytes),
        Err(e) => Part::Unbuildable(e),
    }
}

/// Region-level keys by (key plan index, region BCD), keyed once for the whole batch.
type RegionKeys = HashMap<(usize, [u8; 3]), Arc<Diversifier>>;

/// A key to write: where, and its WRITE KEY header.
struct KeyPlan {
    df: String,
    spec: KeySpec,
}

/// Personalises cards of one layout with one set of issuer keys. The card-independent part of
/// the script (structure, labels, fixed APDUs) is built once; region-level keys are cached.
pub struct Personaliser<'a> {
    layout: &'a Layout,
    keys: &'a IssuerKeys,
    plan: Vec<(Arc<str>, Part)>,
    key_plans: Vec<KeyPlan>,
    card_id_field: Option<usize>,
    region_keys: Mutex<RegionKeys>,
}

impl<'a> Personaliser<'a> {
    pub fn new(layout: &'a Layout, keys: &'a IssuerKeys) -> Self {
        let mut plan: Vec<(Arc<str>, Part)> = Vec::new();
        let mut key_plans = Vec::new();
        let mut step = |label: String, part: Part| plan.push((Arc::from(label), part));
        let mut field_index = 0;
        for df in &layout.dfs {
            match df.parent.as_deref().and_then(|p| layout.df(p)) {
                Some(parent) => step(
                    format!("select {}", parent.name),
                    fixed(apdu::select_path(&layout.df_path(parent))),
                ),
                None => step("select MF".into(), fixed(apdu::select_mf())),
            }
            step(format!("create DF {}", df.name), fixed(apdu::create_df(df)));
            step(
                format!("select {}", df.name),
                fixed(apdu::select_path(&layout.df_path(df))),
            );
            for key in &df.keys {
                step(
                    format!(
                        "write key {:02X} ({}) in {}",
                        key.id,
                        key.usage.name(),
                        df.name
                    ),
                    Part::Key(key_plans.len()),
                );
                key_plans.push(KeyPlan {
                    df: df.name.clone(),
                    spec: key.clone(),
                });
            }
            if layout.pin.df == df.name {
                let label = format!("write PIN in {} ({} tries)", df.name, layout.pin.tries);
                step(
                    label,
                    fixed(apdu::write_pin(layout.pin.tries, &layout.pin.initial)),
                );
            }
            if let Some(purse) = layout.purse.as_ref().filter(|p| p.df == df.name) {
                step(
                    format!("create the medical purse {PURSE_FID:04X} in {}", df.name),
                    fixed(apdu::create_ef(&purse_ef(purse))),
                );
                step(
                    format!("write the medical purse in {}", df.name),
                    Part::Purse,
                );
            }
            for ef in &df.efs {
                let path = ef_path(df, ef);
                step(format!("create EF {path}"), fixed(apdu::create_ef(ef)));
                for field in &ef.fields {
                    step(
                        format!(
                            "append {path} record {} tag {:02X} {}",
                            field.rec, field.tag, field.id
                        ),
                        Part::Field(field_index),
                    );
                    field_index += 1;
                }
            }
        }
        step("issue card".into(), fixed(apdu::issue_card()));
        let card_id_field = layout
            .fields()
            .position(|f| f.field.encoding == Encoding::CardIdCode);
        Personaliser {
            layout,
            keys,
            plan,
            key_plans,
            card_id_field,
            region_keys: Mutex::new(HashMap::new()),
        }
    }

    pub fn layout(&self) -> &Layout {
        self.layout
    }

    fn card_key(&self, index: usize, card_id_code: &[u8; 16]) -> Result<SecretKey, KeyError> {
        let KeyPlan { df, spec } = &self.key_plans[index];
        let region = [card_id_code[0], card_id_code[1], card_id_code[2]];
        let mut cache = self
            .region_keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let region_key = match cache.get(&(index, region)) {
            Some(k) => Arc::clone(k),
            None => {
                let k = self.keys.region_key(df, spec.id, spec.algorithm, &region)?;
                let k = Arc::new(Diversifier::new(&k));
                cache.insert((index, region), Arc::clone(&k));
                k
            }
        };
        drop(cache);
        card_key_from_region(&region_key, df, spec.id, card_id_code)
    }

    /// The personalisation script of one card: structure, keys, PIN, records, ISSUE CARD.
    pub fn script(&self, record: &CardRecord) -> Result<Script, PersoError> {
        let appends = encode_record(self.layout, record).map_err(|errors| PersoError::Record {
            record: record.label.clone(),
            errors,
        })?;
        let no_code = || PersoError::NoCardIdCode {
            record: record.label.clone(),
        };
        let code_apdu = self
            .card_id_field
            .and_then(|i| appends.get(i))
            .ok_or_else(no_code)?;
        let card_id_code: [u8; 16] = code_apdu
            .get(7..)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(no_code)?;
        let mut appends: Vec<Option<Vec<u8>>> = appends.into_iter().map(Some).collect();
        let mut steps = Vec::with_capacity(self.plan.len());
        for (label, part) in &self.plan {
            let apdu = match part {
                Part::Fixed(bytes) => bytes.clone(),
                Part::Unbuildable(source) => {
                    return Err(PersoError::Step {
                        step: label.to_string(),
                        source: source.clone(),
                    })
                }
                Part::Field(i) => appends
                    .get_mut(*i)
                    .and_then(Option::take)
                    .unwrap_or_default(),
                Part::Purse => {
                    let purse = self.layout.purse.as_ref().ok_or_else(no_code)?;
                    let balance =
                        starting_balance(purse, record).map_err(|e| PersoError::Record {
                            record: record.label.clone(),
                            errors: vec![e],
                        })?;
                    crate::apdu::update_binary(0, &purse_object(purse, balance))
                        .to_bytes()
                        .map_err(|e| PersoError::Step {
                            step: label.to_string(),
                            source: e.into(),
                        })?
                }
                Part::Key(i) => {
                    let key =
                        self.card_key(*i, &card_id_code)
                            .map_err(|source| PersoError::Keys {
                                record: record.label.clone(),
                                source,
                            })?;
                    let spec = &self.key_plans[*i].spec;
                    crate::apdu::write_key(
                        spec.id,
                        spec.usage.to_byte(),
                        spec.algorithm.to_byte(),
                        spec.error_limit,
                        key.expose_bytes(),
                    )
                    .to_bytes()
                    .map_err(|e| PersoError::Step {
                        step: label.to_string(),
                        source: e.into(),
                    })?
                }
            };
            steps.push(Step {
                label: Arc::clone(label),
                apdu,
            });
        }
        Ok(Script {
            card: record.label.clone(),
            card_id_code,
            steps,
        })
    }
}

/// The personalisation script of one card (see [`Personaliser`] for many cards).
pub fn personalisation_script(
    layout: &Layout,
    record: &CardRecord,
    keys: &IssuerKeys,
) -> Result<Script, PersoError> {
    Personaliser::new(layout, keys).script(record)
}
