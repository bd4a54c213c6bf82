//! `sscard conformance`: the conformance suite (test-vectors) against the card of --reader /
//! --card, or against simulated cards when neither is given; its arguments and progress bar.

use std::path::PathBuf;

use host_tools::jobs::conformance::{self, RunOptions};
use test_vectors::import::ImportHeader;

use super::{connect, CliError, Global, Outcome};

/// `sscard conformance ...`
#[derive(Debug, clap::Subcommand)]
pub enum ConformanceCommand {
    /// Run the suite against the card of --reader / --card, or against simulated cards when
    /// neither is given; exit non-zero when a vector fails.
    Run(RunArgs),
    /// Turn a scriptor script or an APDU trace (`> command` / `< response` lines) into a
    /// vector file, printed on stdout.
    Import(ImportArgs),
    /// List the vectors (id, card, requirement) the filter selects.
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Run only vectors whose id matches (`*` wildcards, or a prefix up to a dot), of this file
    /// (`select`), or for this card (`national-3.0`); repeat or separate with commas.
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub filter: Vec<String>,
    /// Also write the results as JUnit XML to FILE (one testcase per vector).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// The card may be changed for good (PIN blocked, application and card blocked, data
    /// rewritten): runs the destructive vectors on a reader's card too. Never on a card you keep.
    #[arg(long)]
    pub disposable: bool,
    /// The cardholder record (JSON) the card was personalised from, so that vectors comparing
    /// the holder's data run on a reader's card.
    #[arg(long, value_name = "FILE")]
    pub holder: Option<PathBuf>,
    #[command(flatten)]
    pub holder_encoding: crate::cli::inputs::EncodingArg,
    /// The issuer key file of a reader's card (default: the test issuer keys).
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
    /// Vector files from DIR (its *.toml, and crypto/*.toml known answers) instead of the
    /// shipped suite.
    #[arg(long, value_name = "DIR")]
    pub suite: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// As for `run`.
    #[arg(long, value_name = "PATTERN", value_delimiter = ',')]
    pub filter: Vec<String>,
    /// As for `run`.
    #[arg(long, value_name = "DIR")]
    pub suite: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The script or trace file.
    pub file: PathBuf,
    /// The file is an APDU trace with answers (`>` / `<` lines), not a scriptor script. (Not
    /// `--trace`: that global option logs this run's exchanges.)
    #[arg(long)]
    pub from_trace: bool,
    /// The vector's id.
    #[arg(long)]
    pub id: String,
    /// The requirement it checks, in a sentence.
    #[arg(long)]
    pub requirement: String,
    /// Where the requirement is written.
    #[arg(long, default_value = "imported")]
    pub reference: String,
    /// The card it needs: blank, demo, national-2.0 or national-3.0. (Not `--card`: that global
    /// option names a card image.)
    #[arg(long, value_name = "CARD", default_value = "national-2.0")]
    pub vector_card: String,
}

impl RunArgs {
    fn options(&self) -> RunOptions {
        RunOptions {
            filter: self.filter.clone(),
            junit: self.junit.clone(),
            disposable: self.disposable,
            holder: self.holder.clone(),
            encoding: self.holder_encoding.encoding,
            keys: self.keys.clone(),
            suite: self.suite.clone(),
        }
    }
}

impl ImportArgs {
    fn header(&self) -> ImportHeader {
        ImportHeader {
            id: self.id.clone(),
            requirement: self.requirement.clone(),
            reference: self.reference.clone(),
            card: self.vector_card.clone(),
        }
    }
}

pub fn run(global: &Global, command: &ConformanceCommand) -> Result<Outcome, CliError> {
    let outcome = match command {
        ConformanceCommand::Run(args) => {
            let card = match (&global.card, &global.reader) {
                (None, None) => None,
                _ => Some(connect::traced(global, connect::transport(global)?)?),
            };
            let mut bar = super::progress::Bar::new("conformance", global.json);
            conformance::run(&args.options(), card, &mut bar)?
        }
        ConformanceCommand::Import(args) => {
            conformance::import(&args.file, args.from_trace, &args.header())?
        }
        ConformanceCommand::List(args) => conformance::list(&args.filter, args.suite.as_deref())?,
    };
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
