//! Runs vectors against a target: one verdict per vector, with the exchanges of a failure.

use std::collections::HashMap;

use serde::Serialize;

use crate::eval_error::EvalError;
use crate::facts::Scope;
use crate::format::{Step, Vector};
use crate::target::{CardUnderTest, NotPrepared, Target};

/// How one vector ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    /// The card answered differently: which step (1-based) and how.
    Fail {
        step: usize,
        message: String,
    },
    /// Not run here: why.
    Skip {
        reason: String,
    },
    /// The card could not be used (no answer, a broken answer): counts as a failure.
    Error {
        step: usize,
        message: String,
    },
    /// The vector itself is wrong, found only when it ran (an expression that cannot be
    /// computed, a capture never made): the vector file's fault, not the card's. The card is not
    /// judged on it, but the run does not pass.
    #[serde(rename = "vector-error")]
    VectorError {
        step: usize,
        message: String,
    },
}

/// One command and its answer, in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exchange {
    pub command: String,
    pub response: String,
}

/// The result of one vector.
#[derive(Debug, Clone, Serialize)]
pub struct VectorResult {
    pub id: String,
    pub file: String,
    pub requirement: String,
    pub reference: String,
    pub card: &'static str,
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Every exchange of the vector when it did not pass (empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<Exchange>,
    /// The card answered at least one of the vector's steps (a reset or a command). A vector
    /// skipped before its first step, a card that answers nothing, and a known answer: false.
    pub reached_card: bool,
}

impl VectorResult {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
    pub fn skipped(&self) -> bool {
        matches!(self.verdict, Verdict::Skip { .. })
    }
    /// Failed or errored: the card's fault (or the target's), not the vector's.
    pub fn failed(&self) -> bool {
        matches!(self.verdict, Verdict::Fail { .. } | Verdict::Error { .. })
    }
    /// The vector itself is wrong.
    pub fn vector_error(&self) -> bool {
        matches!(self.verdict, Verdict::VectorError { .. })
    }
    /// A crypto known answer, run without a card.
    pub fn is_known_answer(&self) -> bool {
        self.card == crate::kat::KNOWN_ANSWER_CARD
    }
}

/// Which vectors to run: any term matching the id (a `*` in a term is a wildcard) or naming the
/// file (`select` or `select.toml`); no terms = all.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    terms: Vec<String>,
}

impl Filter {
    pub fn new(terms: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Filter {
            terms: terms.into_iter().map(Into::into).collect(),
        }
    }

    pub fn matches(&self, vector: &Vector) -> bool {
        self.matches_id(&vector.id, &vector.file)
            || self.terms.iter().any(|t| t == vector.card.name())
    }

    /// Whether a vector with this id from this file is selected.
    pub fn matches_id(&self, id: &str, file: &str) -> bool {
        self.terms.is_empty()
            || self.terms.iter().any(|t| {
                let stem = file.trim_end_matches(".toml");
                let base = stem.rsplit('/').next().unwrap_or(stem);
                glob(t, id) || t == stem || t == base || t == file
            })
    }
}

