//! `sscard ecard family add | remove | list`: a holder's family account at the back office
//! (docs/electronic-card.md, "Family accounts"). The holder logs in with name, social security
//! number and e-card password; a member aged 16 or more consents with their own e-card
//! password, a younger one is added by the holder as their guardian (`--guardian`).
//!
//! Passwords are never arguments: a hidden prompt by default, or `--password-from-stdin` (the
//! holder's on the first line, the member's on the second), or files.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde_json::json;
use zeroize::Zeroizing;

use host_tools::screen::escape;
use sscard_platform::ecard::family::client::{log_in_holder, ConsentToAdd, MemberToAdd};
use sscard_platform::ecard::family::{FamilyList, FamilyMember, Relationship};
use sscard_platform::ecard::EcardPassword;

use super::{CliError, Global, Outcome};

/// The longest password file read: a 6-digit password and a line break, with room to spare.
const MAX_PASSWORD_FILE_BYTES: usize = 256;

#[derive(Debug, clap::Subcommand)]
pub enum FamilyCommand {
    /// Add a family member: with their own e-card password (16 or older), or as their guardian.
    Add(AddArgs),
    /// Remove a family member (at once: their codes stop working online).
    Remove(RemoveArgs),
    /// List the family members and the limit.
    List(HolderArgs),
}

/// The holder's login at the back office.
#[derive(Debug, Clone, clap::Args)]
pub struct HolderArgs {
    /// The back office (`sscard platform serve`), e.g. http://127.0.0.1:8620.
    #[arg(long, value_name = "URL", env = "SSCARD_PLATFORM_URL")]
    pub platform: String,
    /// The holder's social security number (ID number).
    #[arg(long, value_name = "SSN")]
    pub ssn: String,
    /// The holder's name, as the registry has it.
    #[arg(long)]
    pub name: String,
    /// Read the holder's e-card password from this file (its first line).
    #[arg(long, value_name = "FILE", conflicts_with = "password_from_stdin")]
    pub password_file: Option<PathBuf>,
    /// Read the passwords from standard input: the holder's on the first line, then the
    /// member's (for `add` with the member's consent) on the second.
    #[arg(long)]
    pub password_from_stdin: bool,
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub holder: HolderArgs,
    /// The member's e-card id (32 hex digits).
    #[arg(long, value_name = "ID", conflicts_with_all = ["member_ssn", "member_name"],
        required_unless_present = "member_ssn")]
    pub member_ecard: Option<String>,
    /// The member's social security number (with --member-name).
    #[arg(long, value_name = "SSN", requires = "member_name")]
    pub member_ssn: Option<String>,
    /// The member's name, as the registry has it.
    #[arg(long, value_name = "NAME", requires = "member_ssn")]
    pub member_name: Option<String>,
    /// What the member is to the holder: spouse, parent, child, grandparent, grandchild,
    /// sibling, or ward (the holder is their legal guardian). Under 16: child or ward.
    #[arg(long, value_parser = parse_relationship)]
    pub relationship: Relationship,
    /// The member is under 16 and the holder adds them as their parent or guardian.
    #[arg(long, conflicts_with = "member_password_file")]
    pub guardian: bool,
    /// Read the member's e-card password (their consent) from this file.
    #[arg(long, value_name = "FILE")]
    pub member_password_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    pub holder: HolderArgs,
    /// The member's e-card id.
    #[arg(value_name = "MEMBER_ECARD_ID")]
    pub member: String,
}

fn parse_relationship(text: &str) -> Result<Relationship, String> {
    Relationship::parse(text).ok_or_else(|| {
        format!("{text:?} is not spouse, parent, child, grandparent, grandchild, sibling or ward")
    })
}

/// Where the passwords come from, each read once.
struct Passwords<'a> {
    holder: &'a HolderArgs,
    stdin_lines: Option<std::io::Lines<std::io::StdinLock<'static>>>,
}

impl<'a> Passwords<'a> {
    fn new(holder: &'a HolderArgs) -> Self {
        Passwords {
            holder,
            stdin_lines: holder
                .password_from_stdin
                .then(|| std::io::stdin().lock().lines()),
        }
    }

    fn next_line(&mut self, whose: &str) -> Result<Zeroizing<String>, CliError> {
        match self.stdin_lines.as_mut().and_then(Iterator::next) {
            Some(Ok(line)) => Ok(Zeroizing::new(line)),
            _ => Err(CliError::Usage(format!(
                "--password-from-stdin: no line with the {whose} e-card password on standard input"
            ))),
        }
    }

    fn holder(&mut self) -> Result<EcardPassword, CliError> {
        let text = match (&self.holder.password_file, self.stdin_lines.is_some()) {
            (Some(path), _) => read_password_file(path)?,
            (None, true) => self.next_line("holder's")?,
            (None, false) => prompt("Holder: e-card password: "),
        };
        password(&text, "the holder's")
    }

