//! `sscard activate`: bank-outlet activation of a new card (docs/activation.md).

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use card_os::crypto::Pin;
use host_tools::card::info::version_from_atr;
use host_tools::jobs::activation::{
    self, psam::psam_image, rules, ActivationError, Identity, InputError, Journal, LostList,
    PinSource, PsamModule, Receipt, SecurityModule, SoftwareModule, Terminal,
};
use host_tools::jobs::diagnose::Day;
use host_tools::transport::pcsc::{PcscOptions, PcscTransport, ReaderChoice};
use host_tools::transport::sim::SimTransport;
use host_tools::transport::CardTransport;
use sscard_platform::BlacklistCache;

use super::inputs::{KeyArgs, LayoutArgs, PlatformArgs};
use super::{connect, CliError, Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct ActivateArgs {
    #[command(flatten)]
    pub layout: LayoutArgs,
    /// The ID number on the holder's identity document (asked for when not given).
    #[arg(long, value_name = "ID")]
    pub id_number: Option<String>,
    /// The name on the holder's identity document (asked for when not given).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The bank outlet's code, written on the card.
    #[arg(long, value_name = "CODE")]
    pub outlet: String,
    /// This terminal's id, written on the card.
    #[arg(long = "terminal", value_name = "ID")]
    pub terminal_id: String,
    /// The terminal's activation journal (JSON lines, one file per terminal).
    #[arg(long, value_name = "FILE")]
    pub journal: PathBuf,
    /// Today's date, YYYYMMDD (default: the system's date, UTC).
    #[arg(long, value_name = "YYYYMMDD")]
    pub date: Option<String>,
    /// The lost/cancelled card list: card numbers, one a line, `#` comments.
    #[arg(long, value_name = "FILE")]
    pub lost_list: Option<PathBuf>,
    /// Software security module: the issuer key file (TEST keys only) or --test-keys.
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Security module: a PSAM in this PC/SC reader (name or number).
    #[arg(long, value_name = "NAME|INDEX", conflicts_with_all = ["keys", "test_keys", "psam_card"])]
    pub psam_reader: Option<ReaderChoice>,
    /// Security module: a simulated PSAM card image (made by `sscard sim new --psam`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["keys", "test_keys"])]
    pub psam_card: Option<PathBuf>,
    /// Read the new PIN twice from standard input, one line each (for programs; no echo issue).
    #[arg(long)]
    pub pin_from_stdin: bool,
    /// UNSAFE, for tests only: the new PIN on the command line (visible to other users).
    #[arg(
        long,
        value_name = "PIN",
        hide = true,
        conflicts_with = "pin_from_stdin"
    )]
    pub unsafe_new_pin: Option<String>,
    /// The back office: its blacklist joins the lost list (cached beside the journal for when
    /// it does not answer), and the activation is recorded in its registry.
    #[command(flatten)]
    pub platform: PlatformArgs,
}

/// Today's date (UTC) from the system clock, YYYYMMDD.
fn today() -> String {
    let Day { year, month, day } = Day::today();
    format!("{year:04}{month:02}{day:02}")
}

/// How the holder's PIN is entered.
enum Pins {
    Hidden,
    Stdin,
    Given(String),
}

impl PinSource for Pins {
    fn new_pin(&mut self, initial: &str) -> Result<Pin, InputError> {
        let (first, second) = match self {
            Pins::Given(pin) => (
                zeroize::Zeroizing::new(pin.clone()),
                zeroize::Zeroizing::new(pin.clone()),
            ),
            Pins::Stdin => {
                let mut lines = std::io::stdin().lock().lines();
                let mut next = || {
                    zeroize::Zeroizing::new(lines.next().and_then(Result::ok).unwrap_or_default())
                };
                (next(), next())
            }
            Pins::Hidden => {
                let ask = |prompt: &str| {
                    zeroize::Zeroizing::new(rpassword::prompt_password(prompt).unwrap_or_default())
                };
                (ask("Holder: new PIN: "), ask("Holder: the new PIN again: "))
            }
        };
        rules::new_pin(&first, &second, initial)
    }
}

fn ask(prompt: &str) -> String {
    eprint!("{prompt}");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.trim().to_owned()
}

/// The receipt for the holder.
pub fn receipt_text(r: &Receipt) -> String {
    let mut text = String::from("社会保障卡激活回执 / Social security card activation receipt\n");
    let rows = [
        ("卡号 card number", r.card_number.clone()),
        ("姓名 name", r.name.clone()),
        ("激活日期 activation date", r.activation_date.clone()),
        ("网点 outlet", r.outlet.clone()),
        ("终端 terminal", r.terminal.clone()),
        ("医保功能 medical insurance", r.medical_insurance.clone()),
        ("流水 attempt", r.attempt.clone()),
    ];
    for (k, v) in rows {
        text.push_str(&format!("  {k}: {}\n", host_tools::screen::escape(&v)));
    }
    if r.resumed {
        text.push_str("  (an interrupted activation was completed)\n");
    }
    text.push_str(&format!(
        "  security module: {}\n",
        host_tools::screen::escape(&r.security_module)
    ));
    text
}

