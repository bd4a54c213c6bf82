//! `sscard platform`: the back office (docs/back-office.md). `serve` runs the service; the
//! other commands administer the registry in the database directly (`--db`), as the back
//! office's staff do, each change in the event log under `cli:` and the operator's name.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::json;

use host_tools::interface::hsm::Hsm;
use host_tools::screen::escape;
use host_tools::services::hsm::{hsm_router, HsmState};
use sscard_platform::api::{require_terminal, TerminalGate};
use sscard_platform::auth::Role;
use sscard_platform::model::{
    AccountChange, CardRegistration, CardStatus, Insurance, InsuranceChange,
};
use sscard_platform::registry::{Action, Actor};
use sscard_platform::{PlatformError, Store};

use super::inputs::{read_batch, EncodingArg, KeyArgs};
use super::{CliError, Global, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum PlatformCommand {
    /// Run the back office: the registry's API under /api/v1/, the admin page at /admin.
    Serve(ServeArgs),
    /// Add a terminal credential (outlet, hospital or admin; its token is printed once), or
    /// revoke one (`terminal revoke ID`).
    Terminal(TerminalArgs),
    /// Register the cards of a personalisation batch (the CSV or JSONL `sscard personalise` reads).
    Register(RegisterArgs),
    /// Show a card's status and what it may do now.
    Status(CardArgs),
    /// Show a card's history: every event, who, when, from which terminal.
    History(CardArgs),
    /// Report a card lost (temporarily, then formally), or found again.
    Loss(LossArgs),
    /// Cancel a card.
    Cancel(CancelArgs),
    /// Record contributions paid through a month, or suspend medical insurance.
    Insurance(InsuranceArgs),
    /// Set a card's account mode (online: the back office's account pays) and balance.
    Account(AccountArgs),
    /// Check the registry's invariants (one card in use per person, events for every change).
    Check(DbArgs),
    /// Show or set the most family members an e-card holder may have (family_max_members).
    FamilyLimit(FamilyLimitArgs),
}

#[derive(Debug, clap::Args)]
pub struct FamilyLimitArgs {
    /// The new limit, 0 to 10 (public sources say 8 or 10); without it, the limit in force.
    #[arg(value_name = "MEMBERS",
        value_parser = clap::value_parser!(u32).range(0..=i64::from(sscard_platform::ecard::family::FAMILY_MAX_MEMBERS_CEILING)))]
    pub limit: Option<u32>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// The database: sqlite:FILE, a file path, or postgres://user:password@host/db
    /// (default: sscard-platform.db in the working directory).
    #[arg(long, value_name = "URL", env = "SSCARD_PLATFORM_DB")]
    pub db: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default).
    #[arg(long, value_name = "ADDR", default_value = sscard_platform::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: DbArgs,
    /// Issuer master keys the uploaded TACs are checked with (default: the TEST keys); the HSM
    /// endpoints (/api/v1/hsm/..., for any terminal credential) compute with the same keys.
    #[command(flatten)]
    pub keys: KeyArgs,
    /// The SM2 key e-card QR codes are signed with (PKCS#8 PEM or 64 hex digits). Without it,
    /// sscard-ecard-key.pem beside the SQLite database (the working directory for PostgreSQL),
    /// generated (mode 0600) on the first start.
    #[arg(long, value_name = "FILE")]
    pub ecard_key: Option<PathBuf>,
    /// How long an e-card QR code is valid, in seconds (the setting qr_validity_secs).
    #[arg(long, value_name = "SECS", default_value_t = 60,
        value_parser = clap::value_parser!(u16).range(5..=300))]
    pub qr_validity: u16,
}

/// `platform terminal --id ID --role ROLE` adds a credential; `platform terminal revoke ID`
/// revokes one.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct TerminalArgs {
    #[command(subcommand)]
    pub action: Option<TerminalAction>,
    /// The terminal's id (letters, digits, - _ .).
    #[arg(long, required = true)]
    pub id: Option<String>,
    /// outlet, hospital or admin.
    #[arg(long, value_parser = parse_role, required = true)]
    pub role: Option<Role>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum TerminalAction {
    /// Revoke a terminal's credential: every request bearing it is refused from then on (a
    /// running service trusts a credential it checked for at most 1 s).
    Revoke {
        /// The terminal's id.
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("{text:?} is not outlet, hospital or admin"))
}

#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
    /// The batch: .csv (header row of field ids) or .jsonl; fields card_number, card_id_code,
    /// ssn, name, issue_date, expiry_date (and optionally online_mode = 1).
    #[arg(long, value_name = "FILE")]
    pub batch: PathBuf,
    /// The cards' national version.
    #[arg(long, default_value = "3.0", value_parser = ["2.0", "3.0"])]
    pub version: String,
    /// The card each new card replaces, when the batch is one replacement card.
    #[arg(long, value_name = "CARD_NUMBER")]
    pub supersedes: Option<String>,
    #[command(flatten)]
    pub encoding: EncodingArg,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, clap::Args)]
