//! Cardholder records: one JSON object, or a batch as CSV (a header row of field ids) or JSON
//! lines. Values are strings as a person writes them; an empty CSV cell is an absent field.

use std::collections::BTreeMap;

use super::batch::MAX_BATCH_RECORDS;

/// One cardholder's values by field id, and where the record came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRecord {
    /// e.g. "batch.csv line 4" or "holder.json".
    pub label: String,
    pub values: BTreeMap<String, String>,
}

/// Why a record cannot be used: which record, which field, which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{record}{}: {rule}", .field.as_ref().map(|f| format!(", field {f}")).unwrap_or_default())]
pub struct RecordError {
    pub record: String,
    pub field: Option<String>,
    pub rule: String,
}

impl RecordError {
    pub fn new(record: &str, field: Option<&str>, rule: impl Into<String>) -> Self {
        RecordError {
            record: record.to_owned(),
            field: field.map(str::to_owned),
            rule: rule.into(),
        }
    }
}

/// Batch formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFormat {
    Csv,
    JsonLines,
}

fn from_json_value(label: &str, value: serde_json::Value) -> Result<CardRecord, RecordError> {
    let serde_json::Value::Object(map) = value else {
        return Err(RecordError::new(
            label,
            None,
            "a record must be a JSON object of field id to value",
        ));
    };
    let mut values = BTreeMap::new();
    for (id, v) in map {
        match v {
            serde_json::Value::String(s) => {
                values.insert(id, s);
            }
            serde_json::Value::Null => {}
            _ => {
                return Err(RecordError::new(
                    label,
                    Some(&id),
                    "values must be strings (write codes and dates in quotes)",
                ))
            }
        }
    }
    Ok(CardRecord {
        label: label.to_owned(),
        values,
    })
}

/// One record from a JSON object.
pub fn record_from_json(label: &str, text: &str) -> Result<CardRecord, RecordError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| RecordError::new(label, None, format!("not JSON: {e}")))?;
    from_json_value(label, value)
}

/// Every record of a batch, each parsed or failed on its own (`source` names the file). Reading
/// stops one record past [`MAX_BATCH_RECORDS`], which is enough for the batch to refuse itself.
pub fn records_from_batch(
    source: &str,
    text: &str,
    format: BatchFormat,
) -> Vec<Result<CardRecord, RecordError>> {
    match format {
        BatchFormat::JsonLines => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .take(MAX_BATCH_RECORDS + 1)
            .map(|(i, line)| record_from_json(&format!("{source} line {}", i + 1), line))
            .collect(),
        BatchFormat::Csv => csv_records(source, text),
    }
}

fn csv_records(source: &str, text: &str) -> Vec<Result<CardRecord, RecordError>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return vec![Err(RecordError::new(
                &format!("{source} line 1"),
                None,
                format!("not CSV: {e}"),
            ))]
        }
    };
    reader
        .records()
        .take(MAX_BATCH_RECORDS + 1)
        .map(|row| {
            let row = row.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                RecordError::new(
                    &format!("{source} line {line}"),
                    None,
                    format!("not CSV: {e}"),
                )
            })?;
            let label = format!("{source} line {}", row.position().map_or(0, |p| p.line()));
            let values = headers
                .iter()
                .zip(row.iter())
                .filter(|(_, v)| !v.is_empty())
                .map(|(h, v)| (h.trim().to_owned(), v.to_owned()))
                .collect();
            Ok(CardRecord { label, values })
        })
        .collect()
}
