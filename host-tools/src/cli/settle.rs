//! `sscard settle`, `sscard load`, `sscard records`: the settlement terminal (docs/settlement.md,
//! chapters 7 to 10).

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use card_os::crypto::Pin;
use host_tools::card::info::version_from_atr;
use host_tools::jobs::activation::{psam::psam_image, LostList, PsamModule, SoftwareModule};
use host_tools::jobs::settlement::registry::{CardApproval, NoApproval, RegistryApproval};
use host_tools::jobs::settlement::{
    self, fen_to_yuan, yuan_to_fen, Amounts, Kind, Outlet, PinEntry, PurchaseRequest, PurseState,
    Receipt, SettleError, SettlementJournal, Terminal, TradeTime,
};
use host_tools::protocol::client::Client;
use host_tools::screen::escape;
use host_tools::transport::pcsc::{PcscOptions, PcscTransport, ReaderChoice};
use host_tools::transport::sim::SimTransport;
use host_tools::transport::CardTransport;

use super::inputs::{KeyArgs, LayoutArgs, PlatformArgs};
use super::{connect, CliError, Global, Outcome};

/// How the holder's PIN is entered (hidden by default).
#[derive(Debug, Clone, clap::Args)]
pub struct PinArgs {
    /// Read the holder's PIN from standard input, one line (for programs).
    #[arg(long)]
    pub pin_from_stdin: bool,
    /// UNSAFE, for tests only: the PIN on the command line (visible to other users).
    #[arg(
        long,
        value_name = "PIN",
        hide = true,
        conflicts_with = "pin_from_stdin"
    )]
    pub unsafe_pin: Option<String>,
}

/// The PIN entry of the command line: asked once, when the card needs it.
pub struct CliPin(pub PinArgs);

impl PinEntry for CliPin {
    fn pin(&mut self) -> Result<Pin, SettleError> {
        let text = zeroize::Zeroizing::new(match (&self.0.unsafe_pin, self.0.pin_from_stdin) {
            (Some(pin), _) => pin.clone(),
            (None, true) => std::io::stdin()
                .lock()
                .lines()
                .next()
                .and_then(Result::ok)
                .unwrap_or_default(),
            (None, false) => rpassword::prompt_password("Holder: PIN: ").unwrap_or_default(),
        });
        Pin::from_ascii(text.trim().as_bytes()).map_err(|_| SettleError::PinForm)
    }
}

/// The terminal's options shared by settle and load.
#[derive(Debug, clap::Args)]
pub struct TerminalArgs {
    #[command(flatten)]
    pub layout: LayoutArgs,
    /// The terminal's settlement journal (JSON lines, one file per terminal).
    #[arg(long, value_name = "FILE")]
    pub journal: PathBuf,
    /// The trade time YYYYMMDDhhmmss (default: the system clock, UTC).
    #[arg(long, value_name = "YYYYMMDDhhmmss")]
    pub time: Option<String>,
    /// The lost/cancelled card list: card numbers, one a line, `#` comments.
    #[arg(long, value_name = "FILE")]
    pub lost_list: Option<PathBuf>,
    #[command(flatten)]
    pub pin: PinArgs,
}

impl TerminalArgs {
    pub(super) fn time(&self) -> Result<TradeTime, CliError> {
        Ok(match &self.time {
            Some(text) => TradeTime::parse(text).map_err(SettleError::from)?,
            None => TradeTime::now_utc(),
        })
    }

