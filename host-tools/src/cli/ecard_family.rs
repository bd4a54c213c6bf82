//! `sscard ecard family add | remove | list`: a holder's family account at the back office
//! (docs/electronic-card.md, "Family accounts"). The holder logs in as for every holder
//! command ([`HolderArgs`]); a member aged 16 or more consents with their own e-card password,
//! a younger one is added by the holder as their guardian (`--guardian`).
//!
//! Passwords are never arguments: each is asked hidden, or read from a file
//! (`--password-file`, `--member-password-file`; `-` is standard input, `/dev/fd/N` a
//! descriptor, so a script passes both without a file on disk).

use std::path::{Path, PathBuf};

use serde_json::json;

use host_tools::screen::escape;
use sscard_platform::ecard::family::client::{ConsentToAdd, MemberToAdd};
use sscard_platform::ecard::family::{FamilyList, FamilyMember, Relationship};

use super::ecard_holder::{read_password, HolderArgs};
use super::{CliError, Global, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum FamilyCommand {
    /// Add a family member: with their own e-card password (16 or older), or as their guardian.
    Add(AddArgs),
    /// Remove a family member (at once: their codes stop working online).
    Remove(RemoveArgs),
    /// List the family members and the limit.
    List(HolderArgs),
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
    /// Read the member's e-card password (their consent) from the first line of FILE (`-`:
    /// standard input; `/dev/fd/N`: an open descriptor). Without it, it is asked hidden.
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

/// The member's consent password; standard input serves one password only.
fn member_password(
    holder: &HolderArgs,
    file: Option<&Path>,
) -> Result<sscard_platform::ecard::EcardPassword, CliError> {
    let stdin = Path::new("-");
    if file == Some(stdin) && holder.password.password_file.as_deref() == Some(stdin) {
        return Err(CliError::Usage(
            "standard input serves one password: give the member's as --member-password-file /dev/fd/N or a file"
                .into(),
        ));
    }
    read_password(file, "Member: your e-card password (your consent): ")
}

/// Runs `sscard ecard family ...`.
pub fn run(global: &Global, command: &FamilyCommand) -> Result<Outcome, CliError> {
    let holder_args = match command {
        FamilyCommand::Add(a) => &a.holder,
        FamilyCommand::Remove(a) => &a.holder,
        FamilyCommand::List(a) => a,
    };
    let holder_password = holder_args.password()?;
    // The member's consent is read before the login, so a missing one costs no login.
    let consent = match command {
        FamilyCommand::Add(a) if a.guardian => Some(ConsentToAdd::Guardian),
        FamilyCommand::Add(a) => Some(ConsentToAdd::Own(member_password(
            holder_args,
            a.member_password_file.as_deref(),
        )?)),
        _ => None,
    };
    let login = holder_args.log_in(global, &holder_password)?;
    drop(holder_password);
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