    fn member(&mut self, file: Option<&Path>) -> Result<EcardPassword, CliError> {
        let text = match (file, self.stdin_lines.is_some()) {
            (Some(path), _) => read_password_file(path)?,
            (None, true) => self.next_line("member's")?,
            (None, false) => prompt("Member: your e-card password (your consent): "),
        };
        password(&text, "the member's")
    }
}

fn prompt(text: &str) -> Zeroizing<String> {
    Zeroizing::new(rpassword::prompt_password(text).unwrap_or_default())
}

fn read_password_file(path: &Path) -> Result<Zeroizing<String>, CliError> {
    let text = Zeroizing::new(file_structures::input::read_text_bounded(
        path,
        MAX_PASSWORD_FILE_BYTES,
        "an e-card password file",
    )?);
    Ok(Zeroizing::new(
        text.lines().next().unwrap_or_default().to_owned(),
    ))
}

fn password(text: &str, whose: &str) -> Result<EcardPassword, CliError> {
    EcardPassword::new(text.trim())
        .map_err(|_| CliError::Usage(format!("{whose} e-card password is exactly 6 digits")))
}

/// Runs `sscard ecard family ...`.
pub fn run(global: &Global, command: &FamilyCommand) -> Result<Outcome, CliError> {
    let holder_args = match command {
        FamilyCommand::Add(a) => &a.holder,
        FamilyCommand::Remove(a) => &a.holder,
        FamilyCommand::List(a) => a,
    };
    let mut passwords = Passwords::new(holder_args);
    let holder_password = passwords.holder()?;
    // The member's consent is read before the login, so a missing one costs no login.
    let consent = match command {
        FamilyCommand::Add(a) if a.guardian => Some(ConsentToAdd::Guardian),
        FamilyCommand::Add(a) => Some(ConsentToAdd::Own(
            passwords.member(a.member_password_file.as_deref())?,
        )),
        _ => None,
    };
    let login = log_in_holder(
        &holder_args.platform,
        &holder_args.ssn,
        &holder_args.name,
        &holder_password,
        global.answer_timeout,
    )?;
    let holder = &login.ecard.id;
    match (command, consent) {
        (FamilyCommand::List(_), _) => Ok(list_outcome(
            &login.ecard.name,
            holder,
            &login.client.ecard_family(holder)?,
        )),
        (FamilyCommand::Add(a), Some(consent)) => {
            let member = match (&a.member_ecard, &a.member_ssn, &a.member_name) {
                (Some(id), _, _) => MemberToAdd::Ecard(id.clone()),
                (None, Some(ssn), Some(name)) => MemberToAdd::Person {
                    ssn: ssn.clone(),
                    name: name.clone(),
                },
                _ => {
                    return Err(CliError::Usage(
                        "name the member: --member-ecard, or --member-ssn with --member-name"
                            .into(),
                    ))
                }
            };
            let added = login
                .client
                .ecard_family_add(holder, &member, a.relationship, &consent)?;
            Ok(added_outcome(holder, &added))
        }
        (FamilyCommand::Add(_), None) => Err(CliError::Usage("no consent given".into())),
        (FamilyCommand::Remove(a), _) => {
            let removed = login.client.ecard_family_remove(holder, &a.member)?;
            Ok(Outcome::new(
                format!(
                    "Removed e-card {} from the family of e-card {} at {}.\n",
                    escape(&removed.member),
                    escape(&removed.holder),
                    escape(&removed.removed_at)
                ),
                json!({"removed": removed}),
            ))
        }
    }
}

fn member_line(m: &FamilyMember) -> String {
    format!(
        "  {}  {}  consent: {}  e-card {}  added {}\n",
        escape(&m.name),
        m.relationship.as_str(),
        m.consent.as_str(),
        escape(&m.ecard_id),
        escape(&m.added_at)
    )
}

fn list_outcome(name: &str, holder: &str, family: &FamilyList) -> Outcome {
    let mut text = format!(
        "Family of {} (e-card {}): {} of at most {} members\n",
        escape(name),
        escape(holder),
        family.members.len(),
        family.limit
    );
    for m in &family.members {
        text.push_str(&member_line(m));
    }
    Outcome::new(
        text,
        json!({"holder": holder, "limit": family.limit, "members": family.members}),
    )
}

fn added_outcome(holder: &str, member: &FamilyMember) -> Outcome {
    Outcome::new(
        format!(
            "Added to the family of e-card {}:\n{}",
            escape(holder),
            member_line(member)
        ),
        json!({"holder": holder, "added": member}),
    )
}
