//! What the runner knows about the card under test (its layout, issuer keys, holder and card
//! identification code) and the scope expressions are evaluated in.

use std::collections::HashMap;

use card_os::crypto::SecretKey;
use file_structures::codec;
use file_structures::layout::Layout;
use file_structures::personalise::{CardRecord, IssuerKeys};

use crate::eval_error::EvalError;

/// Facts about one card, each possibly unknown (then vectors needing it are skipped).
#[derive(Debug, Default)]
pub struct CardFacts {
    pub layout: Option<Layout>,
    pub keys: Option<IssuerKeys>,
    pub holder: Option<CardRecord>,
    pub card_id_code: Option<[u8; 16]>,
}

impl CardFacts {
    /// Nothing known (blank and demo cards: no layout, no keys).
    pub fn none() -> Self {
        CardFacts::default()
    }
}

/// Facts plus the values captured so far in one vector.
pub struct Scope<'a> {
    facts: &'a CardFacts,
    captures: &'a HashMap<String, Vec<u8>>,
}

impl<'a> Scope<'a> {
    pub fn new(facts: &'a CardFacts, captures: &'a HashMap<String, Vec<u8>>) -> Self {
        Scope { facts, captures }
    }

    pub fn capture(&self, name: &str) -> Result<&'a [u8], EvalError> {
        self.captures
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| EvalError::Invalid(format!("nothing was captured as {name:?} before")))
    }

    fn layout(&self) -> Result<&'a Layout, EvalError> {
        self.facts.layout.as_ref().ok_or_else(|| {
            EvalError::Unavailable("the card's layout is not known for this card".into())
        })
    }

    /// The record `tag len value` of field `id` as personalised (or its value alone).
    pub fn field(&self, id: &str, value_only: bool) -> Result<Vec<u8>, EvalError> {
        let layout = self.layout()?;
        let f = layout
            .field(id)
            .ok_or_else(|| EvalError::Invalid(format!("the layout has no field {id:?}")))?
            .field;
        let holder = self.facts.holder.as_ref().ok_or_else(|| {
            EvalError::Unavailable(
                "the cardholder's data is not known (give the holder record of the card)".into(),
            )
        })?;
        let value = match holder.values.get(id).or(f.default.as_ref()) {
            Some(v) => codec::encode(f.encoding, usize::from(f.len), v)
                .map_err(|e| EvalError::Invalid(format!("field {id}: {e}")))?,
            // An absent optional field is personalised as an empty record.
            None => Vec::new(),
        };
        if value_only {
            return Ok(value);
        }
        let mut record = vec![f.tag, value.len() as u8];
        record.extend(value);
        Ok(record)
    }

    /// The card key `id` of DF `df`: the test issuer's master diversified for this card.
    pub fn card_key(&self, df: &str, id: u8) -> Result<SecretKey, EvalError> {
        let layout = self.layout()?;
        let spec = layout
            .df(df)
            .and_then(|d| d.keys.iter().find(|k| k.id == id))
            .ok_or_else(|| {
                EvalError::Invalid(format!(
                    "the layout {} has no key {df}/{id:02X}",
                    layout.name
                ))
            })?;
        let keys = self.facts.keys.as_ref().ok_or_else(|| {
            EvalError::Unavailable("the issuer keys of this card are not known".into())
        })?;
        let code = self.facts.card_id_code.as_ref().ok_or_else(|| {
            EvalError::Unavailable("the card identification code is not known".into())
        })?;
        keys.card_key(df, id, spec.algorithm, code)
            .map_err(|e| EvalError::Unavailable(e.to_string()))
    }
}