pub struct CardArgs {
    /// The card number.
    #[arg(value_name = "CARD_NUMBER")]
    pub card_number: String,
    /// The day to judge on, YYYYMMDD (default: today).
    #[arg(long, value_name = "YYYYMMDD")]
    pub today: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LossKindArg {
    Temporary,
    Formal,
    Found,
}

#[derive(Debug, clap::Args)]
pub struct LossArgs {
    /// The card number.
    #[arg(value_name = "CARD_NUMBER")]
    pub card_number: String,
    #[arg(long, value_enum)]
    pub kind: LossKindArg,
    #[arg(long)]
    pub note: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    /// The card number.
    #[arg(value_name = "CARD_NUMBER")]
    pub card_number: String,
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, clap::Args)]
pub struct InsuranceArgs {
    /// The holder's social security number.
    pub ssn: String,
    /// Contributions paid through this month (lifts a suspension).
    #[arg(long, value_name = "YYYYMM", conflicts_with_all = ["suspend_since", "reason"])]
    pub paid_through: Option<String>,
    /// Suspend medical insurance from this date ...
    #[arg(long, value_name = "YYYYMMDD", requires = "reason")]
    pub suspend_since: Option<String>,
    /// ... for this reason.
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, clap::Args)]
pub struct AccountArgs {
    /// The card number.
    #[arg(value_name = "CARD_NUMBER")]
    pub card_number: String,
    /// Online mode: the back office's medical account pays.
    #[arg(long)]
    pub online: bool,
    /// The account balance, in fen.
    #[arg(long, value_name = "FEN", default_value_t = 0)]
    pub balance: i64,
    #[command(flatten)]
    pub db: DbArgs,
}

/// Who the admin commands act as: `cli:` and the operator's login name.
fn operator() -> Actor {
    let user = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    let user: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(32)
        .collect();
    Actor::new(format!("cli:{user}"))
}

/// Runs `f` against the store `db` names, on a runtime of its own.
fn with_store<T>(
    db: &DbArgs,
    f: impl AsyncFnOnce(&Store) -> Result<T, PlatformError>,
) -> Result<T, CliError> {
    let runtime = sscard_platform::runtime().map_err(CliError::Output)?;
    let url = sscard_platform::db_url(db.db.as_deref());
    Ok(runtime.block_on(async {
        let store = Store::open(&url).await?;
        f(&store).await
    })?)
}

