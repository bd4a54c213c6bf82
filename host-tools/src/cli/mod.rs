//! The `sscard` command line: options and commands (clap), each command in its own module.

mod apdu;
mod atr;
mod connect;
pub mod error;
mod generate;
mod output;
mod readers;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
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
        Command::Completions { shell } => generate::completions(*shell),
        Command::Man => generate::man(),
    }
}
