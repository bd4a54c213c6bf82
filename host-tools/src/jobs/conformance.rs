//! `sscard conformance`: the conformance suite of the `test-vectors` crate against a card in a
//! reader, a card image, or (neither given) freshly personalised in-process simulated cards.
//!
//! The runner, the vectors and the reports live in `test-vectors`; this module is the thin part:
//! an adapter that lets the runner talk to any [`CardTransport`] with raw semantics (no 61xx /
//! 6Cxx handling: the vectors check those), and the command's three jobs (run, import, list). The
//! command line's arguments and progress bar are the CLI's (`src/cli/conformance.rs`).

use std::path::{Path, PathBuf};

use file_structures::input::{self, InputError, TextEncoding};
use serde_json::{json, Value};
use test_vectors::import::{from_scriptor, ImportError, ImportHeader};
use test_vectors::runner::VectorResult;
use test_vectors::suite::SuiteError;
use test_vectors::{
    CardError, CardUnderTest, ExternalOptions, ExternalTarget, Filter, SimulatorTarget, Suite,
};

use crate::transport::{CardTransport, ResetKind};

/// A transport as the runner's card: `transmit` is sent as it is, answers come back as they are.
pub struct TransportCard<T>(pub T);

impl<T: CardTransport> CardUnderTest for TransportCard<T> {
    fn reset(&mut self, cold: bool) -> Result<Vec<u8>, CardError> {
        let kind = if cold {
            ResetKind::Cold
        } else {
            ResetKind::Warm
        };
        self.0
            .reset(kind)
            .map_err(|e| CardError::Transport(Box::new(e)))
    }

    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        self.0
            .transmit(apdu)
            .map_err(|e| CardError::Transport(Box::new(e)))
    }
}

/// What `sscard conformance run` runs, and where its report goes.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Vector ids (`*` wildcards, or a prefix up to a dot), files or cards to run; all if empty.
    pub filter: Vec<String>,
    /// Also write the results as JUnit XML here.
    pub junit: Option<PathBuf>,
    /// The card may be changed for good: destructive vectors run on a reader's card too.
    pub disposable: bool,
    /// The cardholder record (JSON) a reader's card was personalised from.
    pub holder: Option<PathBuf>,
    /// The holder record's text encoding; auto: UTF-8 when valid, otherwise GB18030 (GBK's superset).
    pub encoding: TextEncoding,
    /// The issuer key file of a reader's card (default: the test issuer keys).
    pub keys: Option<PathBuf>,
    /// Vector files from this directory instead of the shipped suite.
    pub suite: Option<PathBuf>,
}

/// What a run reports as it goes, for a progress display (the CLI draws a bar).
pub trait Progress {
    /// The run has `total` vectors.
    fn start(&mut self, total: usize);
    /// Vector `id` is done.
    fn vector_done(&mut self, id: &str);
    /// The run is over.
    fn finish(&mut self);
}

/// No progress display.
impl Progress for () {
    fn start(&mut self, _: usize) {}
    fn vector_done(&mut self, _: &str) {}
    fn finish(&mut self) {}
}

/// Why `sscard conformance` could not do its work (a failing vector is not an error: see
/// [`ConformanceOutcome::passed`]).
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    #[error("the vector suite cannot be used: {0}")]
    Suite(#[from] SuiteError),
    /// A holder, key or import file that cannot be read, is past its size limit or is not text.
    #[error(transparent)]
    Read(#[from] InputError),
    #[error("could not write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a cardholder record: {source}")]
    Holder {
        path: String,
        #[source]
        source: file_structures::personalise::RecordError,
    },
    #[error("{path} is not a usable key file: {source}")]
    Keys {
        path: String,
        #[source]
        source: file_structures::personalise::KeyError,
    },
    #[error("{path} cannot be imported: {source}")]
    Import {
        path: String,
        #[source]
        source: ImportError,
    },
    #[error(
        "{0:?} is not a card of the vector format: write blank, demo, national-2.0 or national-3.0"
    )]
    UnknownCard(String),
}

/// What the command produced.
#[derive(Debug)]
pub struct ConformanceOutcome {
    /// For a person (stdout).
    pub text: String,
    /// For `--json`.
    pub json: Value,
    /// The card answered and failed no vector (`run`; vectors that are wrong themselves are
    /// counted in `vector_errors` instead); always true for `import` / `list`.
    pub passed: bool,
    /// Vectors that could not be run as written (`run`): the vector file's fault, not the card's.
    pub vector_errors: usize,
    /// `run`: why the run is no pass although nothing failed: vectors were selected for the card
    /// and none of them reached it (see `Report::nothing_reached_card`).
    pub nothing_checked: Option<String>,
}