pub fn run(global: &Global, command: &PlatformCommand) -> Result<Outcome, CliError> {
    match command {
        PlatformCommand::Serve(args) => serve(global, args),
        PlatformCommand::Terminal(TerminalArgs {
            action: Some(TerminalAction::Revoke { id, db }),
            ..
        }) => {
            let revoked = with_store(db, async |s| s.revoke_terminal(id, &operator()).await)?;
            let text = if revoked.already_revoked {
                format!("terminal {} was revoked already", escape(&revoked.id))
            } else {
                format!(
                    "terminal {} ({}) revoked: its credential is refused from now on (by a running service within {} s)",
                    escape(&revoked.id),
                    revoked.role.as_str(),
                    sscard_platform::api::CREDENTIAL_CACHE_TTL.as_secs()
                )
            };
            Ok(Outcome::new(text, json!(revoked)))
        }
        PlatformCommand::Terminal(args) => {
            let (Some(id), Some(role)) = (&args.id, args.role) else {
                return Err(CliError::Usage(
                    "give --id ID --role outlet|hospital|admin, or: terminal revoke ID".into(),
                ));
            };
            let credential = with_store(&args.db, async |s| {
                s.add_terminal(id, role, &operator()).await
            })?;
            Ok(Outcome::new(
                format!(
                    "terminal {} ({}) added; its token, shown once:\n{}",
                    escape(&credential.id),
                    credential.role.as_str(),
                    credential.token
                ),
                json!(credential),
            ))
        }
        PlatformCommand::Register(args) => register(args),
        PlatformCommand::Status(args) => {
            let status = with_store(&args.db, async |s| {
                s.card_status(&args.card_number, args.today.as_deref(), None)
                    .await
            })?;
            Ok(Outcome::new(render_status(&status), json!(status)))
        }
        PlatformCommand::History(args) => {
            let events = with_store(&args.db, async |s| s.history(&args.card_number).await)?;
            let mut text = format!("history of card {}\n", escape(&args.card_number));
            for e in &events {
                text.push_str(&format!(
                    "{:>5}  {}  {:<26} {} {}  {}\n",
                    e.id,
                    e.at,
                    escape(&e.kind),
                    escape(&e.actor),
                    e.terminal.as_deref().map(escape).unwrap_or_default(),
                    escape(&e.detail.to_string())
                ));
            }
            Ok(Outcome::new(text, json!(events)))
        }
        PlatformCommand::Loss(args) => {
            let action = match args.kind {
                LossKindArg::Temporary => Action::LossTemporary,
                LossKindArg::Formal => Action::LossFormal,
                LossKindArg::Found => Action::Found,
            };
            let change = with_store(&args.db, async |s| {
                s.change_state(
                    &args.card_number,
                    action,
                    args.note.as_deref(),
                    &operator(),
                    None,
                )
                .await
            })?;
            Ok(Outcome::new(
                format!(
                    "card {}: {} -> {}",
                    escape(&change.card_number),
                    change.from.as_str(),
                    change.to.as_str()
                ),
                json!(change),
            ))
        }
        PlatformCommand::Cancel(args) => {
            let change = with_store(&args.db, async |s| {
                s.change_state(
                    &args.card_number,
                    Action::Cancel,
                    Some(&args.reason),
                    &operator(),
                    None,
                )
                .await
            })?;
            Ok(Outcome::new(
                format!(
                    "card {}: {} -> cancelled",
                    escape(&change.card_number),
                    change.from.as_str()
                ),
                json!(change),
            ))
        }
        PlatformCommand::Insurance(args) => {
            let change = match (&args.paid_through, &args.suspend_since, &args.reason) {
                (Some(through), None, None) => InsuranceChange::Paid {
                    through: through.clone(),
                },
                (None, Some(since), Some(reason)) => InsuranceChange::Suspend {
                    since: since.clone(),
                    reason: reason.clone(),
                },
                _ => {
                    return Err(CliError::Usage(
                        "give --paid-through YYYYMM, or --suspend-since YYYYMMDD with --reason"
                            .into(),
                    ))
                }
            };
            let id = with_store(&args.db, async |s| {
                s.change_insurance(&args.ssn, &change, &operator()).await
            })?;
            Ok(Outcome::new(
                format!("recorded (event {id})"),
                json!({ "event_id": id, "change": change }),
            ))
        }
        PlatformCommand::Account(args) => {
            let change = AccountChange {
                online_mode: args.online,
                balance_fen: args.balance,
            };
            let id = with_store(&args.db, async |s| {
                s.change_account(&args.card_number, &change, &operator())
                    .await
            })?;
            Ok(Outcome::new(
                format!("recorded (event {id})"),
                json!({ "event_id": id, "change": change }),
            ))
        }
        PlatformCommand::FamilyLimit(args) => {
            let limit = with_store(&args.db, async |s| {
                if let Some(limit) = args.limit {
                    s.set_family_max_members(limit, &operator()).await?;
                }
                s.family_max_members().await
            })?;
            Ok(Outcome::new(
                format!("family_max_members: {limit}\n"),
                json!({ "family_max_members": limit }),
            ))
        }
        PlatformCommand::Check(db) => {
            let problems = with_store(db, async |s| s.invariant_violations().await)?;
            let text = if problems.is_empty() {
                "the registry's invariants hold".to_owned()
            } else {
                problems.join("\n")
            };
            let mut outcome = Outcome::new(text, json!({ "violations": problems }));
            if !problems.is_empty() {
                outcome.failure = Some(CliError::Usage(format!(
                    "{} invariant(s) of the registry do not hold",
                    problems.len()
                )));
            }
            Ok(outcome)
        }
    }
}

/// Who may call the HSM endpoints mounted in the back office: any terminal (an outlet
/// activates, a hospital settles, both through the national interface's HSM functions).
const HSM_ROLES: &[Role] = &[Role::Outlet, Role::Hospital, Role::Admin];

