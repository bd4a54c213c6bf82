//! The `sscard` command line: options and commands (clap), each command in its own module.

mod activate;
mod apdu;
mod atr;
mod conformance;
mod connect;
mod demo;
mod diagnose;
mod ecard;
mod ecard_family;
mod ecard_holder;
mod ecard_seen;
pub mod error;
mod explore;
mod generate;
mod info;
mod inputs;
mod layout;
pub mod output;
mod personalise;
mod platform;
mod progress;
mod qr_settle;
mod readers;
mod services;
mod settle;
mod settle_registry;
mod sim;
mod table;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use conformance::ConformanceCommand;
use host_tools::transport::pcsc::ReaderChoice;

pub use error::CliError;
pub use output::Outcome;

/// sscard: a host toolkit for China's social security card (社会保障卡), in a PC/SC reader or simulated.
#[derive(Debug, Parser)]
#[command(name = "sscard", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// The PC/SC reader: its number in `sscard readers` or (part of) its name.
    #[arg(
        long,
        global = true,
        value_name = "NAME|INDEX",
        conflicts_with = "card"
    )]
    pub reader: Option<ReaderChoice>,
    /// Use the simulated card in this card image file instead of a reader; changes are saved to it.
    #[arg(long, global = true, value_name = "FILE")]
    pub card: Option<PathBuf>,
    /// Log every APDU exchange to FILE as JSON lines (PINs, keys and cryptograms redacted).
    #[arg(long, global = true, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Print machine-readable JSON on stdout (errors too).
    #[arg(long, global = true)]
    pub json: bool,
    /// How long to wait for a card to be inserted, in milliseconds.
    #[arg(long, global = true, value_name = "MS", default_value_t = 5000)]
    pub timeout_ms: u64,
    /// How long the card (and the PC/SC service) may take to answer one exchange before it is
    /// reported as not answering: e.g. `10s`, `500ms`.
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        env = "SSCARD_ANSWER_TIMEOUT",
        default_value = "10s",
        value_parser = parse_answer_timeout
    )]
    pub answer_timeout: Duration,
    /// How long to wait for a card image another program is using (default: refuse at once).
    #[arg(long, global = true, value_name = "SECONDS", default_value = "0", value_parser = parse_wait)]
    pub wait_image: Duration,
}

/// A bound in seconds (fractions allowed), at most a day.
fn parse_wait(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| (0.0..=86_400.0).contains(s))
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{text:?} is not a number of seconds from 0 to 86400"))
}

/// The longest answer timeout accepted: longer is a typo, not a card.
const MAX_ANSWER_TIMEOUT: Duration = Duration::from_secs(3600);

/// A duration with its unit: `250ms`, `10s`, `1.5s`.
fn parse_answer_timeout(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration such as 10s or 500ms");
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else {
        return Err(bad());
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    let duration = Duration::try_from_secs_f64(value * scale).map_err(|_| bad())?;
    if duration.is_zero() || duration > MAX_ANSWER_TIMEOUT {
        return Err(format!(
            "{text:?} is out of range: give more than 0 and at most 1 hour"
        ));
    }
    Ok(duration)
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the PC/SC readers, whether a card is present, and its ATR.
    Readers,
    /// Analyse an ATR: the one given in hex, or the card's.
    Atr {
        /// The ATR in hex (spaces and colons allowed); without it, the card's ATR is read.
        hex: Option<String>,
    },
    /// Send raw command APDUs and show each answer with its status word in words.
    Apdu(apdu::ApduArgs),
    /// Show the card's identification and cardholder data, decoded through the layout.
    Info(info::InfoArgs),
    /// Walk the layout's files on the card: FCP facts, records decoded, what could not be read.
    Explore(explore::ExploreArgs),
    /// Check, show and compare layout files.
    #[command(subcommand)]
    Layout(layout::LayoutCommand),
    /// Personalise a batch of cardholder records into card images or APDU scripts.
    Personalise(personalise::PersonaliseArgs),
    /// Simulated cards: make a card image, serve a card to vpcd.
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// The main job on the built-in simulator, in memory: a new card, its ATR, its data, its files.
    Demo(demo::DemoArgs),
    /// Activate a new card at a bank outlet: identity, mutual authentication, new PIN, activation record.
    Activate(Box<activate::ActivateArgs>),
    /// Pay from the card's medical purse: PIN, the card's DEBIT, MAC1 and MAC2 in the PSAM, a receipt with the TAC.
    Settle(Box<settle::SettleArgs>),
    /// Load the card's medical purse at an outlet (the issuer's load key computes the MAC).
    Load(Box<settle::LoadArgs>),
    /// Show the purse's balance and the card's transaction log (EF08), after the PIN.
    Records(settle::RecordsArgs),
    /// Tell why a card "doesn't work": read-only checks, the likely cause and the next step.
    Diagnose(diagnose::DiagnoseArgs),
    /// Conformance: does the card behave like a social security card? (test-vectors suite)
    #[command(subcommand)]
    Conformance(ConformanceCommand),
    /// The back office's HSM service (持卡库): answers the national interface's HSM Step strings.
    #[command(subcommand)]
    Hsm(services::HsmCommand),
    /// The web bridge: browser pages call the national interface over a local WebSocket.
    #[command(subcommand)]
    Bridge(services::BridgeCommand),
    /// The back office: the card registry every terminal consults (serve it, administer it).
    #[command(subcommand)]
    Platform(platform::PlatformCommand),
    /// The electronic card: apply, show the card face, show a QR code, verify a code.
    Ecard(ecard::EcardArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    Man,
}

/// Runs a parsed command line.
pub fn run(cli: &Cli) -> Result<Outcome, CliError> {
    match &cli.command {
        Command::Readers => readers::run(&cli.global),
        Command::Atr { hex } => atr::run(&cli.global, hex.as_deref()),
        Command::Apdu(args) => apdu::run(&cli.global, args),
        Command::Info(args) => info::run(&cli.global, args),
        Command::Explore(args) => explore::run(&cli.global, args),
        Command::Layout(command) => layout::run(command),
        Command::Personalise(args) => personalise::run(&cli.global, args),
        Command::Sim(command) => sim::run(&cli.global, command),
        Command::Demo(args) => demo::run(&cli.global, args),
        Command::Activate(args) => activate::run(&cli.global, args),
        Command::Settle(args) => settle::settle(&cli.global, args),
        Command::Load(args) => settle::load(&cli.global, args),
        Command::Records(args) => settle::records(&cli.global, args),
        Command::Diagnose(args) => diagnose::run(&cli.global, args),
        Command::Conformance(command) => conformance::run(&cli.global, command),
        Command::Hsm(command) => services::run_hsm(&cli.global, command),
        Command::Bridge(command) => services::run_bridge(&cli.global, command),
        Command::Platform(command) => platform::run(&cli.global, command),
        Command::Ecard(args) => ecard::run(&cli.global, args),
        Command::Completions { shell } => generate::completions(*shell),
        Command::Man => generate::man(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_timeouts_need_a_unit_and_a_sane_range() {
        assert_eq!(parse_answer_timeout("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(
            parse_answer_timeout("250ms"),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(
            parse_answer_timeout("1.5s"),
            Ok(Duration::from_millis(1500))
        );
        for bad in [
            "10", "", "s", "-1s", "0s", "0ms", "2h", "7201s", "nans", "infs",
        ] {
            assert!(parse_answer_timeout(bad).is_err(), "{bad:?} accepted");
        }
    }
}