/// `*` matches any run of characters; without `*` the term must equal the text or be its prefix
/// up to a dot (`select` matches `select.mf`).
fn glob(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return text == pattern || text.starts_with(&format!("{pattern}."));
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Runs one vector on a prepared card.
pub fn run_vector(target: &mut dyn Target, vector: &Vector) -> VectorResult {
    let mut exchanges = Vec::new();
    let verdict = match target.prepare(vector) {
        Err(NotPrepared::Skip(reason)) => Verdict::Skip { reason },
        Err(NotPrepared::Error(e)) => Verdict::Error {
            step: 0,
            message: e.to_string(),
        },
        Ok(prepared) => run_steps(vector, prepared.card, prepared.facts, &mut exchanges),
    };
    // Every exchange kept is an answer from the card.
    let reached_card = !exchanges.is_empty();
    if verdict == Verdict::Pass || matches!(verdict, Verdict::Skip { .. }) {
        exchanges.clear();
    }
    VectorResult {
        id: vector.id.clone(),
        file: vector.file.clone(),
        requirement: vector.requirement.clone(),
        reference: vector.reference.clone(),
        card: vector.card.name(),
        verdict,
        exchanges,
        reached_card,
    }
}

fn run_steps(
    vector: &Vector,
    card: &mut dyn CardUnderTest,
    facts: &crate::facts::CardFacts,
    exchanges: &mut Vec<Exchange>,
) -> Verdict {
    let mut captures: HashMap<String, Vec<u8>> = HashMap::new();
    // Every vector starts from a power cycle.
    if let Err(e) = card.reset(true) {
        return Verdict::Error {
            step: 0,
            message: e.to_string(),
        };
    }
    for (i, step) in vector.steps.iter().enumerate() {
        let n = i + 1;
        let eval_error = |e: EvalError| match e {
            EvalError::Unavailable(reason) => Verdict::Skip { reason },
            EvalError::Invalid(message) => Verdict::VectorError { step: n, message },
        };
        let scope = Scope::new(facts, &captures);
        match step {
            Step::Reset { cold, atr } => {
                let expected = match atr.as_ref().map(|p| p.eval(&scope)).transpose() {
                    Ok(e) => e,
                    Err(e) => return eval_error(e),
                };
                let got = match card.reset(*cold) {
                    Ok(atr) => atr,
                    Err(e) => {
                        return Verdict::Error {
                            step: n,
                            message: e.to_string(),
                        }
                    }
                };
                exchanges.push(Exchange {
                    command: if *cold { "reset cold" } else { "reset warm" }.into(),
                    response: hex::encode_upper(&got),
                });
                if let Some(mismatch) = expected.and_then(|e| e.mismatch(&got)) {
                    return Verdict::Fail {
                        step: n,
                        message: format!("ATR: {mismatch}"),
                    };
                }
            }
            Step::Apdu {
                apdu,
                sw,
                data,
                capture,
            } => {
                let command = match apdu.eval(&scope) {
                    Ok(c) => c,
                    Err(e) => return eval_error(e),
                };
                let expected = match data.as_ref().map(|p| p.eval(&scope)).transpose() {
                    Ok(e) => e,
                    Err(e) => return eval_error(e),
                };
                let response = match card.transmit(&command) {
                    Ok(r) if r.len() >= 2 => r,
                    Ok(r) => {
                        return Verdict::Error {
                            step: n,
                            message: format!(
                                "the card answered with {} byte(s), fewer than a status word",
                                r.len()
                            ),
                        }
                    }
                    Err(e) => {
                        return Verdict::Error {
                            step: n,
                            message: e.to_string(),
                        }
                    }
                };
                exchanges.push(Exchange {
                    command: hex::encode_upper(&command),
                    response: hex::encode_upper(&response),
                });
                let (body, sw_bytes) = response.split_at(response.len() - 2);
                let got_sw = u16::from_be_bytes([sw_bytes[0], sw_bytes[1]]);
                if !sw.iter().any(|p| p.matches(got_sw)) {
                    let wanted: Vec<String> = sw.iter().map(ToString::to_string).collect();
                    return Verdict::Fail {
                        step: n,
                        message: format!(
                            "expected SW {}, got {got_sw:04X}{}",
                            wanted.join(" or "),
                            if body.is_empty() {
                                String::new()
                            } else {
                                format!(" with data {}", hex::encode_upper(body))
                            }
                        ),
                    };
                }
                let mismatch = match (&expected, capture) {
                    (Some(e), _) => e.mismatch(body),
                    (None, Some(_)) => None,
                    (None, None) if body.is_empty() => None,
                    (None, None) => {
                        Some(format!("expected no data, got {}", hex::encode_upper(body)))
                    }
                };
                if let Some(m) = mismatch {
                    return Verdict::Fail {
                        step: n,
                        message: m,
                    };
                }
                if let Some(name) = capture {
                    captures.insert(name.clone(), body.to_vec());
                }
            }
        }
    }
    Verdict::Pass
}

/// Runs every vector `filter` selects, in order, calling `progress` after each.
pub fn run_vectors<'v>(
    vectors: impl IntoIterator<Item = &'v Vector>,
    target: &mut dyn Target,
    filter: &Filter,
    progress: &mut dyn FnMut(&VectorResult),
) -> Vec<VectorResult> {
    vectors
        .into_iter()
        .filter(|v| filter.matches(v))
        .map(|v| {
            let result = run_vector(target, v);
            progress(&result);
            result
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_ids_by_prefix_and_wildcards() {
        assert!(glob("select", "select.mf"));
        assert!(!glob("select", "selected.mf"));
        assert!(glob("select.*.fid", "select.mf.fid"));
        assert!(glob("*.fid", "select.mf.fid"));
        assert!(!glob("*.fid", "select.mf.name"));
        assert!(glob("pin.*", "pin.block.after-six"));
    }
}
