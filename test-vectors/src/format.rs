//! The vector file format (docs/test-vectors.md): TOML files of vectors, each a list of steps.
//! Loading checks every template and status-word pattern, so a typo fails at load time with the
//! file and vector named, not half-way through a run.

use serde::Deserialize;

use crate::expr::{parse_pattern, parse_template, Pattern, Template};
use crate::limits::{MAX_STEPS_PER_VECTOR, MAX_VECTORS_PER_FILE, MAX_VECTOR_FILE_BYTES};

/// The card a vector needs before its first step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CardKind {
    /// Formatted, MF only, card life cycle 01 (personalisation): structure may be created.
    Blank,
    /// card-os' demo card: SSSE, DF01, DF04 with every access free, life cycle 01.
    Demo,
    /// The national 2.0 layout personalised with the test issuer keys and the sample holder;
    /// issued (life cycle 02), PIN still the initial one.
    National20,
    /// The same with the national 3.0 layout (SM4 keys, key 0A for personal data).
    National30,
}

impl CardKind {
    pub const ALL: [CardKind; 4] = [
        CardKind::Blank,
        CardKind::Demo,
        CardKind::National20,
        CardKind::National30,
    ];

    /// The name vector files use.
    pub fn name(self) -> &'static str {
        match self {
            CardKind::Blank => "blank",
            CardKind::Demo => "demo",
            CardKind::National20 => "national-2.0",
            CardKind::National30 => "national-3.0",
        }
    }

    pub fn from_name(name: &str) -> Option<CardKind> {
        CardKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The national layout version, for personalised kinds.
    pub fn layout_version(self) -> Option<&'static str> {
        match self {
            CardKind::National20 => Some("2.0"),
            CardKind::National30 => Some("3.0"),
            CardKind::Blank | CardKind::Demo => None,
        }
    }
}

/// Acceptable status words: exact, or with `x` nibbles that match anything (`61xx`, `63Cx`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwPattern {
    /// Four nibbles, `None` = any.
    nibbles: [Option<u8>; 4],
}

impl SwPattern {
    pub fn parse(text: &str) -> Result<SwPattern, String> {
        let chars: Vec<char> = text.chars().filter(|c| *c != ' ').collect();
        if chars.len() != 4 {
            return Err(format!(
                "{text:?} is not a status word: write 4 hex digits, x for any, e.g. 9000 or 63Cx"
            ));
        }
        let mut nibbles = [None; 4];
        for (n, c) in nibbles.iter_mut().zip(&chars) {
            *n = match c {
                'x' | 'X' => None,
                c => Some(c.to_digit(16).ok_or_else(|| {
                    format!("{text:?} is not a status word: {c:?} is not a hex digit or x")
                })? as u8),
            };
        }
        Ok(SwPattern { nibbles })
    }

    pub fn matches(&self, sw: u16) -> bool {
        self.nibbles.iter().enumerate().all(|(i, n)| {
            let got = ((sw >> (12 - 4 * i)) & 0xF) as u8;
            n.is_none_or(|n| n == got)
        })
    }
}

impl std::fmt::Display for SwPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for n in self.nibbles {
            match n {
                Some(n) => write!(f, "{n:X}")?,
                None => f.write_str("x")?,
            }
        }
        Ok(())
    }
}

/// One step of a vector.
#[derive(Debug, Clone)]
pub enum Step {
    /// Power cycle (`cold`) or warm reset; the ATR may be checked.
    Reset { cold: bool, atr: Option<Pattern> },
    /// One command and what the answer must be.
    Apdu {
        apdu: Template,
        /// Any of these.
        sw: Vec<SwPattern>,
        /// `None`: the answer must carry no data (unless captured).
        data: Option<Pattern>,
        /// Store the response data under this name for later steps.
        capture: Option<String>,
    },
}

/// One vector: a requirement and the steps that check it.
#[derive(Debug, Clone)]
pub struct Vector {
    pub id: String,
    /// What a card must do, in a sentence.
    pub requirement: String,
    /// Where the requirement is written, e.g. "ISO 7816-4 §7.3.3" or "docs/security.md PIN".
    pub reference: String,
    pub card: CardKind,
    /// Changes the card for good (PIN tries, blocking, data): runs on a real card only when it is
    /// declared disposable.
    pub destructive: bool,
    pub steps: Vec<Step>,
    /// The file it comes from (e.g. "select.toml").
    pub file: String,
}

/// A vector file: a title, defaults, vectors.
#[derive(Debug, Clone)]
pub struct VectorFile {
    pub name: String,
    pub title: String,
    pub vectors: Vec<Vector>,
}

/// Why a vector file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("{file} is not a vector file: {source}")]
    Toml {
        file: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("{file}, vector {vector}: {message}")]
    Vector {
        file: String,
        vector: String,
        message: String,
    },
    #[error("{file}: vector id {id} is used twice (also in {first})")]
    DuplicateId {
        file: String,
        id: String,
        first: String,
    },
    /// A size past one of [`crate::limits`].
    #[error("{file}: {what} is {found}, more than the limit of {limit}")]
    TooLarge {
        file: String,
        /// e.g. "the file's size in bytes", "vector pin.block's step count".
        what: String,
        found: usize,
        limit: usize,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    suite: RawSuite,
    #[serde(default)]
    vector: Vec<RawVector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    title: String,
    card: String,
    #[serde(default)]
    reference: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVector {
    id: String,
    requirement: String,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    card: Option<String>,
    #[serde(default)]
    destructive: bool,
    steps: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default)]
    reset: Option<String>,
    #[serde(default)]
    atr: Option<String>,
    #[serde(default)]
    apdu: Option<String>,
    #[serde(default)]
    sw: Option<OneOrMany>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    capture: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Parses one vector file; `name` is shown in errors and recorded in each vector.
