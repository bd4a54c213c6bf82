//! The `sscard` binary: parse, run, print, exit with the class of what happened.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use serde_json::json;

use cli::{Cli, CliError};

/// Whether --json was asked for, judged from the raw arguments (for errors clap finds first).
fn json_requested() -> bool {
    std::env::args_os().skip(1).any(|a| a == "--json")
}

fn print_json(value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    // A closed pipe (`sscard --json ... | head`) is not worth a message, nor a panic.
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

fn fail(error: &CliError, json: bool) -> ExitCode {
    if json {
        print_json(&json!({ "error": error.to_json() }));
    }
    eprintln!("{}", error.for_person());
    ExitCode::from(error.exit_code())
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
                print_json(&json!({ "error": error.to_json() }));
            }
            let _ = e.print();
            return ExitCode::from(cli::error::ExitClass::Usage as u8);
        }
    };
    let json = cli.global.json;
    match cli::run(&cli) {
        Ok(outcome) => {
            if json && !outcome.json.is_null() {
                let mut value = outcome.json;
                if let Some(failure) = &outcome.failure {
                    value["error"] = failure.to_json();
                }
                print_json(&value);
            } else {
                let mut stdout = std::io::stdout().lock();
                // A closed pipe (`sscard man | head`) is not worth a message.
                let _ = stdout.write_all(outcome.text.as_bytes());
            }
            match &outcome.failure {
                Some(failure) => {
                    eprintln!("{}", failure.for_person());
                    ExitCode::from(failure.exit_code())
                }
                None => ExitCode::SUCCESS,
            }
        }
        Err(error) => fail(&error, json),
    }
}
