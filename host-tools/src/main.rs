//! The `sscard` binary: parse, run, print, exit with the class of what happened.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::{output, Cli, CliError};

/// Whether --json was asked for, judged from the raw arguments (for errors clap finds first).
fn json_requested() -> bool {
    std::env::args_os().skip(1).any(|a| a == "--json")
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: not errors.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            if json_requested() {
                let error = CliError::Usage(e.kind().to_string());
                output::print_json(&serde_json::json!({ "error": error.to_json() }));
            }
            let _ = e.print();
            return ExitCode::from(cli::error::ExitClass::Usage as u8);
        }
    };
    let json = cli.global.json;
    match cli::run(&cli) {
        Ok(outcome) => output::emit(outcome, json),
        Err(error) => output::fail(&error, json),
    }
}