fn serve(global: &Global, args: &ServeArgs) -> Result<Outcome, CliError> {
    let keys = args
        .keys
        .load(true)?
        .ok_or_else(|| CliError::Usage("no issuer keys".into()))?;
    let label = super::inputs::keys_label(&keys);
    let url = sscard_platform::db_url(args.db.db.as_deref());
    let json = global.json;
    // The HSM service of the reader-interface issue, mounted in the same server behind the
    // terminal credentials of the rest of the service.
    let hsm_keys = args
        .keys
        .load(true)?
        .ok_or_else(|| CliError::Usage("no issuer keys".into()))?;
    let hsm = hsm_router(HsmState::behind_service(std::sync::Arc::new(Hsm::new(
        hsm_keys.keys,
    ))));
    // The data directory: the SQLite file's, or the working directory for PostgreSQL.
    let data_dir = url
        .strip_prefix("sqlite:")
        .map(|path| path.split('?').next().unwrap_or(path))
        .and_then(|path| std::path::Path::new(path).parent())
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf);
    let ecard = |state: &sscard_platform::AppState| {
        let service = sscard_platform::ecard::api::EcardService::start(
            state.store.clone(),
            &data_dir,
            args.ecard_key.as_deref(),
            args.qr_validity,
        )?;
        let gate = TerminalGate {
            state: state.clone(),
            roles: HSM_ROLES,
        };
        let hsm = hsm.route_layer(axum::middleware::from_fn_with_state(gate, require_terminal));
        Ok(Some(
            sscard_platform::ecard::api::router(service).merge(hsm),
        ))
    };
    sscard_platform::run_with(args.listen, &url, keys.keys, ecard, |addr, store| {
        let backend = format!("{:?}", store.backend()).to_lowercase();
        if json {
            // One line (programs wait for it): our own words only, nothing from a file or card.
            let ready = json!({
                "listening": format!("http://{addr}"), "backend": backend, "keys": label,
                "hsm": true,
            });
            println!("{ready}");
        } else {
            super::output::eprint_line(&format!(
                "sscard platform: listening on http://{addr} ({backend}; {label}; HSM endpoints mounted)"
            ));
        }
    })?;
    Ok(Outcome::new("stopped".into(), json!({ "stopped": true })))
}

fn field<'a>(
    record: &'a file_structures::personalise::CardRecord,
    id: &str,
) -> Result<&'a str, CliError> {
    record.values.get(id).map(String::as_str).ok_or_else(|| {
        CliError::Usage(format!(
            "{}: the field {id} is missing (the registry needs it)",
            record.label
        ))
    })
}

fn register(args: &RegisterArgs) -> Result<Outcome, CliError> {
    let mut cards = Vec::new();
    for record in read_batch(&args.batch, args.encoding.encoding)?.records {
        let record = record.map_err(CliError::Record)?;
        cards.push(CardRegistration {
            card_number: field(&record, "card_number")?.to_owned(),
            card_id_code: field(&record, "card_id_code")?.to_owned(),
            ssn: field(&record, "ssn")?.to_owned(),
            name: field(&record, "name")?.to_owned(),
            issue_date: field(&record, "issue_date")?.to_owned(),
            expiry_date: field(&record, "expiry_date")?.to_owned(),
            version: args.version.clone(),
            online_mode: record.values.get("online_mode").is_some_and(|v| v == "1"),
            supersedes: args.supersedes.clone(),
        });
    }
    let mut outcome = sscard_platform::model::RegisterOutcome {
        results: Vec::new(),
    };
    for chunk in cards.chunks(sscard_platform::registry::MAX_REGISTER_CARDS) {
        let part = with_store(&args.db, async |s| {
            s.register_cards(chunk, &operator()).await
        })?;
        outcome.results.extend(part.results);
    }
    let mut text = String::new();
    for r in &outcome.results {
        text.push_str(&format!(
            "{:<20} {}{}\n",
            escape(&r.card_number),
            r.outcome,
            r.detail
                .as_deref()
                .map(|d| format!(": {}", escape(d)))
                .unwrap_or_default()
        ));
    }
    let refused = outcome
        .results
        .iter()
        .filter(|r| r.outcome == "refused")
        .count();
    text.push_str(&format!(
        "{} card(s), {refused} refused",
        outcome.results.len()
    ));
    let mut result = Outcome::new(text, json!(outcome));
    if refused > 0 {
        result.failure = Some(CliError::PlatformRefusedCards { refused });
    }
    Ok(result)
}

fn render_status(s: &CardStatus) -> String {
    let insurance = match &s.insurance {
        Insurance::NotRecorded => "not recorded".to_owned(),
        Insurance::Paid { through } => format!("contributions paid through {through}"),
        Insurance::Suspended { since, reason } => {
            format!("suspended since {since}: {}", escape(reason))
        }
    };
    let mut text = format!(
        "card {} ({} {}), holder {} ({})\n  state            {}\n  issued           {}, valid until {}\n  insurance        {insurance}\n  medical status   {:?}\n  may              identify {}, settle {}, activate {}\n",
        escape(&s.card_number),
        escape(&s.region),
        escape(&s.version),
        escape(&s.name),
        escape(&s.ssn),
        s.state.as_str(),
        s.issue_date,
        s.expiry_date,
        s.medical_status,
        s.may.identify,
        s.may.settle,
        s.may.activate,
    );
    for r in &s.may.refusals {
        text.push_str(&format!(
            "  refused          {}: {}\n",
            r.code,
            escape(&r.reason)
        ));
    }
    text
}