pub fn parse_file(name: &str, text: &str) -> Result<VectorFile, FormatError> {
    let too_large = |what: String, found: usize, limit: usize| FormatError::TooLarge {
        file: name.into(),
        what,
        found,
        limit,
    };
    if text.len() > MAX_VECTOR_FILE_BYTES {
        return Err(too_large(
            "the file's size in bytes".into(),
            text.len(),
            MAX_VECTOR_FILE_BYTES,
        ));
    }
    let raw: RawFile = toml::from_str(text).map_err(|source| FormatError::Toml {
        file: name.into(),
        source,
    })?;
    if raw.vector.len() > MAX_VECTORS_PER_FILE {
        return Err(too_large(
            "the number of vectors".into(),
            raw.vector.len(),
            MAX_VECTORS_PER_FILE,
        ));
    }
    let mut vectors = Vec::with_capacity(raw.vector.len());
    for v in raw.vector {
        if v.steps.len() > MAX_STEPS_PER_VECTOR {
            return Err(too_large(
                format!("vector {}'s number of steps", v.id),
                v.steps.len(),
                MAX_STEPS_PER_VECTOR,
            ));
        }
        let bad = |message: String| FormatError::Vector {
            file: name.into(),
            vector: v.id.clone(),
            message,
        };
        let card_name = v.card.as_deref().unwrap_or(&raw.suite.card);
        let card = CardKind::from_name(card_name).ok_or_else(|| {
            bad(format!(
                "card {card_name:?} is not one of blank, demo, national-2.0, national-3.0"
            ))
        })?;
        let reference = v
            .reference
            .clone()
            .or_else(|| raw.suite.reference.clone())
            .ok_or_else(|| bad("no reference: say where the requirement is written".into()))?;
        let mut steps = Vec::with_capacity(v.steps.len());
        for (i, s) in v.steps.iter().enumerate() {
            let at = |m: String| bad(format!("step {}: {m}", i + 1));
            steps.push(parse_step(s).map_err(at)?);
        }
        if steps.is_empty() {
            return Err(bad("a vector needs at least one step".into()));
        }
        vectors.push(Vector {
            id: v.id.clone(),
            requirement: v.requirement.clone(),
            reference,
            card,
            destructive: v.destructive,
            steps,
            file: name.into(),
        });
    }
    Ok(VectorFile {
        name: name.into(),
        title: raw.suite.title,
        vectors,
    })
}

fn parse_step(s: &RawStep) -> Result<Step, String> {
    match (&s.reset, &s.apdu) {
        (Some(kind), None) => {
            if s.sw.is_some() || s.data.is_some() || s.capture.is_some() {
                return Err("a reset step takes only atr".into());
            }
            let cold = match kind.as_str() {
                "cold" => true,
                "warm" => false,
                other => return Err(format!("reset {other:?}: write cold or warm")),
            };
            let atr = s.atr.as_deref().map(parse_pattern).transpose()?;
            Ok(Step::Reset { cold, atr })
        }
        (None, Some(apdu)) => {
            if s.atr.is_some() {
                return Err("atr belongs to a reset step".into());
            }
            let sw = match &s.sw {
                Some(OneOrMany::One(one)) => vec![SwPattern::parse(one)?],
                Some(OneOrMany::Many(many)) if !many.is_empty() => many
                    .iter()
                    .map(|p| SwPattern::parse(p))
                    .collect::<Result<_, _>>()?,
                _ => return Err("an apdu step needs sw: the status word(s) accepted".into()),
            };
            Ok(Step::Apdu {
                apdu: parse_template(apdu)?,
                sw,
                data: s.data.as_deref().map(parse_pattern).transpose()?,
                capture: s.capture.clone(),
            })
        }
        (Some(_), Some(_)) => Err("a step is either reset or apdu, not both".into()),
        (None, None) => Err("a step needs reset or apdu".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_word_patterns_match_their_nibbles() {
        let p = SwPattern::parse("63Cx").unwrap();
        assert!(p.matches(0x63C2) && p.matches(0x63CF));
        assert!(!p.matches(0x6300) && !p.matches(0x9000));
        assert_eq!(p.to_string(), "63Cx");
        assert!(SwPattern::parse("900").is_err());
        assert!(SwPattern::parse("90G0").is_err());
    }

    #[test]
    fn a_file_with_a_bad_step_names_file_vector_and_step() {
        let text = r#"
[suite]
title = "t"
card = "demo"
reference = "r"
[[vector]]
id = "v1"
requirement = "r"
steps = [ { apdu = "00 A4", sw = "9000" }, { apdu = "00 ZZ", sw = "9000" } ]
"#;
        let e = parse_file("t.toml", text).unwrap_err().to_string();
        assert!(
            e.contains("t.toml") && e.contains("v1") && e.contains("step 2"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_card_or_missing_sw_is_refused() {
        let base = "[suite]\ntitle = \"t\"\ncard = \"demo\"\nreference = \"r\"\n";
        let unknown = format!("{base}[[vector]]\nid = \"a\"\nrequirement = \"r\"\ncard = \"gold\"\nsteps = [{{ apdu = \"00\", sw = \"9000\" }}]\n");
        assert!(parse_file("f", &unknown).is_err());
        let no_sw = format!(
            "{base}[[vector]]\nid = \"a\"\nrequirement = \"r\"\nsteps = [{{ apdu = \"00\" }}]\n"
        );
        assert!(parse_file("f", &no_sw)
            .unwrap_err()
            .to_string()
            .contains("sw"));
    }
}