fn module(
    global: &Global,
    args: &ActivateArgs,
    layout: &file_structures::layout::Layout,
) -> Result<Box<dyn SecurityModule>, CliError> {
    if let Some(reader) = &args.psam_reader {
        let transport = PcscTransport::open(&PcscOptions {
            reader: Some(reader.clone()),
            wait: Duration::from_millis(global.timeout_ms),
            answer_timeout: global.answer_timeout,
            ..PcscOptions::default()
        })?;
        return Ok(Box::new(
            PsamModule::open(transport).map_err(ActivationError::from)?,
        ));
    }
    if let Some(path) = &args.psam_card {
        let transport = super::connect::sim_image(global, path)?;
        return Ok(Box::new(
            PsamModule::open(transport).map_err(ActivationError::from)?,
        ));
    }
    let _ = layout;
    let keys = args.keys.load(false)?.ok_or_else(|| {
        CliError::Usage(
            "give a security module: --keys FILE, --test-keys, --psam-reader or --psam-card".into(),
        )
    })?;
    Ok(Box::new(
        SoftwareModule::new(keys.keys).map_err(ActivationError::from)?,
    ))
}

/// The demo's last step: the demo card activated at a simulated outlet whose terminal holds a
/// simulated PSAM (TEST keys) for the card's region; the journal in a temporary file.
pub fn demo_activation<T: CardTransport>(
    client: &mut host_tools::protocol::client::Client<T>,
    layout: &file_structures::layout::Layout,
    holder: &file_structures::personalise::CardRecord,
) -> Result<(String, serde_json::Value), CliError> {
    let keys = file_structures::personalise::IssuerKeys::test_keys().map_err(CliError::Keys)?;
    let code = hex::decode(holder.values.get("card_id_code").map_or("", String::as_str))
        .unwrap_or_default();
    let region: [u8; 3] = code
        .get(..3)
        .and_then(|r| r.try_into().ok())
        .ok_or_else(|| CliError::Usage("the demo holder has no card identification code".into()))?;
    let psam = psam_image(layout, &keys, &region).map_err(|e| CliError::Usage(e.to_string()))?;
    let mut module =
        PsamModule::open(SimTransport::in_memory(psam)?).map_err(ActivationError::from)?;
    let dir = std::env::temp_dir().join(format!("sscard-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| CliError::CreateFile {
        path: dir.display().to_string(),
        source,
    })?;
    let journal_path = dir.join("terminal-journal.jsonl");
    let result = (|| -> Result<Receipt, CliError> {
        let mut journal = Journal::open(&journal_path).map_err(ActivationError::from)?;
        let identity = Identity::new(
            holder.values.get("ssn").map_or("", String::as_str),
            holder.values.get("name").map_or("", String::as_str),
        )
        .map_err(ActivationError::from)?;
        let terminal = Terminal {
            outlet: "DEMO-OUTLET-01".into(),
            terminal_id: "DEMO-T1".into(),
            date: "20240401".into(),
            lost: LostList::default(),
        };
        // The demo's holder "types" a PIN; a real terminal asks for it twice, hidden.
        let mut pins = Pins::Given("135790".into());
        Ok(activation::activate(
            client,
            &mut module,
            layout,
            &terminal,
            &identity,
            &mut pins,
            &mut journal,
        )?)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    let receipt = result?;
    Ok((receipt_text(&receipt), json!(receipt)))
}

/// The blacklist cache of the terminal whose journal is `journal`: `<journal>.blacklist.json`.
fn blacklist_cache_path(journal: &std::path::Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".blacklist.json");
    PathBuf::from(name)
}

/// The back office's blacklist, brought up to date when it answers; the cached copy when not
/// (with a warning on stderr).
fn platform_blacklist(
    client: &sscard_platform::Client,
    journal: &std::path::Path,
    json: bool,
) -> Result<BlacklistCache, CliError> {
    let path = blacklist_cache_path(journal);
    let mut cache = BlacklistCache::load(&path)?;
    match cache.sync(client) {
        Ok(_) => cache.save(&path)?,
        Err(e) => {
            if !json {
                super::output::eprint_line(&format!(
                    "sscard: warning: the back office's blacklist could not be brought up to date \
                     ({e}); using the copy of version {}",
                    cache.version
                ));
            }
        }
    }
    Ok(cache)
}

/// Records the activation in the registry, keyed by the journal's attempt id: a repeat after a
/// lost answer applies nothing twice.
fn record_in_registry(
    client: &sscard_platform::Client,
    card: &str,
    attempt: &str,
    date: &str,
    outlet: &str,
    terminal: &str,
    ssn: &str,
) -> Result<sscard_platform::model::ActivationOutcome, CliError> {
    let request = sscard_platform::model::ActivationRequest {
        date: date.chars().filter(char::is_ascii_digit).collect(),
        outlet: outlet.into(),
        terminal: terminal.into(),
        card_id_code: None,
        ssn: Some(ssn.into()),
    };
    client
        .record_activation(card, &request, attempt)
        .map_err(|source| CliError::NotRecorded {
            card: card.into(),
            source,
        })
}

pub fn run(global: &Global, args: &ActivateArgs) -> Result<Outcome, CliError> {
    let date =
        rules::date(&args.date.clone().unwrap_or_else(today)).map_err(ActivationError::from)?;
    let platform = args.platform.client(global.answer_timeout)?;
    let mut lost = match &args.lost_list {
        Some(path) => LostList::load(path).map_err(ActivationError::from)?,
        None => LostList::default(),
    };
    if let Some(client) = &platform {
        let cache = platform_blacklist(client, &args.journal, global.json)?;
        lost = lost.with(cache.listed);
    }
    let id_number = args
        .id_number
        .clone()
        .unwrap_or_else(|| ask("Document: ID number: "));
    let name = args.name.clone().unwrap_or_else(|| ask("Document: name: "));
    let identity = Identity::new(&id_number, &name).map_err(ActivationError::from)?;
    let mut pins = match (&args.unsafe_new_pin, args.pin_from_stdin) {
        (Some(pin), _) => Pins::Given(pin.clone()),
        (None, true) => Pins::Stdin,
        (None, false) => Pins::Hidden,
    };
    let mut client = connect::open(global)?;
    let layout = args.layout.load(version_from_atr(&client.atr()))?;
    let mut module = module(global, args, &layout)?;
    let mut journal = Journal::open(&args.journal).map_err(ActivationError::from)?;
    let terminal = Terminal {
        outlet: args.outlet.clone(),
        terminal_id: args.terminal_id.clone(),
        date,
        lost,
    };
    // With the back office: the card's full status, asked with the number read from the card.
    let mut approve = |card: &str| -> Result<(), ActivationError> {
        let Some(platform) = &platform else {
            return Ok(());
        };
        if let Some(why) = activation::registry::approve(platform, card, &terminal.date)? {
            if !global.json {
                super::output::eprint_line(&format!(
                    "sscard: warning: the registry was not asked about card {} ({why}); the cached blacklist was checked",
                    host_tools::screen::escape(card)
                ));
            }
        }
        Ok(())
    };
    let result = activation::activate_approved(
        &mut client,
        module.as_mut(),
        &layout,
        &terminal,
        &identity,
        &mut pins,
        &mut journal,
        &mut approve,
    );
    let _ = client.transport_mut().power_off();
    let Some(platform) = &platform else {
        let receipt = result?;
        let json = json!({ "activated": true, "receipt": receipt, "journal": args.journal.display().to_string() });
        return Ok(Outcome::new(receipt_text(&receipt), json));
    };
    match result {
        Ok(receipt) => {
            let recorded = record_in_registry(
                platform,
                &receipt.card_number,
                &receipt.attempt,
                &receipt.activation_date,
                &receipt.outlet,
                &receipt.terminal,
                &id_number,
            )?;
            let text = format!(
                "{}  registry: recorded (event {}){}\n",
                receipt_text(&receipt),
                recorded.event_id,
                if recorded.activation.late {
                    ", a late activation (past six months)"
                } else {
                    ""
                }
            );
            let json = json!({ "activated": true, "receipt": receipt, "registry": recorded,
                "journal": args.journal.display().to_string() });
            Ok(Outcome::new(text, json))
        }
        // Activated here before, and the registry's answer was lost then: record it now.
        Err(ActivationError::AlreadyActivated { card, details }) => {
            let ours = journal
                .entries()
                .iter()
                .rev()
                .find(|e| e.card == card && e.step == activation::Step::Activated)
                .cloned();
            let Some(entry) = ours else {
                return Err(ActivationError::AlreadyActivated { card, details }.into());
            };
            let recorded = record_in_registry(
                platform,
                &card,
                &entry.attempt,
                &entry.date,
                &args.outlet,
                &args.terminal_id,
                &id_number,
            )?;
            let text = format!(
                "card {} was activated by this terminal (attempt {}); registry: recorded (event {})\n",
                host_tools::screen::escape(&card),
                host_tools::screen::escape(&entry.attempt),
                recorded.event_id
            );
            let json = json!({ "activated": true, "resumed": true, "attempt": entry.attempt,
                "registry": recorded, "journal": args.journal.display().to_string() });
            Ok(Outcome::new(text, json))
        }
        Err(e) => Err(e.into()),
    }
}
