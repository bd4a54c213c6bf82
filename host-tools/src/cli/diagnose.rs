//! `sscard diagnose`: the checks, the likely cause and the next step (host_tools::jobs::diagnose), or
//! with `--matrix` the confusion matrix of the fault catalogue on the simulator.

use serde_json::json;

use host_tools::jobs::diagnose::{self, matrix, Day, Options};
use host_tools::transport::faults::MATRIX_TODAY;

use super::connect;
use super::inputs::LayoutArgs;
use super::{CliError, Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct DiagnoseArgs {
    /// The day dates are judged on, YYYYMMDD (default: today; for reproducible runs).
    #[arg(long, value_name = "YYYYMMDD")]
    pub today: Option<String>,
    #[command(flatten)]
    pub layout: LayoutArgs,
    /// The holder is present and gives the PIN (asked hidden): also read the medical purse's
    /// balance and last settlements (VERIFY, GET BALANCE and READ RECORD of EF08 only).
    #[arg(long)]
    pub pin: bool,
    /// With --pin: read the PIN from standard input (one line) instead of asking.
    #[arg(long, requires = "pin")]
    pub pin_from_stdin: bool,
    /// UNSAFE, for tests only: the PIN on the command line.
    #[arg(long, value_name = "PIN", hide = true, requires = "pin")]
    pub unsafe_pin: Option<String>,
    /// With --pin: the settlement's account amount in yuan; a balance below it is the cause.
    #[arg(long, value_name = "YUAN", requires = "pin")]
    pub amount: Option<String>,
    /// The settlement terminal's journal: a last settlement refused names its cause (9401
    /// balance, 9303 blocked, 6983 PIN).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<std::path::PathBuf>,
    /// Instead of a card: inject every fault of the catalogue (alone and in pairs) into a healthy
    /// simulated card, diagnose each, and compare the verdict with the cause.
    #[arg(long)]
    pub matrix: bool,
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
    let mut report = diagnose::diagnose(connect::transport(global), &options);
    if args.pin || args.journal.is_some() {
        with_purse(global, args, &mut report)?;
    }
    let json = serde_json::to_value(&report).map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(Outcome::new(report.render(), json))
}

/// The holder-present part (docs/diagnostics.md, "The medical purse"): the journal's last refused
/// settlement, and with --pin the balance and the log; a card otherwise healthy then gets the
/// purse's cause.
fn with_purse(
    global: &Global,
    args: &DiagnoseArgs,
    report: &mut diagnose::Report,
) -> Result<(), CliError> {
    use host_tools::jobs::diagnose::purse::{self, HolderPresent};
    use host_tools::jobs::settlement::{yuan_to_fen, SettleError, SettlementJournal};
    let amount = match &args.amount {
        Some(text) => Some(yuan_to_fen("amount", text).map_err(SettleError::from)?),
        None => None,
    };
    let journal = match &args.journal {
        Some(path) => Some(SettlementJournal::open(path).map_err(SettleError::from)?),
        None => None,
    };
    let last_line = journal.as_ref().and_then(|j| j.entries().last());
    let findings = if args.pin {
        let transport = connect::transport(global)?;
        let atr = transport.atr();
        let layout = args
            .layout
            .load(host_tools::card::info::version_from_atr(&atr))?;
        let mut client = host_tools::protocol::client::Client::new(HolderPresent::new(transport));
        let mut pin = super::settle::CliPin(super::settle::PinArgs {
            pin_from_stdin: args.pin_from_stdin,
            unsafe_pin: args.unsafe_pin.clone(),
        });
        let findings = purse::read(&mut client, &layout, &mut pin, amount, last_line);
        report.refused_commands += client.transport().refused();
        findings
    } else {
        let sw = last_line
            .filter(|l| l.step == host_tools::jobs::settlement::Step::Refused)
            .and_then(|l| l.sw.clone());
        let cause = sw
            .as_deref()
            .and_then(|s| u16::from_str_radix(s, 16).ok())
            .and_then(diagnose::cause_of_refusal);
        purse::PurseFindings {
            balance: None,
            records: Vec::new(),
            detail: match &sw {
                Some(sw) => format!(
                    "the last settlement was refused with {sw} (balance not read: no --pin)"
                ),
                None => "no refused settlement in the journal (balance not read: no --pin)".into(),
            },
            last_refusal: sw,
            cause,
        }
    };
    let outcome = match findings.cause {
        Some(_) => diagnose::Outcome::Fail,
        None => diagnose::Outcome::Pass,
    };
    report.checks.push(diagnose::Check::new(
        diagnose::CheckId::Purse,
        outcome,
        findings.detail.clone(),
    ));
    // The purse names the cause only of a card the other checks found healthy.
    if let (Some(cause), diagnose::Cause::BackOffice) = (findings.cause, report.cause) {
        if cause == diagnose::Cause::BalanceTooLow {
            report.facts.balance_too_low = true;
        }
        report.cause = cause;
        report.cause_words = cause.words();
        report.action = cause.action();
        report.action_words = cause.action().words();
    }
    Ok(())
}

fn run_matrix(global: &Global, args: &DiagnoseArgs) -> Result<Outcome, CliError> {
    if args.today.is_some() {
        return Err(CliError::Usage(format!(
            "--matrix always judges on {MATRIX_TODAY}, the day the catalogue's cards are made for"
        )));
    }
    let layout = args.layout.load(None)?;
    let keys = file_structures::personalise::IssuerKeys::test_keys().map_err(CliError::Keys)?;
    let total = matrix::cases().len();
    let bar = super::progress::bar(total, "diagnosing", global.json);
    let rows = matrix::run(&layout, &keys, &mut |_| bar.inc(1))?;
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