    fn lost(&self) -> Result<LostList, CliError> {
        Ok(match &self.lost_list {
            Some(path) => LostList::load(path).map_err(|e| CliError::Usage(e.to_string()))?,
            None => LostList::default(),
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct SettleArgs {
    #[command(flatten)]
    pub terminal: TerminalArgs,
    /// The account amount paid from the card's purse (with --qr: the medical account), in yuan
    /// (12.50).
    #[arg(
        long,
        value_name = "YUAN",
        allow_hyphen_values = true,
        required_unless_present = "resume"
    )]
    pub amount: Option<String>,
    /// The self-pay amount (recorded in the card's yearly total), in yuan.
    #[arg(
        long,
        value_name = "YUAN",
        default_value = "0",
        allow_hyphen_values = true
    )]
    pub self_pay: String,
    /// The pooled-fund amount (recorded in the card's yearly total), in yuan.
    #[arg(
        long,
        value_name = "YUAN",
        default_value = "0",
        allow_hyphen_values = true
    )]
    pub pooled: String,
    /// The PSAM in this PC/SC reader (name or number).
    #[arg(long, value_name = "NAME|INDEX", conflicts_with = "psam")]
    pub psam_reader: Option<ReaderChoice>,
    /// A simulated PSAM card image (made by `sscard sim new --psam`).
    #[arg(long, value_name = "FILE")]
    pub psam: Option<PathBuf>,
    /// Pay with this e-card QR payment code from the holder's medical account in the back
    /// office (online mode; needs --platform) instead of the card's purse.
    #[arg(long, value_name = "CODE", requires = "platform", conflicts_with_all = ["psam", "psam_reader", "pooled"])]
    pub qr: Option<String>,
    /// Send again the online payments an earlier `settle --qr` left unconfirmed (needs
    /// --platform); never charged twice.
    #[arg(long, requires = "platform", conflicts_with_all = ["qr", "psam", "psam_reader"])]
    pub resume: bool,
    /// This till's id on online payments (1 to 64 of A-Z a-z 0-9 - _ .).
    #[arg(long, value_name = "ID", default_value = "sscard-till")]
    pub terminal_id: String,
    /// The back office: its registry is asked before the purse is touched (a suspended, lost,
    /// cancelled or sealed card is refused), and the settled records are uploaded (queued in
    /// the journal while it does not answer, sent by the next settle --platform).
    #[command(flatten)]
    pub platform: PlatformArgs,
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub terminal: TerminalArgs,
    /// The amount loaded onto the purse, in yuan.
    #[arg(long, value_name = "YUAN", allow_hyphen_values = true)]
    pub amount: String,
    /// The outlet's terminal number, 12 digits (it is written in the card's log).
    #[arg(long, value_name = "DIGITS")]
    pub terminal_no: String,
    /// The issuer keys the outlet computes the load MAC with (TEST keys only).
    #[command(flatten)]
    pub keys: KeyArgs,
}

#[derive(Debug, clap::Args)]
pub struct RecordsArgs {
    #[command(flatten)]
    pub layout: LayoutArgs,
    #[command(flatten)]
    pub pin: PinArgs,
}

/// The PSAM the options name.
fn open_psam(
    global: &Global,
    reader: &Option<ReaderChoice>,
    image: &Option<PathBuf>,
) -> Result<PsamModule<Box<dyn CardTransport>>, CliError> {
    let transport: Box<dyn CardTransport> = match (reader, image) {
        (Some(reader), _) => Box::new(PcscTransport::open(&PcscOptions {
            reader: Some(reader.clone()),
            wait: Duration::from_millis(global.timeout_ms),
            answer_timeout: global.answer_timeout,
            ..PcscOptions::default()
        })?),
        (None, Some(path)) => Box::new(connect::sim_image(global, path)?),
        (None, None) => {
            return Err(CliError::Usage(
                "give the terminal's PSAM: --psam-reader NAME or --psam IMAGE".into(),
            ))
        }
    };
    Ok(PsamModule::open(transport).map_err(SettleError::from)?)
}

fn journal(path: &std::path::Path) -> Result<SettlementJournal, CliError> {
    Ok(SettlementJournal::open(path).map_err(SettleError::from)?)
}

