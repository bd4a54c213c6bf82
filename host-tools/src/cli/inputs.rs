//! The files commands take besides the card: layouts, issuer key files, cardholder records.

use std::path::{Path, PathBuf};

use file_structures::input::{self, read_bounded, read_text_bounded, TextEncoding};
use file_structures::layout::{self, Layout, NATIONAL_VERSIONS};
use file_structures::personalise::{
    record_from_json, records_from_batch, BatchFormat, CardRecord, IssuerKeys, RecordError,
    MAX_BATCH_FILE_BYTES, MAX_BATCH_RECORDS,
};

use super::CliError;

/// `--layout FILE --version V`, shared by the commands that read or make cards.
#[derive(Debug, Clone, clap::Args)]
pub struct LayoutArgs {
    /// A layout file (a region's extension, or a national layout); default: the national layout.
    #[arg(long, value_name = "FILE")]
    pub layout: Option<PathBuf>,
    /// The national version. Default: the one the card's ATR announces, else 3.0.
    #[arg(long, value_name = "VERSION", value_parser = NATIONAL_VERSIONS)]
    pub version: Option<String>,
}

impl LayoutArgs {
    /// The layout, of the version given, else `fallback` (e.g. from the card's ATR), else 3.0.
    pub fn load(&self, fallback: Option<&str>) -> Result<Layout, CliError> {
        let version = self.version.as_deref().or(fallback);
        match &self.layout {
            Some(path) => Ok(layout::load(path, version)?),
            None => Ok(layout::national(version.unwrap_or("3.0"))?),
        }
    }
}

/// `--keys FILE` / `--test-keys`.
#[derive(Debug, Clone, clap::Args)]
pub struct KeyArgs {
    /// The issuer's master key file (TOML, see docs/security.md).
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
    /// Use the public TEST issuer keys shipped with sscard (simulated cards only).
    #[arg(long, conflicts_with = "keys")]
    pub test_keys: bool,
}

/// Issuer keys and whether they are the public test keys (which every output must say).
pub struct Keys {
    pub keys: IssuerKeys,
    pub test_only: bool,
}

impl KeyArgs {
    /// The keys asked for; `default_test` gives the test keys when none are named.
    pub fn load(&self, default_test: bool) -> Result<Option<Keys>, CliError> {
        let keys = match &self.keys {
            Some(path) => {
                let text = read_text(path)?;
                IssuerKeys::from_toml(&path.display().to_string(), &text).map_err(CliError::Keys)?
            }
            None if self.test_keys || default_test => {
                IssuerKeys::test_keys().map_err(CliError::Keys)?
            }
            None => return Ok(None),
        };
        let test_only = keys.test_only;
        Ok(Some(Keys { keys, test_only }))
    }
}

/// The label every output shows for the keys used.
pub fn keys_label(keys: &Keys) -> &'static str {
    if keys.test_only {
        "TEST issuer keys (public values, for simulated cards only)"
    } else {
        "issuer keys from the key file"
    }
}

/// Largest key or layout file read as text.
pub const MAX_TEXT_FILE_BYTES: usize = 1 << 20;
/// Largest single cardholder record file.
pub const MAX_RECORD_FILE_BYTES: usize = 1 << 20;

/// A key or layout file: UTF-8 text of at most [`MAX_TEXT_FILE_BYTES`].
pub fn read_text(path: &Path) -> Result<String, CliError> {
    Ok(read_text_bounded(
        path,
        MAX_TEXT_FILE_BYTES,
        "a key or layout file",
    )?)
}

/// `--encoding`, for the commands that read cardholder records.
#[derive(Debug, Clone, clap::Args)]
pub struct EncodingArg {
    /// The records' text encoding; auto: UTF-8 when valid, otherwise GB18030 (GBK's superset), with a note.
    #[arg(long, value_name = "ENCODING", default_value = "auto", value_parser = parse_encoding)]
    pub encoding: TextEncoding,
}

fn parse_encoding(text: &str) -> Result<TextEncoding, String> {
    text.parse()
}

/// Records read from a file, and the note to show when their encoding was guessed.
pub struct ReadRecords<T> {
    pub records: T,
    pub encoding: TextEncoding,
    pub note: Option<String>,
}

/// The text of a record file, decoded as `encoding` says.
fn read_records_text(
    path: &Path,
    limit: usize,
    what: &'static str,
    encoding: TextEncoding,
) -> Result<input::Decoded, CliError> {
    let bytes = read_bounded(path, limit, what)?;
    Ok(input::decode(&path.display().to_string(), &bytes, encoding)
        .map_err(input::InputError::from)?)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// One cardholder record from a JSON object file.
pub fn read_record(
    path: &Path,
    encoding: TextEncoding,
) -> Result<ReadRecords<CardRecord>, CliError> {
    let text = read_records_text(path, MAX_RECORD_FILE_BYTES, "a cardholder record", encoding)?;
    let record = record_from_json(&file_name(path), &text.text).map_err(CliError::Record)?;
    Ok(ReadRecords {
        records: record,
        encoding: text.encoding,
        note: text.note,
    })
}

/// Every record of a batch: `.csv` (header row of field ids), `.jsonl` (one object a line) or
/// `.json` (one object, or an array of objects), each parsed or failed on its own. At most
/// [`MAX_BATCH_FILE_BYTES`] are read; past [`MAX_BATCH_RECORDS`] records the batch refuses itself.
pub fn read_batch(
    path: &Path,
    encoding: TextEncoding,
) -> Result<ReadRecords<Vec<Result<CardRecord, RecordError>>>, CliError> {
    let decoded = read_records_text(path, MAX_BATCH_FILE_BYTES, "a batch of records", encoding)?;
    let text = decoded.text;
    let name = file_name(path);
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let records = match extension.as_deref() {
        Some("csv") => records_from_batch(&name, &text, BatchFormat::Csv),
        Some("jsonl") => records_from_batch(&name, &text, BatchFormat::JsonLines),
        _ => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Array(items)) => items
                .iter()
                .take(MAX_BATCH_RECORDS + 1)
                .enumerate()
                .map(|(i, item)| {
                    record_from_json(&format!("{name} record {}", i + 1), &item.to_string())
                })
                .collect(),
            _ => vec![record_from_json(&name, &text)],
        },
    };
    Ok(ReadRecords {
        records,
        encoding: decoded.encoding,
        note: decoded.note,
    })
}
