//! Shell completions and the man page, generated from the clap definition.

use clap::CommandFactory;

use super::{Cli, CliError, Outcome};

pub fn completions(shell: clap_complete::Shell) -> Result<Outcome, CliError> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "sscard", &mut out);
    Ok(Outcome::raw(String::from_utf8_lossy(&out).into_owned()))
}

pub fn man() -> Result<Outcome, CliError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(CliError::Output)?;
    Ok(Outcome::raw(String::from_utf8_lossy(&out).into_owned()))
}
