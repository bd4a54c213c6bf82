//! A holder's login, the one option set of every holder command (`ecard show`, `ecard qr`,
//! `ecard family add | remove | list`): the back office, the holder named by `--ecard ID` or
//! by `--ssn SSN --name NAME`, and the e-card password (docs/electronic-card.md, "The command
//! line").
//!
//! A password is never an argument (a command line is visible to every user of the machine):
//! it is asked hidden on the terminal, or read from the first line of a file for scripts
//! (`-`: standard input; `/dev/fd/N`: an open descriptor).

use std::io::Read;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use sscard_platform::client::{EcardLogin, EcardSession};
use sscard_platform::ecard::EcardPassword;
use sscard_platform::Client;

use super::{CliError, Global};

/// The longest password file read: 6 digits and a line break, with room to spare.
const MAX_PASSWORD_FILE_BYTES: u64 = 64;

/// The e-card password: asked hidden on the terminal, or read from a file for scripts.
#[derive(Debug, Clone, clap::Args)]
pub struct PasswordArgs {
    /// Read the 6-digit e-card password from the first line of FILE (`-`: standard input;
    /// `/dev/fd/N`: an open descriptor), for scripts. Without it, it is asked hidden.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

impl PasswordArgs {
    /// The password of an existing e-card.
    pub fn password(&self) -> Result<EcardPassword, CliError> {
        read_password(self.password_file.as_deref(), "Holder: e-card password: ")
    }

    /// A new password: asked twice when typed, the two must agree.
    pub fn new_password(&self) -> Result<EcardPassword, CliError> {
        if let Some(path) = &self.password_file {
            return from_file(path);
        }
        let first = prompt("Holder: new e-card password (6 digits): ")?;
        let second = prompt("Holder: the new e-card password again: ")?;
        if first.expose() == second.expose() {
            Ok(first)
        } else {
            Err(CliError::EcardPasswordRejected(
                "the two entries differ".into(),
            ))
        }
    }
}

/// An e-card password from `file` (see [`PasswordArgs`]), or asked hidden with `prompt`.
pub fn read_password(file: Option<&Path>, prompt_text: &str) -> Result<EcardPassword, CliError> {
    match file {
        Some(path) => from_file(path),
        None => prompt(prompt_text),
    }
}

fn from_file(path: &Path) -> Result<EcardPassword, CliError> {
    let io = |source| CliError::EcardPasswordFile {
        path: path.display().to_string(),
        source,
    };
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_PASSWORD_FILE_BYTES as usize + 1));
    if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(MAX_PASSWORD_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    } else {
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_PASSWORD_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    }
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    password(std::str::from_utf8(line).unwrap_or_default())
}

fn prompt(text: &str) -> Result<EcardPassword, CliError> {
    let typed = Zeroizing::new(
        rpassword::prompt_password(text).map_err(|_| CliError::EcardPasswordNoTerminal)?,
    );
    password(&typed)
}

fn password(text: &str) -> Result<EcardPassword, CliError> {
    EcardPassword::new(text)
        .map_err(|_| CliError::EcardPasswordRejected("it must be exactly 6 digits".into()))
}

/// `--platform URL`: the back office a holder's app talks to.
#[derive(Debug, Clone, clap::Args)]
pub struct HolderPlatform {
    /// The back office (`sscard platform serve`), e.g. http://127.0.0.1:8620.
    #[arg(long, value_name = "URL", env = "SSCARD_PLATFORM_URL")]
    pub platform: String,
}

/// A holder's login: the back office, the holder (by e-card id, or by number and name) and the
/// e-card password.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("holder").args(["ecard", "ssn"]).required(true)))]
pub struct HolderArgs {
    #[command(flatten)]
    pub platform: HolderPlatform,
    /// The holder's e-card id (32 hex digits, as `ecard apply` printed it); or --ssn and --name.
    #[arg(long, value_name = "ID")]
    pub ecard: Option<String>,
    /// The holder's social security number (with --name), instead of --ecard.
    #[arg(long, value_name = "SSN", requires = "name")]
    pub ssn: Option<String>,
    /// The holder's name as the registry has it (with --ssn).
    #[arg(long, value_name = "NAME", requires = "ssn", conflicts_with = "ecard")]
    pub name: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
}

impl HolderArgs {
    /// Who logs in, as the options name the holder.
    fn login_form(&self) -> Result<EcardLogin<'_>, CliError> {
        match (&self.ecard, &self.ssn, &self.name) {
            (Some(ecard), None, None) => Ok(EcardLogin::Ecard { ecard }),
            (None, Some(ssn), Some(name)) => Ok(EcardLogin::Person { ssn, name }),
            _ => Err(CliError::Usage(
                "name the holder: --ecard ID, or --ssn SSN with --name NAME".into(),
            )),
        }
    }

    /// The holder's password, from where the options say.
    pub fn password(&self) -> Result<EcardPassword, CliError> {
        self.password.password()
    }

    /// Logs in with a password already read: the session's client and the e-card.
    pub fn log_in(
        &self,
        global: &Global,
        password: &EcardPassword,
    ) -> Result<EcardSession, CliError> {
        let who = self.login_form()?;
        let client = Client::anonymous(&self.platform.platform, global.answer_timeout);
        Ok(client.ecard_login(&who, password)?)
    }

    /// Reads the password and logs in.
    pub fn session(&self, global: &Global) -> Result<EcardSession, CliError> {
        let password = self.password()?;
        self.log_in(global, &password)
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::super::{ecard::EcardCommand, Cli, Command};

    fn holder_of(args: &[&str]) -> Result<super::HolderArgs, clap::Error> {
        let mut line = vec![
            "sscard",
            "ecard",
            "show",
            "--platform",
            "http://127.0.0.1:1",
        ];
        line.extend(args);
        match Cli::try_parse_from(line)?.command {
            Command::Ecard(e) => match e.command {
                EcardCommand::Show(holder) => Ok(holder),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_holder_is_named_by_exactly_one_form() {
        let by_id = holder_of(&["--ecard", "00ff"]).unwrap();
        assert_eq!(
            (by_id.ecard.as_deref(), by_id.ssn, by_id.name),
            (Some("00ff"), None, None)
        );
        let by_person = holder_of(&["--ssn", "110105", "--name", "张三"]).unwrap();
        assert_eq!(
            (
                by_person.ecard,
                by_person.ssn.as_deref(),
                by_person.name.as_deref()
            ),
            (None, Some("110105"), Some("张三"))
        );
        for bad in [
            &[][..],
            &["--ssn", "110105"],
            &["--name", "张三"],
            &["--ecard", "00ff", "--ssn", "110105", "--name", "张三"],
            &["--ecard", "00ff", "--name", "张三"],
            &["--password", "111111", "--ecard", "00ff"],
        ] {
            assert!(holder_of(bad).is_err(), "{bad:?} accepted");
        }
    }
}
