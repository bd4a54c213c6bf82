//! Records read from a card, through the layout, back to typed values.

use std::collections::BTreeMap;

use crate::codec::{self, CodecError};
use crate::layout::{ef_path, Layout};

/// One field read from a card.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DecodedField {
    /// "SSSE/EF06".
    pub path: String,
    pub rec: u8,
    pub tag: String,
    pub id: String,
    pub zh: String,
    pub en: String,
    /// `None` when the record is empty (an absent optional field).
    pub value: Option<String>,
}

/// Why records could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{0} is not a record file of the layout")]
    UnknownFile(String),
    #[error("{path} record {index}: {rule}")]
    Record {
        path: String,
        index: usize,
        rule: String,
    },
    #[error("{path} field {id} (tag {tag:02X}) does not decode")]
    Field {
        path: String,
        id: String,
        tag: u8,
        #[source]
        source: CodecError,
    },
}

/// The fields of the EF at `path` ("SSSE/EF06") from its records as read (`tag len value` each,
/// in any order). Records whose tag the layout does not define are an error: the card and the
/// layout disagree.
pub fn decode_ef(
    layout: &Layout,
    path: &str,
    records: &[Vec<u8>],
) -> Result<Vec<DecodedField>, DecodeError> {
    let (df, ef) = layout
        .ef(path)
        .ok_or_else(|| DecodeError::UnknownFile(path.to_owned()))?;
    let path = ef_path(df, ef);
    let mut out = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let bad = |rule: String| DecodeError::Record {
            path: path.clone(),
            index: i + 1,
            rule,
        };
        let (&tag, rest) = record
            .split_first()
            .ok_or_else(|| bad("the record is empty".into()))?;
        let (&len, value) = rest
            .split_first()
            .ok_or_else(|| bad(format!("tag {tag:02X} has no length byte")))?;
        if usize::from(len) != value.len() {
            return Err(bad(format!(
                "tag {tag:02X} says {len} bytes but {} follow",
                value.len()
            )));
        }
        let field = ef
            .fields
            .iter()
            .find(|f| f.tag == tag)
            .ok_or_else(|| bad(format!("tag {tag:02X} is no field of {path}")))?;
        let value = if value.is_empty() {
            None
        } else {
            let decoded =
                codec::decode(field.encoding, value).map_err(|source| DecodeError::Field {
                    path: path.clone(),
                    id: field.id.clone(),
                    tag,
                    source,
                })?;
            Some(decoded)
        };
        out.push(DecodedField {
            path: path.clone(),
            rec: field.rec,
            tag: format!("{tag:02X}"),
            id: field.id.clone(),
            zh: field.zh.clone(),
            en: field.en.clone(),
            value,
        });
    }
    Ok(out)
}

/// Decoded fields as a cardholder record: field id → value, absent fields left out. It has the
/// shape personalisation reads, so a card read back can be compared with its input.
pub fn to_record(fields: &[DecodedField]) -> BTreeMap<String, String> {
    fields
        .iter()
        .filter_map(|f| f.value.clone().map(|v| (f.id.clone(), v)))
        .collect()
}

/// Decoded fields as JSON grouped by file: `{"SSSE/EF06": {"name": "张测试", ...}, ...}`.
pub fn to_json(fields: &[DecodedField]) -> serde_json::Value {
    let mut files: BTreeMap<&str, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
    for f in fields {
        let value = f
            .value
            .clone()
            .map_or(serde_json::Value::Null, serde_json::Value::String);
        files
            .entry(&f.path)
            .or_default()
            .insert(f.id.clone(), value);
    }
    serde_json::json!(files)
}
