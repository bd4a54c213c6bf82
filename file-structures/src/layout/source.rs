//! Layout files as written: the serde shapes of the TOML (with spans, so every problem can name
//! its line) and the problems found in them.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::model::{Clash, Origin};

/// Largest layout file, in bytes (the national layout is about 12 KiB).
pub const MAX_LAYOUT_BYTES: usize = 1 << 20;
/// Most `[[df]]` tables in one layout file.
pub const MAX_LAYOUT_DFS: usize = 64;
/// Most `[[ef]]` tables in one layout file.
pub const MAX_LAYOUT_EFS: usize = 1_024;
/// Most `[[key]]` tables in one layout file (a DF holds at most 8 keys).
pub const MAX_LAYOUT_KEYS: usize = 512;
/// Most fields of one EF (record numbers go up to 254).
pub const MAX_LAYOUT_FIELDS_PER_EF: usize = 254;

/// One problem in a layout file: where it is and the rule it breaks, in one sentence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub message: String,
    /// For "already defined" rules: the item this one collides with, and its layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clash: Option<Box<Clash>>,
}

impl Problem {
    /// A problem at an item already read, by its origin.
    pub fn at(origin: &Origin, message: impl Into<String>) -> Self {
        Problem {
            file: origin.file.clone(),
            line: origin.line,
            message: message.into(),
            clash: None,
        }
    }

    /// The same problem, naming the item it collides with.
    pub fn clashing_with(self, clash: Clash) -> Self {
        Problem {
            clash: Some(Box::new(clash)),
            ..self
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// A layout file's name (as shown in problems) and text.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// The 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }

    pub fn problem(&self, span: Range<usize>, message: impl Into<String>) -> Problem {
        self.problem_on_line(self.line_of(span.start), message)
    }

    fn problem_on_line(&self, line: usize, message: impl Into<String>) -> Problem {
        Problem {
            file: self.name.clone(),
            line,
            message: message.into(),
            clash: None,
        }
    }

    /// The file parsed into its raw shape, or the one problem that stops parsing.
    pub(crate) fn parse(&self) -> Result<RawFile, Problem> {
        let too_many = |line: usize, what: &str, found: usize, limit: usize| {
            self.problem_on_line(
                line,
                format!("the file has {found} {what}, more than the limit of {limit}"),
            )
        };
        if self.text.len() > MAX_LAYOUT_BYTES {
            return Err(too_many(1, "bytes", self.text.len(), MAX_LAYOUT_BYTES));
        }
        let raw = toml::from_str::<RawFile>(&self.text).map_err(|e| {
            let line = e.span().map_or(1, |s| self.line_of(s.start));
            let message = e.message().trim().replace('\n', " ");
            self.problem_on_line(line, format!("not a layout file: {message}"))
        })?;
        let counts = [
            ("[[df]] tables", raw.df.len(), MAX_LAYOUT_DFS),
            ("[[ef]] tables", raw.ef.len(), MAX_LAYOUT_EFS),
            ("[[key]] tables", raw.key.len(), MAX_LAYOUT_KEYS),
        ];
        for (what, found, limit) in counts {
            if found > limit {
                return Err(too_many(1, what, found, limit));
            }
        }
        for ef in &raw.ef {
            let fields = ef.get_ref().field.len();
            if fields > MAX_LAYOUT_FIELDS_PER_EF {
                let line = self.line_of(ef.span().start);
                let what = "fields in one EF";
                return Err(too_many(line, what, fields, MAX_LAYOUT_FIELDS_PER_EF));
            }
        }
        Ok(raw)
    }
}

pub(crate) type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub layout: RawHeader,
    #[serde(default)]
    pub settings: BTreeMap<String, S<toml::Value>>,
    pub pin: Option<S<RawPin>>,
    pub purse: Option<S<RawPurse>>,
    #[serde(default)]
    pub version: Vec<S<RawVersion>>,
    #[serde(default)]
    pub df: Vec<S<RawDf>>,
    #[serde(default)]
    pub key: Vec<S<RawKey>>,
    #[serde(default)]
    pub ef: Vec<S<RawEf>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeader {
    pub kind: S<String>,
    pub name: S<String>,
    pub extends: Option<S<String>>,
    pub version: Option<S<String>>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPin {
    pub df: S<String>,
    pub initial: S<String>,
}

/// `[purse]`: the DF of the medical purse and its payment year's first day; its open points are
/// `purse_*` entries of `[settings]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPurse {
    pub df: S<String>,
    pub start_day: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVersion {
    pub name: S<String>,
    pub algorithm: S<String>,
    #[serde(default)]
    pub defaults: BTreeMap<String, S<String>>,
    #[serde(default)]
    pub access: Vec<S<RawAccessOverride>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccessOverride {
    pub file: S<String>,
    pub read: Option<S<String>>,
    pub update: Option<S<String>>,
    pub append: Option<S<String>>,
    pub admin: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDf {
    pub name: S<String>,
    pub parent: S<String>,
    pub fid: S<String>,
    pub df_name: Option<S<String>>,
    pub aid: Option<S<String>>,
    #[serde(default)]
    pub zh: String,
    #[serde(default)]
    pub en: String,
    #[serde(default)]
    pub announce_algorithm: bool,
    pub read: Option<S<String>>,
    pub update: Option<S<String>>,
    pub append: Option<S<String>>,
    pub admin: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKey {
    pub df: S<String>,
    pub id: S<String>,
    pub usage: S<String>,
    pub algorithm: Option<S<String>>,
    pub error_limit: Option<S<i64>>,
    #[serde(default)]
    pub purpose: String,
    pub only_in: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEf {
    pub df: S<String>,
    pub fid: S<String>,
    pub sfi: Option<S<i64>>,
    pub structure: S<String>,
    pub size: Option<S<i64>>,
    pub records: Option<S<i64>>,
    pub record_len: Option<S<i64>>,
    #[serde(default)]
    pub zh: String,
    #[serde(default)]
    pub en: String,
    pub read: S<String>,
    pub update: S<String>,
    pub append: Option<S<String>>,
    pub admin: Option<S<String>>,
    pub reserved_tags: Option<S<String>>,
    #[serde(default)]
    pub field: Vec<S<RawField>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawField {
    pub rec: S<i64>,
    pub tag: S<String>,
    pub id: S<String>,
    #[serde(default)]
    pub zh: String,
    #[serde(default)]
    pub en: String,
    pub len: S<i64>,
    pub encoding: S<String>,
    pub mandatory: bool,
    pub default: Option<S<String>>,
}
