//! `sscard diagnose`: the checks, the likely cause and the next step (host_tools::jobs::diagnose), or
//! with `--matrix` the confusion matrix of the fault catalogue on the simulator.

use serde_json::json;

use host_tools::jobs::diagnose::registry::{self, RegistryAnswer};
use host_tools::jobs::diagnose::{self, matrix, Day, Options};
use host_tools::transport::faults::MATRIX_TODAY;

use super::connect;
use super::inputs::{LayoutArgs, PlatformArgs};
use super::{CliError, Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct DiagnoseArgs {
    /// The day dates are judged on, YYYYMMDD (default: today; for reproducible runs).
    #[arg(long, value_name = "YYYYMMDD")]
    pub today: Option<String>,
    #[command(flatten)]
    pub layout: LayoutArgs,
    /// Instead of a card: inject every fault of the catalogue (alone and in pairs) into a healthy
    /// simulated card, diagnose each, and compare the verdict with the cause.
    #[arg(long)]
    pub matrix: bool,
    #[command(flatten)]
    pub platform: PlatformArgs,
    /// With --platform: the amount (fen) the holder wants to pay, to check the balance.
    #[arg(long, value_name = "FEN", requires = "platform")]
    pub amount: Option<i64>,
    /// With --platform: the card number printed on the card, used when the chip cannot tell it.
    #[arg(long, value_name = "NUMBER", requires = "platform")]
    pub card_number: Option<String>,
}

fn today(args: &DiagnoseArgs) -> Result<Day, CliError> {
    match &args.today {
        None => Ok(Day::today()),
        Some(text) => Day::parse(text).ok_or_else(|| {
            CliError::Usage(format!("--today {text} is not a calendar date YYYYMMDD"))
        }),
    }
}

pub fn run(global: &Global, args: &DiagnoseArgs) -> Result<Outcome, CliError> {
    if args.matrix {
        return run_matrix(global, args);
    }
    let mut options = Options::new(today(args)?);
    if args.layout.layout.is_some() || args.layout.version.is_some() {
        options.layout = Some(args.layout.load(None)?);
    }
    let platform = args.platform.client(global.answer_timeout)?;
    let mut report = diagnose::diagnose(connect::transport(global), &options);
    if let Some(client) = platform {
        if let Some(printed) = &args.card_number {
            report
                .card
                .entry("card_number".into())
                .or_insert_with(|| printed.clone());
        }
        let Day { year, month, day } = options.today;
        let today = format!("{year:04}{month:02}{day:02}");
        let answer = match report.card.get("card_number") {
            None => RegistryAnswer::Unavailable("no card number".into()),
            Some(number) => match client.card_status(number, Some(&today), args.amount) {
                Ok(status) => RegistryAnswer::Status(Box::new(status)),
                Err(e) if e.code() == Some("unknown-card") => RegistryAnswer::Unknown,
                Err(e) => RegistryAnswer::Unavailable(e.to_string()),
            },
        };
        registry::compare(&mut report, answer);
    }
    let json = serde_json::to_value(&report).map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(Outcome::new(report.render(), json))
}

fn run_matrix(global: &Global, args: &DiagnoseArgs) -> Result<Outcome, CliError> {
    if args.today.is_some() {
        return Err(CliError::Usage(format!(
            "--matrix always judges on {MATRIX_TODAY}, the day the catalogue's cards are made for"
        )));
    }
    let layout = args.layout.load(None)?;
    let keys = file_structures::personalise::IssuerKeys::test_keys().map_err(CliError::Keys)?;
    let total = matrix::cases().len() + matrix::back_office_cases().len();
    let bar = super::progress::bar(total, "diagnosing", global.json);
    let mut rows = matrix::run(&layout, &keys, &mut |_| bar.inc(1))?;
    rows.extend(matrix::run_back_office(&layout, &keys, &mut |_| {
        bar.inc(1)
    })?);
    bar.finish_and_clear();
    let wrong = rows.iter().filter(|r| !r.ok).count();
    let mut outcome = Outcome::new(
        matrix::render(&rows),
        json!({ "today": MATRIX_TODAY, "rows": rows, "correct": rows.len() - wrong, "total": rows.len() }),
    );
    if wrong > 0 {
        outcome.failure = Some(CliError::MatrixMismatch {
            wrong,
            total: rows.len(),
        });
    }
    Ok(outcome)
}