/// The receipt for the holder.
pub fn receipt_text(r: &Receipt) -> String {
    let title = match r.kind {
        Kind::Purchase | Kind::QrPayment => "医疗结算回执 / Medical settlement receipt",
        Kind::Load => "医疗账户圈存回执 / Medical purse load receipt",
    };
    let mut rows = vec![
        ("卡号 card number", r.card_number.clone()),
        ("终端 terminal no.", r.terminal_no.clone()),
    ];
    if let Some(serial) = &r.terminal_serial {
        rows.push(("终端流水 terminal serial", serial.clone()));
    }
    rows.push(("卡交易序号 card serial", r.serial.to_string()));
    rows.push(("时间 time", r.time.clone()));
    match r.kind {
        Kind::Purchase | Kind::QrPayment => {
            rows.push(("个人账户 account", fen_to_yuan(r.amounts.account)));
            rows.push(("个人自付 self-pay", fen_to_yuan(r.amounts.self_pay)));
            rows.push(("统筹支付 pooled fund", fen_to_yuan(r.amounts.pooled)));
        }
        Kind::Load => rows.push(("圈存金额 amount", fen_to_yuan(r.amounts.account))),
    }
    if let Some(after) = r.balance_after {
        rows.push(("余额 balance", fen_to_yuan(after)));
    }
    rows.push(("TAC", r.tac.clone()));
    let mut text = format!("{title}\n");
    for (k, v) in rows {
        text.push_str(&format!("  {k}: {}\n", escape(&v)));
    }
    if r.resumed {
        text.push_str("  (an interrupted transaction was found on the card and completed; nothing was charged twice)\n");
    }
    text
}

fn pin_entry(args: &PinArgs) -> CliPin {
    CliPin(args.clone())
}

pub fn settle(global: &Global, args: &SettleArgs) -> Result<Outcome, CliError> {
    if let Some(code) = &args.qr {
        return super::qr_settle::settle_qr(global, args, code);
    }
    if args.resume {
        return super::qr_settle::resume(global, args);
    }
    let amount = |what, text: &str| yuan_to_fen(what, text).map_err(SettleError::from);
    let amounts = Amounts::new(
        amount("amount", args.amount.as_deref().unwrap_or_default())?,
        amount("self-pay amount", &args.self_pay)?,
        amount("pooled amount", &args.pooled)?,
    )
    .map_err(SettleError::from)?;
    let request = PurchaseRequest {
        amounts,
        time: args.terminal.time()?,
    };
    let lost = args.terminal.lost()?;
    let platform = args.platform.client(global.answer_timeout)?;
    let mut registry = platform.as_ref().map(RegistryApproval::new);
    let mut psam = open_psam(global, &args.psam_reader, &args.psam)?;
    let terminal = Terminal::from_psam(&mut psam, lost)?;
    let mut journal = journal(&args.terminal.journal)?;
    let mut client = connect::open(global)?;
    let layout = args.terminal.layout.load(version_from_atr(&client.atr()))?;
    let mut offline = NoApproval;
    let approval: &mut dyn CardApproval = match registry.as_mut() {
        Some(registry) => registry,
        None => &mut offline,
    };
    let receipt = settlement::settle_approved(
        &mut client,
        &mut psam,
        &layout,
        &terminal,
        &request,
        &mut pin_entry(&args.terminal.pin),
        &mut journal,
        approval,
    )?;
    let _ = client.transport_mut().power_off();
    let mut outcome = Outcome::new(
        receipt_text(&receipt),
        json!({ "settled": true, "receipt": receipt, "journal": args.terminal.journal.display().to_string() }),
    );
    if let (Some(client), Some(registry)) = (&platform, registry) {
        super::settle_registry::after_settlement(
            client,
            registry.consulted,
            &mut journal,
            &mut outcome,
        )?;
    }
    Ok(outcome)
}

/// The outlet's terminal number: 12 digits.
fn terminal_no(text: &str) -> Result<[u8; 6], CliError> {
    let bytes = hex::decode(text)
        .ok()
        .filter(|_| text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()));
    bytes
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CliError::Usage(format!("--terminal-no {text:?} is not 12 digits")))
}

