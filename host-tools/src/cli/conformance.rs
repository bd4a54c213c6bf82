//! `sscard conformance`: the conformance suite (test-vectors) against the card of --reader /
//! --card, or against simulated cards when neither is given.

use host_tools::jobs::conformance::{self, ConformanceCommand};

use super::{connect, CliError, Global, Outcome};

pub fn run(global: &Global, command: &ConformanceCommand) -> Result<Outcome, CliError> {
    let card = match (&global.card, &global.reader) {
        (None, None) => None,
        _ => Some(connect::traced(global, connect::transport(global)?)?),
    };
    let progress = |total| super::progress::bar(total, "conformance", global.json);
    let outcome = conformance::run_cli(command, card, &progress)?;
    let mut result = Outcome::new(outcome.text, outcome.json);
    if let Some(sentence) = outcome.nothing_checked {
        result.failure = Some(CliError::NothingChecked(sentence));
    } else if !outcome.passed {
        result.failure = Some(CliError::ConformanceFailed);
    } else if outcome.vector_errors > 0 {
        result.failure = Some(CliError::VectorErrors {
            count: outcome.vector_errors,
        });
    }
    Ok(result)
}