/// A key or import file (UTF-8): at most an import's size, the largest of them.
fn read(path: &Path) -> Result<String, ConformanceError> {
    Ok(input::read_text_bounded(
        path,
        test_vectors::limits::MAX_IMPORT_BYTES,
        "a key file or an import",
    )?)
}

/// A cardholder record, in the encoding asked for.
fn read_holder(path: &Path, encoding: TextEncoding) -> Result<String, ConformanceError> {
    let bytes = input::read_bounded(path, MAX_HOLDER_BYTES, "a cardholder record")?;
    let decoded =
        input::decode(&path.display().to_string(), &bytes, encoding).map_err(InputError::from)?;
    Ok(decoded.text)
}

/// Largest cardholder record file.
const MAX_HOLDER_BYTES: usize = 1 << 20;

fn load_suite(dir: Option<&Path>) -> Result<Suite, ConformanceError> {
    Ok(match dir {
        Some(dir) => Suite::load_dir(dir)?,
        None => Suite::builtin()?,
    })
}

/// `sscard conformance run`: the suite against `card` (the transport of --reader / --card), or
/// against in-process simulated cards when `card` is `None`.
pub fn run(
    args: &RunOptions,
    card: Option<Box<dyn CardTransport>>,
    progress: &mut dyn Progress,
) -> Result<ConformanceOutcome, ConformanceError> {
    let suite = load_suite(args.suite.as_deref())?;
    let filter = Filter::new(args.filter.iter().cloned());
    progress.start(suite.count(&filter));
    let mut tick = |r: &VectorResult| progress.vector_done(&r.id);
    let report = match card {
        None => suite.run(&mut SimulatorTarget::new(), &filter, &mut tick),
        Some(transport) => {
            let name = transport.name();
            let holder = match &args.holder {
                Some(path) => Some(
                    file_structures::personalise::record_from_json(
                        &path.display().to_string(),
                        &read_holder(path, args.encoding)?,
                    )
                    .map_err(|source| ConformanceError::Holder {
                        path: path.display().to_string(),
                        source,
                    })?,
                ),
                None => None,
            };
            let keys = match &args.keys {
                Some(path) => Some(
                    file_structures::personalise::IssuerKeys::from_toml(
                        &path.display().to_string(),
                        &read(path)?,
                    )
                    .map_err(|source| ConformanceError::Keys {
                        path: path.display().to_string(),
                        source,
                    })?,
                ),
                None => None,
            };
            let options = ExternalOptions {
                disposable: args.disposable,
                holder,
                keys,
            };
            let mut target = ExternalTarget::new(TransportCard(transport), name, options);
            suite.run(&mut target, &filter, &mut tick)
        }
    };
    progress.finish();
    if let Some(path) = &args.junit {
        std::fs::write(path, report.to_junit()).map_err(|source| ConformanceError::Write {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(ConformanceOutcome {
        text: report.to_text(),
        json: serde_json::to_value(&report).unwrap_or(Value::Null),
        passed: report.card_passed(),
        vector_errors: report.summary.vector_errors,
        nothing_checked: report.nothing_reached_sentence(),
    })
}

/// `sscard conformance import`: a scriptor script (or, `from_trace`, an APDU trace with answers)
/// as a vector file with `header`.
pub fn import(
    file: &Path,
    from_trace: bool,
    header: &ImportHeader,
) -> Result<ConformanceOutcome, ConformanceError> {
    if test_vectors::CardKind::from_name(&header.card).is_none() {
        return Err(ConformanceError::UnknownCard(header.card.clone()));
    }
    let text = read(file)?;
    let vector = if from_trace {
        test_vectors::import::from_trace(header, &text)
    } else {
        from_scriptor(header, &text)
    }
    .map_err(|source| ConformanceError::Import {
        path: file.display().to_string(),
        source,
    })?;
    Ok(ConformanceOutcome {
        json: json!({ "vector_file": vector }),
        text: vector,
        passed: true,
        vector_errors: 0,
        nothing_checked: None,
    })
}

/// `sscard conformance list`: the vectors `filter` selects, from `suite` or the shipped suite.
pub fn list(
    filter: &[String],
    suite: Option<&Path>,
) -> Result<ConformanceOutcome, ConformanceError> {
    let suite = load_suite(suite)?;
    let filter = Filter::new(filter.iter().cloned());
    let mut text = String::new();
    let mut rows = Vec::new();
    for v in suite.vectors().filter(|v| filter.matches(v)) {
        text.push_str(&format!(
            "{}  [{}{}]  {}\n",
            v.id,
            v.card.name(),
            if v.destructive { ", destructive" } else { "" },
            v.requirement
        ));
        rows.push(json!({
            "id": v.id, "file": v.file, "card": v.card.name(), "destructive": v.destructive,
            "requirement": v.requirement, "reference": v.reference,
        }));
    }
    for f in &suite.kats {
        for k in f.kats.iter().filter(|k| filter.matches_id(&k.id, &f.name)) {
            text.push_str(&format!("{}  [known answer]  {}\n", k.id, k.function));
            rows.push(json!({ "id": k.id, "file": f.name, "function": k.function }));
        }
    }
    Ok(ConformanceOutcome {
        text,
        json: Value::Array(rows),
        passed: true,
        vector_errors: 0,
        nothing_checked: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::sim::SimTransport;

    fn national_card() -> SimTransport {
        let layout = file_structures::layout::national("2.0").unwrap();
        let keys = file_structures::personalise::IssuerKeys::test_keys().unwrap();
        let (storage, _) = crate::transport::simcard::personalised_card(
            &layout,
            &crate::transport::simcard::sample_holder(),
            &keys,
        )
        .unwrap();
        SimTransport::in_memory(storage).unwrap()
    }

    fn run_args(filter: &[&str]) -> RunOptions {
        RunOptions {
            filter: filter.iter().map(|f| f.to_string()).collect(),
            ..RunOptions::default()
        }
    }

    #[test]
    fn the_suite_runs_through_a_transport_and_skips_what_it_cannot_establish() {
        let args = run_args(&["record", "data", "pin.block.after-limit"]);
        let outcome = run(&args, Some(Box::new(national_card())), &mut ()).unwrap();
        assert!(outcome.passed, "{}", outcome.text);
        assert!(outcome.json["summary"]["passed"].as_u64().unwrap() > 0);
        assert!(outcome.json["summary"]["skipped"].as_u64().unwrap() > 0);
        assert!(outcome.text.contains("disposable"), "{}", outcome.text);
    }

    #[test]
    fn a_wrong_card_fails_the_run() {
        // A suite expecting what the card does not do fails the run, and its JUnit file says why.
        let dir = crate::testdir::TestDir::new("conformance-fail");
        std::fs::write(
            dir.path().join("wrong.toml"),
            "[suite]\ntitle = \"t\"\ncard = \"national-2.0\"\nreference = \"r\"\n\
             [[vector]]\nid = \"wrong\"\nrequirement = \"GET DATA 9F70 answers 03\"\n\
             steps = [{ apdu = \"00 CA 9F 70 01\", sw = \"9000\", data = \"03\" }]\n",
        )
        .unwrap();
        let junit = dir.path().join("junit.xml");
        let mut args = run_args(&[]);
        args.suite = Some(dir.path().to_path_buf());
        args.junit = Some(junit.clone());
        let outcome = run(&args, Some(Box::new(national_card())), &mut ()).unwrap();
        assert!(!outcome.passed);
        let xml = std::fs::read_to_string(junit).unwrap();
        assert!(xml.contains("expected 03"), "{xml}");
    }

    #[test]
    fn a_mute_card_fails_the_run_and_every_report_says_nothing_reached_it() {
        // A dead chip: no ATR, no answer to any command. Only the known answers can run.
        use crate::transport::faults::{FaultKind, FaultyTransport, TransportFaults};
        let mute = FaultyTransport::new(
            national_card(),
            TransportFaults::from_kinds(&[FaultKind::Mute]),
        );
        let dir = crate::testdir::TestDir::new("conformance-mute");
        let junit = dir.path().join("junit.xml");
        let mut args = run_args(&[]);
        args.junit = Some(junit.clone());
        let outcome = run(&args, Some(Box::new(mute)), &mut ()).unwrap();
        assert!(!outcome.passed, "{}", outcome.text);
        let sentence = outcome
            .nothing_checked
            .expect("the run says nothing reached the card");
        assert!(
            sentence.starts_with("nothing was checked: no vector reached the card (0 of "),
            "{sentence}"
        );
        assert!(
            sentence.contains("skipped: the card answered nothing ("),
            "{sentence}"
        );
        assert!(
            outcome.text.contains("reached the card: 0 of "),
            "{}",
            outcome.text
        );
        assert!(outcome.text.contains(&sentence), "{}", outcome.text);
        let summary = &outcome.json["summary"];
        assert_eq!(summary["reached_card"], 0);
        assert_eq!(
            summary["failed"], 0,
            "nothing failed: everything was skipped"
        );
        assert!(summary["card_vectors"].as_u64().unwrap() > 800, "{summary}");
        let xml = std::fs::read_to_string(junit).unwrap();
        assert!(
            xml.contains("<property name=\"reached the card\" value=\"0\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<failure message=\"nothing was checked"),
            "{xml}"
        );
    }
}