pub fn load(global: &Global, args: &LoadArgs) -> Result<Outcome, CliError> {
    let amount = yuan_to_fen("amount", &args.amount).map_err(SettleError::from)?;
    let time = args.terminal.time()?;
    let keys = args.keys.load(false)?.ok_or_else(|| {
        CliError::Usage("give the outlet's issuer keys: --keys FILE or --test-keys".into())
    })?;
    let mut outlet = Outlet {
        terminal_no: terminal_no(&args.terminal_no)?,
        keys: SoftwareModule::new(keys.keys).map_err(SettleError::Security)?,
        lost: args.terminal.lost()?,
    };
    let mut journal = journal(&args.terminal.journal)?;
    let mut client = connect::open(global)?;
    let layout = args.terminal.layout.load(version_from_atr(&client.atr()))?;
    let receipt = settlement::load(
        &mut client,
        &layout,
        &mut outlet,
        amount,
        time,
        &mut pin_entry(&args.terminal.pin),
        &mut journal,
    )?;
    let _ = client.transport_mut().power_off();
    Ok(Outcome::new(
        receipt_text(&receipt),
        json!({ "loaded": true, "receipt": receipt, "journal": args.terminal.journal.display().to_string() }),
    ))
}

/// The balance and the log as text.
pub fn purse_text(state: &PurseState) -> String {
    let mut text = format!("balance: {} yuan\n", fen_to_yuan(state.balance));
    if state.records.is_empty() {
        text.push_str("no transactions in the log\n");
    }
    for r in &state.records {
        let extra = match (r.self_pay, r.pooled) {
            (Some(s), Some(p)) if r.kind == "settlement" => {
                format!(" self-pay {} pooled {}", fen_to_yuan(s), fen_to_yuan(p))
            }
            _ => String::new(),
        };
        text.push_str(&format!(
            "{:>3}. serial {:>5}  {:<10}  {}  terminal {}  account {}{}\n",
            r.number,
            r.serial,
            escape(&r.kind),
            escape(&r.time),
            escape(&r.terminal_no),
            fen_to_yuan(r.account),
            extra
        ));
    }
    text
}

pub fn records(global: &Global, args: &RecordsArgs) -> Result<Outcome, CliError> {
    let mut client = connect::open(global)?;
    let layout = args.layout.load(version_from_atr(&client.atr()))?;
    let state = settlement::read_purse(&mut client, &layout, &mut pin_entry(&args.pin))?;
    let _ = client.transport_mut().power_off();
    Ok(Outcome::new(purse_text(&state), json!(state)))
}

/// The demo's last step: a settlement of 12.50 yuan on the demo card (PIN set by the demo's
/// activation) with a simulated PSAM of the card's region; the journal in a temporary file.
pub fn demo_settlement<T: CardTransport>(
    client: &mut Client<T>,
    layout: &file_structures::layout::Layout,
    region: [u8; 3],
    pin: &str,
    time: &str,
) -> Result<(String, serde_json::Value), CliError> {
    let keys = file_structures::personalise::IssuerKeys::test_keys().map_err(CliError::Keys)?;
    let psam = psam_image(layout, &keys, &region)?;
    let mut psam = PsamModule::open(SimTransport::in_memory(psam)?).map_err(SettleError::from)?;
    let terminal = Terminal::from_psam(&mut psam, LostList::default())?;
    let dir = std::env::temp_dir().join(format!("sscard-demo-settle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| CliError::CreateFile {
        path: dir.display().to_string(),
        source,
    })?;
    let result = (|| -> Result<Receipt, CliError> {
        let mut journal = SettlementJournal::open(&dir.join("settlement-journal.jsonl"))
            .map_err(SettleError::from)?;
        let request = PurchaseRequest {
            amounts: Amounts::new(1250, 300, 700).map_err(SettleError::from)?,
            time: TradeTime::parse(time).map_err(SettleError::from)?,
        };
        let mut pin = settlement::GivenPin(
            Pin::from_ascii(pin.as_bytes()).map_err(|_| SettleError::PinForm)?,
        );
        Ok(settlement::settle(
            client,
            &mut psam,
            layout,
            &terminal,
            &request,
            &mut pin,
            &mut journal,
        )?)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    let receipt = result?;
    Ok((receipt_text(&receipt), json!(receipt)))
}
