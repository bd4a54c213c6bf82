//! The settlement terminal (docs/settlement.md, chapters 7 to 10): paying from the card's medical
//! purse at a hospital or pharmacy with the card in one reader and the PSAM in another, loading
//! the purse at an outlet, reading the card's log, and the back office's TAC check.
//!
//! A purchase: the card's blocking, identity and region; an open transaction of this card in the
//! journal resolved first (GET TRANSACTION PROOF); the lost list and the expiry; INTERNAL
//! AUTHENTICATE (a fake card is refused); the PIN; INITIALIZE FOR PURCHASE; MAC1 from the PSAM;
//! the intent journalled; DEBIT; MAC2 checked in the PSAM; the receipt journalled. Amounts are in
//! fen, the time is the terminal's: the functions take small inputs so that a reader library's
//! iDoDebit can call them.

pub mod card;
pub mod input;
pub mod journal;
pub mod online;
pub mod records;
pub mod registry;

use card_os::crypto::purse::{
    load_session_input, session_key, Load, Purchase, PurseMac, Settings, TYPE_PURCHASE,
};
use card_os::crypto::{self, Algorithm, Pin};
use file_structures::layout::{KeyUsage, Layout};
use file_structures::personalise::{IssuerKeys, KeyError};
use serde::Serialize;

use crate::card::files::{self, Answer};
use crate::jobs::activation::steps::{self, CardId, Plan};
use crate::jobs::activation::{
    ActivationError, LostList, PsamModule, SecurityError, SecurityModule, SoftwareModule,
};
use crate::jobs::journal::JournalError;
use crate::protocol::apdu::Status;
use crate::protocol::client::{Client, ClientError};
use crate::transport::CardTransport;
pub use input::{fen_to_yuan, yuan_to_fen, AmountError, Amounts, TradeTime};
pub use journal::{open_transaction, Kind, Line, OnlinePayment, SettlementJournal, Step};
pub use records::LogRecord;

/// The PSAM's terminal number file and the file holding its purchase key's index (level 1).
const PSAM_TERMINAL_NO: u16 = 0x0016;
const PSAM_KEY_INDEX: u16 = 0x001A;

/// Why a settlement, a load or a reading of the log did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error(transparent)]
    Amount(#[from] AmountError),
    #[error("the layout has no medical purse ({0})")]
    NoPurse(String),
    #[error("the card could not be read: {0}")]
    Unreadable(String),
    #[error("the card is not issued yet (still in personalisation)")]
    NotIssued,
    #[error("the card is blocked ({0}): it cannot pay")]
    Blocked(String),
    #[error("card {card} is on the lost/cancelled list: do not accept it, keep the card")]
    Lost { card: String },
    #[error("card {card} expired on {expiry}: it cannot pay")]
    Expired { card: String, expiry: String },
    #[error("the card did not prove it is genuine (wrong INTERNAL AUTHENTICATE answer): a fake or damaged card")]
    FakeCard,
    #[error("the card is of region {card_region}, this terminal's PSAM of region {psam_region}: the card cannot pay here")]
    OtherRegion {
        card_region: String,
        psam_region: String,
    },
    #[error("a PIN is 4 to 16 digits")]
    PinForm,
    #[error("wrong PIN: {tries_left} tries left before the PIN is blocked")]
    WrongPin { tries_left: u8 },
    #[error("the PIN is blocked: the holder must have it unblocked at a service outlet")]
    PinBlocked,
    #[error("the card still has its initial PIN, which cannot pay: the holder must set a PIN of their own first (activation)")]
    InitialPin,
    #[error("balance too low: the card holds {} yuan, the account amount is {} yuan; nothing was debited", fen_to_yuan(*balance), fen_to_yuan(*amount))]
    BalanceTooLow { balance: u32, amount: u32 },
    #[error("the card refused the load: the balance would exceed what the card holds")]
    BalanceOverflow,
    #[error("the card does not support the PSAM's purchase key index {index:02X} (9403): this PSAM is not set up for this card's keys")]
    KeyIndexNotSupported { index: u8 },
    #[error("the card's medical function is restricted (9302 before any MAC): a card not activated within six months of issue must be activated first")]
    Restricted,
    #[error("the card refused the terminal's MAC1 (9302): the PSAM's purchase key is not this card's; nothing was debited")]
    Mac1Refused,
    #[error("the card refused the outlet's MAC2 (9302): the load key is not this card's; nothing was loaded")]
    LoadMacRefused,
    #[error("the card's MAC1 of the load is wrong: the card does not hold this issuer's load key; nothing was loaded")]
    LoadMac1Wrong,
    #[error("the PSAM refused the card's MAC2: the card was debited (TAC {tac}) but its proof is not this PSAM's; the transaction is journalled as disputed for the back office")]
    Mac2Refused { tac: String },
    #[error("the card is not in a purchase (6901): a replayed or out-of-order DEBIT; nothing was debited")]
    WrongState,
    #[error(
        "the card's purse counter is at its maximum (9402): the card cannot make more transactions"
    )]
    CounterAtMaximum,
    #[error("the card's purse key is blocked (6983) after wrong MACs")]
    KeyBlocked,
    /// The back office's registry says the card may not pay (`code`: `insurance-suspended`,
    /// `reported-lost`, ...); nothing was written to the card.
    #[error("the registry refuses card {card}: {reason}; nothing was debited")]
    RegistryRefused {
        card: String,
        code: String,
        reason: String,
    },
    /// The back office refused the terminal itself (its credential or role), in its words.
    #[error(transparent)]
    Registry(sscard_platform::ClientError),
    #[error("the card refused {command}: {}", crate::protocol::sw::explain(*.sw))]
    Refused { command: &'static str, sw: Status },
    #[error("the PSAM failed")]
    Security(#[from] SecurityError),
    #[error("the outlet's load key cannot be made")]
    Keys(#[source] KeyError),
    #[error("the purse computation failed ({0:?})")]
    Crypto(crypto::Error),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl SettleError {
    /// The meaning of a purse command's status word (docs/settlement.md, "Commands and status
    /// words"); `9302` before a MAC was checked is the six-month restriction.
    pub fn from_card(command: &'static str, sw: Status) -> SettleError {
        let macs = matches!(command, "DEBIT FOR PURCHASE" | "CREDIT FOR LOAD");
        match sw {
            Status::BALANCE_TOO_LOW => SettleError::BalanceTooLow {
                balance: 0,
                amount: 0,
            },
            Status::KEY_INDEX_NOT_SUPPORTED => SettleError::KeyIndexNotSupported { index: 0 },
            Status::WRONG_STATE => SettleError::WrongState,
            Status::COUNTER_AT_MAXIMUM => SettleError::CounterAtMaximum,
            Status::APPLICATION_PERMANENTLY_BLOCKED => {
                SettleError::Blocked("medical application permanently blocked (9303)".into())
            }
            Status::PURSE_MAC_WRONG if command == "CREDIT FOR LOAD" => SettleError::LoadMacRefused,
            Status::PURSE_MAC_WRONG if macs => SettleError::Mac1Refused,
            Status::PURSE_MAC_WRONG => SettleError::Restricted,
            Status::ReferenceDataNotUsable => SettleError::InitialPin,
            Status::AuthenticationMethodBlocked => SettleError::KeyBlocked,
            Status::IncorrectDataParameters if command == "INITIALIZE FOR LOAD" => {
                SettleError::BalanceOverflow
            }
            sw => SettleError::Refused { command, sw },
        }
    }

    /// A failure of the link (card or PSAM pulled, reader gone) or of the journal: a transaction
    /// journalled as intended stays open and the next run with the same card resolves it.
    pub fn is_resumable(&self) -> bool {
        matches!(
            self,
            SettleError::Client(_)
                | SettleError::Journal(_)
                | SettleError::Security(SecurityError::PsamLink(_))
        )
    }

    /// The card's status word behind a refusal, when there is one (for the journal and
    /// diagnostics: `9401` balance, `9303` blocked, `63Cx`/`6983` PIN).
    pub fn status_word(&self) -> Option<u16> {
        Some(match self {
            SettleError::BalanceTooLow { .. } => 0x9401,
            SettleError::KeyIndexNotSupported { .. } => 0x9403,
            SettleError::WrongState => 0x6901,
            SettleError::CounterAtMaximum => 0x9402,
            SettleError::Blocked(_) => 0x9303,
            SettleError::Restricted | SettleError::Mac1Refused | SettleError::LoadMacRefused => {
                0x9302
            }
            SettleError::WrongPin { tries_left } => 0x63C0 | u16::from(*tries_left),
            SettleError::PinBlocked => 0x6983,
            SettleError::InitialPin => 0x6984,
            SettleError::Refused { sw, .. } => sw.to_u16(),
            _ => return None,
        })
    }
}

impl From<ActivationError> for SettleError {
    fn from(e: ActivationError) -> Self {
        match e {
            ActivationError::Client(c) => SettleError::Client(c),
            ActivationError::Security(s) => SettleError::Security(s),
            ActivationError::Journal(j) => SettleError::Journal(j),
            ActivationError::NotIssued => SettleError::NotIssued,
            ActivationError::Blocked(what) => SettleError::Blocked(what),
            ActivationError::FakeCard => SettleError::FakeCard,
            ActivationError::Refused { command, sw } => SettleError::Refused { command, sw },
            ActivationError::Layout(what) => SettleError::NoPurse(what),
            other => SettleError::Unreadable(other.to_string()),
        }
    }
}

fn crypto_error(e: crypto::Error) -> SettleError {
    SettleError::Crypto(e)
}

/// What the terminal's security module does for a purchase: the activation's internal
/// authentication and personal-data keys, plus the PSAM's purchase commands. A PSAM card
/// implements it ([`PsamModule`]); an HSM could.
pub trait PurchaseModule: SecurityModule {
    /// The terminal number (cn6), the PSAM's file 0016.
    fn terminal_number(&mut self) -> Result<[u8; 6], SecurityError>;
    /// The index of the purchase key (DPK) the PSAM holds, its file 001A.
    fn purchase_key_index(&mut self) -> Result<u8, SecurityError>;
    /// INIT SAM FOR PURCHASE: terminal serial 4 ‖ MAC1 4.
    fn init_sam_for_purchase(&mut self, input: &[u8]) -> Result<[u8; 8], SecurityError>;
    /// CREDIT SAM FOR PURCHASE: the card's MAC2 checked.
    fn credit_sam_for_purchase(&mut self, mac2: &[u8; 4]) -> Result<(), SecurityError>;
}

impl<T: CardTransport> PurchaseModule for PsamModule<T> {
    fn terminal_number(&mut self) -> Result<[u8; 6], SecurityError> {
        let bytes = self.read_file(PSAM_TERMINAL_NO, 6)?;
        bytes.try_into().map_err(|_| SecurityError::PsamRefused {
            command: "READ BINARY 0016",
            sw: Status::WrongLength,
        })
    }

    fn purchase_key_index(&mut self) -> Result<u8, SecurityError> {
        let bytes = self.read_file(PSAM_KEY_INDEX, 1)?;
        bytes.first().copied().ok_or(SecurityError::PsamRefused {
            command: "READ BINARY 001A",
            sw: Status::WrongLength,
        })
    }

    fn init_sam_for_purchase(&mut self, input: &[u8]) -> Result<[u8; 8], SecurityError> {
        PsamModule::init_sam_for_purchase(self, input)
    }

    fn credit_sam_for_purchase(&mut self, mac2: &[u8; 4]) -> Result<(), SecurityError> {
        PsamModule::credit_sam_for_purchase(self, mac2)
    }
}

/// The terminal: its number and purchase key index (read once from the PSAM) and the lost list.
#[derive(Debug, Clone)]
pub struct Terminal {
    pub terminal_no: [u8; 6],
    pub key_index: u8,
    pub lost: LostList,
}

impl Terminal {
    /// Reads the terminal number and the purchase key index from the PSAM.
    pub fn from_psam<P: PurchaseModule + ?Sized>(
        psam: &mut P,
        lost: LostList,
    ) -> Result<Terminal, SettleError> {
        Ok(Terminal {
            terminal_no: psam.terminal_number()?,
            key_index: psam.purchase_key_index()?,
            lost,
        })
    }
}

/// Where the holder's PIN comes from; asked only when needed (a recovered transaction needs no
/// PIN).
pub trait PinEntry {
    fn pin(&mut self) -> Result<Pin, SettleError>;
}

/// A PIN given in advance (tests, programs that did their own prompting).
pub struct GivenPin(pub Pin);

impl PinEntry for GivenPin {
    fn pin(&mut self) -> Result<Pin, SettleError> {
        Ok(self.0.clone())
    }
}

/// What the holder and the back office get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub kind: Kind,
    pub card_number: String,
    /// The card identification code (hex): the back office diversifies DTK with it.
    pub card_id_code: String,
    pub terminal_no: String,
    /// The PSAM's terminal serial (purchases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminal_serial: Option<String>,
    /// The card's serial of this transaction.
    pub serial: u16,
    /// `YYYYMMDDhhmmss`.
    pub time: String,
    /// In fen (a load: the amount in `account`).
    pub amounts: Amounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance_before: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance_after: Option<u32>,
    /// The card key's algorithm byte (`01` 3DES, `03` SM4).
    pub algorithm: u8,
    /// The transaction certificate (hex), for the back office.
    pub tac: String,
    /// This run finished a transaction an earlier run had started (the card pulled).
    pub resumed: bool,
}

impl Receipt {
    fn from_line(line: &Line, tac: &PurseMac, resumed: bool) -> Receipt {
        let amounts = line.amounts.unwrap_or(Amounts {
            account: 0,
            self_pay: 0,
            pooled: 0,
        });
        let after = line.balance.map(|b| match line.kind {
            Kind::Purchase | Kind::QrPayment => b.saturating_sub(amounts.account),
            Kind::Load => b.saturating_add(amounts.account),
        });
        Receipt {
            kind: line.kind,
            card_number: line.card.clone(),
            card_id_code: line.card_id_code.clone(),
            terminal_no: line.terminal_no.clone(),
            terminal_serial: line.terminal_serial.clone(),
            serial: line.serial,
            time: line.time.clone(),
            amounts,
            balance_before: line.balance,
            balance_after: after,
            algorithm: line.algorithm.unwrap_or(0),
            tac: hex::encode_upper(tac),
            resumed,
        }
    }
}

/// A purchase to settle: the amounts (fen) and the trade time.
#[derive(Debug, Clone, Copy)]
pub struct PurchaseRequest {
    pub amounts: Amounts,
    pub time: TradeTime,
}

/// The purse of `layout`: its DF's path and settings.
struct PurseRef {
    df_path: Vec<u16>,
    df: String,
    settings: Settings,
}

fn purse_ref(layout: &Layout) -> Result<PurseRef, SettleError> {
    let purse = layout
        .purse
        .as_ref()
        .ok_or_else(|| SettleError::NoPurse("no [purse] section".into()))?;
    let df = layout
        .df(&purse.df)
        .ok_or_else(|| SettleError::NoPurse(format!("no DF {}", purse.df)))?;
    Ok(PurseRef {
        df_path: layout.df_path(df),
        df: df.name.clone(),
        settings: purse.settings,
    })
}

fn select_purse<T: CardTransport>(
    client: &mut Client<T>,
    purse: &PurseRef,
) -> Result<(), SettleError> {
    let answer = files::select_df(client, &purse.df_path, Answer::Nothing)?;
    match answer.sw {
        Status::Success => Ok(()),
        Status::SelectedFileDeactivated => Err(SettleError::Blocked(format!(
            "{} temporarily blocked",
            purse.df
        ))),
        Status::APPLICATION_PERMANENTLY_BLOCKED => Err(SettleError::Blocked(format!(
            "{} permanently blocked",
            purse.df
        ))),
        sw => Err(SettleError::Refused {
            command: "SELECT",
            sw,
        }),
    }
}

fn region_hex(bytes: &[u8]) -> String {
    hex::encode_upper(bytes.get(..3).unwrap_or(bytes))
}

/// Resolves the transaction this card left open in the journal (the card pulled or the power
/// lost after the intent was written): GET TRANSACTION PROOF with its serial. MAC and TAC back:
/// it happened, the receipt is completed (`Some`). `9406`: it did not, the line is closed and the
/// caller goes on (`None`).
fn resolve_open<T: CardTransport>(
    client: &mut Client<T>,
    purse: &PurseRef,
    journal: &mut SettlementJournal,
    card: &str,
) -> Result<Option<Receipt>, SettleError> {
    let Some(open) = open_transaction(journal, card).cloned() else {
        return Ok(None);
    };
    select_purse(client, purse)?;
    let proof =
        card::transaction_proof(client, purse.settings, open.kind.proof_type(), open.serial)?;
    match proof {
        Some((_mac, tac)) => {
            journal.record(Line {
                step: Step::Recovered,
                tac: Some(hex::encode_upper(tac)),
                ..open.clone()
            })?;
            Ok(Some(Receipt::from_line(&open, &tac, true)))
        }
        None => {
            journal.record(Line {
                step: Step::NotDone,
                reason: Some("GET TRANSACTION PROOF: 9406, the transaction did not happen".into()),
                ..open
            })?;
            Ok(None)
        }
    }
}

/// Settles `request` on the card behind `client` with the PSAM `psam` (see the module text). The
/// journal is written before the DEBIT and after it; a rerun with the same card after a failure
/// of the link completes the journalled transaction instead of paying again.
pub fn settle<T, P, E>(
    client: &mut Client<T>,
    psam: &mut P,
    layout: &Layout,
    terminal: &Terminal,
    request: &PurchaseRequest,
    pin: &mut E,
    journal: &mut SettlementJournal,
) -> Result<Receipt, SettleError>
where
    T: CardTransport,
    P: PurchaseModule + ?Sized,
    E: PinEntry + ?Sized,
{
    let mut approval = registry::NoApproval;
    settle_approved(
        client,
        psam,
        layout,
        terminal,
        request,
        pin,
        journal,
        &mut approval,
    )
}

/// [`settle`], with `approval` (the back office's registry) asked about the card before anything
/// is written to it; a transaction the card left open is resolved without asking.
#[allow(clippy::too_many_arguments)]
pub fn settle_approved<T, P, E, A>(
    client: &mut Client<T>,
    psam: &mut P,
    layout: &Layout,
    terminal: &Terminal,
    request: &PurchaseRequest,
    pin: &mut E,
    journal: &mut SettlementJournal,
    approval: &mut A,
) -> Result<Receipt, SettleError>
where
    T: CardTransport,
    P: PurchaseModule + ?Sized,
    E: PinEntry + ?Sized,
    A: registry::CardApproval + ?Sized,
{
    let started = start_purchase(
        client,
        Some(&mut *psam),
        layout,
        terminal,
        request,
        pin,
        journal,
        approval,
    )?;
    let purchase = match started {
        Started::Resumed(receipt) => return Ok(receipt),
        Started::Initialised(purchase) => purchase,
    };
    let signed = match psam_mac1(psam, &purchase) {
        Ok(signed) => signed,
        Err(e) => {
            journal_refusal(journal, &purchase.template, &e)?;
            return Err(e);
        }
    };
    let (terminal_serial, mac1) = signed.split_at(4);
    let terminal_serial: [u8; 4] = terminal_serial.try_into().unwrap_or_default();
    let mac1: PurseMac = mac1.try_into().unwrap_or_default();
    debit_purchase(client, &purchase, terminal_serial, mac1, journal, |mac2| {
        psam.credit_sam_for_purchase(mac2)
    })
    .map(|(receipt, _mac2)| receipt)
}

/// INIT SAM FOR PURCHASE of an initialised purchase: the PSAM's terminal serial ‖ MAC1.
fn psam_mac1<P: PurchaseModule + ?Sized>(
    psam: &mut P,
    purchase: &InitialisedPurchase,
) -> Result<[u8; 8], SettleError> {
    let init = &purchase.init;
    let mut input = Vec::with_capacity(44);
    input.extend_from_slice(&init.random);
    input.extend_from_slice(&init.serial.to_be_bytes());
    input.extend_from_slice(&purchase.amounts.to_bytes());
    input.push(purchase.settings.type_byte(TYPE_PURCHASE));
    input.extend_from_slice(&purchase.time.bytes());
    input.extend_from_slice(&[init.key_version, init.algorithm]);
    input.extend_from_slice(&crypto::diversify::card_factor(&purchase.code).map_err(crypto_error)?);
    Ok(psam.init_sam_for_purchase(&input)?)
}

/// A refusal is journalled (diagnostics name its cause); a failure of the link leaves the intent
/// open for the rerun; a disputed MAC2 has its own line already.
fn journal_refusal(
    journal: &mut SettlementJournal,
    template: &Line,
    e: &SettleError,
) -> Result<(), SettleError> {
    if !e.is_resumable() && !matches!(e, SettleError::Mac2Refused { .. }) {
        journal.record(Line {
            step: Step::Refused,
            sw: e.status_word().map(|sw| format!("{sw:04X}")),
            reason: Some(e.to_string()),
            ..template.clone()
        })?;
    }
    Ok(())
}

/// A purchase the card has initialised (INITIALIZE FOR PURCHASE answered): the card waits for
/// DEBIT FOR PURCHASE with a terminal serial and MAC1 from a security module, the PSAM's INIT SAM
/// FOR PURCHASE or the back office's HSM (the national interface's iDoDebit_HSM_Step1/2).
#[derive(Debug, Clone)]
pub struct InitialisedPurchase {
    pub init: card::PurchaseInit,
    /// The card identification code (the card's keys are diversified with it).
    pub code: [u8; 16],
    pub settings: Settings,
    pub amounts: Amounts,
    pub time: TradeTime,
    pub terminal_no: [u8; 6],
    pub key_index: u8,
    template: Line,
}

/// How [`start_purchase`] ended.
#[derive(Debug)]
pub enum Started {
    /// This card had a transaction open in the journal and the card says it happened: its
    /// receipt (`resumed`); nothing new was started.
    Resumed(Receipt),
    /// The card is in a purchase, waiting for DEBIT.
    Initialised(Box<InitialisedPurchase>),
}

/// The terminal's half of a purchase up to INITIALIZE FOR PURCHASE: the card's blocking, identity
/// and region (a terminal whose number is twelve zeros has no region: the HSM path without a
/// PSAM); an open transaction of this card resolved first; the lost list and the expiry;
/// INTERNAL AUTHENTICATE with `genuine` when there is a module that can check it (the PSAM; the
/// HSM path has none: there the card proves itself by its MAC2 and TAC, which only its own keys
/// give); the PIN; INITIALIZE FOR PURCHASE. A refusal is journalled.
#[allow(clippy::too_many_arguments)]
pub fn start_purchase<T, M, E, A>(
    client: &mut Client<T>,
    genuine: Option<&mut M>,
    layout: &Layout,
    terminal: &Terminal,
    request: &PurchaseRequest,
    pin: &mut E,
    journal: &mut SettlementJournal,
    approval: &mut A,
) -> Result<Started, SettleError>
where
    T: CardTransport,
    M: SecurityModule + ?Sized,
    E: PinEntry + ?Sized,
    A: registry::CardApproval + ?Sized,
{
    let purse = purse_ref(layout)?;
    let plan = Plan::new(layout)?;
    steps::check_blocking(client, &plan)?;
    let facts = steps::read_card_id(client, layout)?;
    let has_region = terminal.terminal_no.iter().any(|&b| b != 0);
    if has_region && facts.code.get(..3) != terminal.terminal_no.get(..3) {
        return Err(SettleError::OtherRegion {
            card_region: region_hex(&facts.code),
            psam_region: region_hex(&terminal.terminal_no),
        });
    }
    if let Some(receipt) = resolve_open(client, &purse, journal, &facts.number)? {
        return Ok(Started::Resumed(receipt));
    }
    let date = request.time.date();
    if terminal.lost.contains(&facts.number) {
        return Err(SettleError::Lost {
            card: facts.number.clone(),
        });
    }
    if facts.expiry.as_str() < date.as_str() {
        return Err(SettleError::Expired {
            card: facts.number.clone(),
            expiry: facts.expiry.clone(),
        });
    }
    approval.approve(&facts.number, &date, request.amounts.account)?;
    let template = Line {
        card: facts.number.clone(),
        kind: Kind::Purchase,
        step: Step::Refused,
        serial: 0,
        amounts: Some(request.amounts),
        balance: None,
        algorithm: None,
        card_id_code: hex::encode_upper(facts.code),
        terminal_no: hex::encode_upper(terminal.terminal_no),
        terminal_serial: None,
        time: request.time.text(),
        tac: None,
        sw: None,
        reason: None,
        online: None,
    };
    match initialise(
        client, genuine, &plan, &purse, &facts, terminal, request, pin,
    ) {
        Ok(init) => Ok(Started::Initialised(Box::new(InitialisedPurchase {
            init,
            code: facts.code,
            settings: purse.settings,
            amounts: request.amounts,
            time: request.time,
            terminal_no: terminal.terminal_no,
            key_index: terminal.key_index,
            template,
        }))),
        Err(e) => {
            journal_refusal(journal, &template, &e)?;
            Err(e)
        }
    }
}

/// From the card identified to INITIALIZE FOR PURCHASE.
#[allow(clippy::too_many_arguments)]
fn initialise<T, M, E>(
    client: &mut Client<T>,
    genuine: Option<&mut M>,
    plan: &Plan<'_>,
    purse: &PurseRef,
    facts: &CardId,
    terminal: &Terminal,
    request: &PurchaseRequest,
    pin: &mut E,
) -> Result<card::PurchaseInit, SettleError>
where
    T: CardTransport,
    M: SecurityModule + ?Sized,
    E: PinEntry + ?Sized,
{
    if let Some(module) = genuine {
        files::select_df(client, plan.df_path(), Answer::Nothing)?;
        steps::internal_authenticate(client, module, plan, &facts.code)?;
    }
    select_purse(client, purse)?;
    let time = request.time.bytes();
    let date: [u8; 4] = [time[0], time[1], time[2], time[3]];
    card::set_date(client, &date)?;
    card::verify_pin(client, &pin.pin()?)?;
    let amounts = request.amounts;
    // INITIALIZE answers the balance; GET BALANCE only to say how much is missing after `9401`.
    match card::init_purchase(
        client,
        purse.settings,
        terminal.key_index,
        amounts,
        &terminal.terminal_no,
    ) {
        Ok(init) => Ok(init),
        Err(SettleError::BalanceTooLow { .. }) => Err(SettleError::BalanceTooLow {
            balance: card::get_balance(client)?,
            amount: amounts.account,
        }),
        Err(SettleError::KeyIndexNotSupported { .. }) => Err(SettleError::KeyIndexNotSupported {
            index: terminal.key_index,
        }),
        Err(other) => Err(other),
    }
}

/// DEBIT FOR PURCHASE of an initialised purchase with the security module's terminal serial and
/// MAC1: the intent journalled before it; `check_mac2` (the PSAM's CREDIT SAM FOR PURCHASE; the
/// HSM path leaves MAC2 to its caller) after it; the receipt journalled. Answers the receipt and
/// the card's MAC2. A card pulled at the DEBIT leaves the intent open: the next
/// [`start_purchase`] of this card resolves it with GET TRANSACTION PROOF.
pub fn debit_purchase<T, C>(
    client: &mut Client<T>,
    purchase: &InitialisedPurchase,
    terminal_serial: [u8; 4],
    mac1: PurseMac,
    journal: &mut SettlementJournal,
    check_mac2: C,
) -> Result<(Receipt, PurseMac), SettleError>
where
    T: CardTransport,
    C: FnOnce(&PurseMac) -> Result<(), SecurityError>,
{
    let init = &purchase.init;
    let intent = Line {
        step: Step::Intent,
        serial: init.serial,
        balance: Some(init.balance),
        algorithm: Some(init.algorithm),
        terminal_serial: Some(hex::encode_upper(terminal_serial)),
        ..purchase.template.clone()
    };
    journal.record(intent.clone())?;
    let time = purchase.time.bytes();
    let (tac, mac2) = match card::debit(client, &terminal_serial, &time, &mac1) {
        Ok(answer) => answer,
        Err(e) if !e.is_resumable() => {
            // Refused by the card: it did not debit; the intent is closed.
            journal.record(Line {
                step: Step::NotDone,
                sw: e.status_word().map(|sw| format!("{sw:04X}")),
                reason: Some(e.to_string()),
                ..intent
            })?;
            journal_refusal(journal, &purchase.template, &e)?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let tac_hex = hex::encode_upper(tac);
    if let Err(e) = check_mac2(&mac2) {
        if let SecurityError::PsamRefused { .. } = e {
            journal.record(Line {
                step: Step::Disputed,
                tac: Some(tac_hex.clone()),
                reason: Some(e.to_string()),
                ..intent
            })?;
            return Err(SettleError::Mac2Refused { tac: tac_hex });
        }
        // The PSAM's link failed after the card debited: the card has the proof; the rerun
        // recovers it.
        return Err(e.into());
    }
    journal.record(Line {
        step: Step::Settled,
        tac: Some(tac_hex),
        ..intent.clone()
    })?;
    Ok((Receipt::from_line(&intent, &tac, false), mac2))
}

/// The id of the layout's purchase key (DPK): the key index INITIALIZE FOR PURCHASE names when
/// no PSAM says which (the HSM path).
pub fn purchase_key_index(layout: &Layout) -> Result<u8, SettleError> {
    purse_key(layout, KeyUsage::PursePurchase).map(|(_, id)| id)
}

/// The outlet that loads the purse: its terminal number, the issuer keys it computes MAC2 with
/// (a load key diversified per card), and the lost list.
pub struct Outlet {
    pub terminal_no: [u8; 6],
    /// The issuer keys in software (TEST keys only: [`SoftwareModule`] refuses others).
    pub keys: SoftwareModule,
    pub lost: LostList,
}

/// The purse key of `usage` in the purse DF: (DF name, key id).
fn purse_key(layout: &Layout, usage: KeyUsage) -> Result<(String, u8), SettleError> {
    let purse = purse_ref(layout)?;
    let df = layout
        .df(&purse.df)
        .ok_or_else(|| SettleError::NoPurse(purse.df.clone()))?;
    let key =
        df.keys.iter().find(|k| k.usage == usage).ok_or_else(|| {
            SettleError::NoPurse(format!("{} has no {} key", df.name, usage.name()))
        })?;
    Ok((df.name.clone(), key.id))
}

/// Loads `amount` fen onto the purse at an outlet: INITIALIZE FOR LOAD, the card's MAC1 checked
/// and MAC2 computed from the issuer's load key (TEST keys in this project), CREDIT FOR LOAD,
/// journalled like a purchase (intent before CREDIT; a rerun resolves an open load).
pub fn load<T, E>(
    client: &mut Client<T>,
    layout: &Layout,
    outlet: &mut Outlet,
    amount: u32,
    time: TradeTime,
    pin: &mut E,
    journal: &mut SettlementJournal,
) -> Result<Receipt, SettleError>
where
    T: CardTransport,
    E: PinEntry + ?Sized,
{
    if amount == 0 {
        return Err(AmountError::Zero.into());
    }
    let purse = purse_ref(layout)?;
    let plan = Plan::new(layout)?;
    let (dlk_df, dlk_id) = purse_key(layout, KeyUsage::PurseLoad)?;
    steps::check_blocking(client, &plan)?;
    let facts = steps::read_card_id(client, layout)?;
    if let Some(receipt) = resolve_open(client, &purse, journal, &facts.number)? {
        return Ok(receipt);
    }
    if outlet.lost.contains(&facts.number) {
        return Err(SettleError::Lost {
            card: facts.number.clone(),
        });
    }
    if facts.expiry.as_str() < time.date().as_str() {
        return Err(SettleError::Expired {
            card: facts.number.clone(),
            expiry: facts.expiry.clone(),
        });
    }
    select_purse(client, &purse)?;
    let bytes = time.bytes();
    card::set_date(client, &[bytes[0], bytes[1], bytes[2], bytes[3]])?;
    card::verify_pin(client, &pin.pin()?)?;
    let init =
        card::init_load(client, dlk_id, amount, &outlet.terminal_no).map_err(|e| match e {
            SettleError::KeyIndexNotSupported { .. } => {
                SettleError::KeyIndexNotSupported { index: dlk_id }
            }
            other => other,
        })?;
    let algorithm = Algorithm::from_byte(init.algorithm).map_err(|_| {
        SettleError::Unreadable(format!("unknown key algorithm {:02X}", init.algorithm))
    })?;
    let dlk = outlet
        .keys
        .keys()
        .card_key(&dlk_df, dlk_id, algorithm, &facts.code)
        .map_err(SettleError::Keys)?;
    let session =
        session_key(&dlk, &load_session_input(&init.random, init.serial)).map_err(crypto_error)?;
    let load = Load {
        balance: init.balance,
        amount,
        serial: init.serial,
        terminal_no: outlet.terminal_no,
    };
    if load.mac1(&session, purse.settings).map_err(crypto_error)? != init.mac1 {
        return Err(SettleError::LoadMac1Wrong);
    }
    let mac2 = load
        .mac2(&session, purse.settings, &bytes)
        .map_err(crypto_error)?;
    let intent = Line {
        card: facts.number.clone(),
        kind: Kind::Load,
        step: Step::Intent,
        serial: init.serial,
        amounts: Some(Amounts {
            account: amount,
            self_pay: 0,
            pooled: 0,
        }),
        balance: Some(init.balance),
        algorithm: Some(init.algorithm),
        card_id_code: hex::encode_upper(facts.code),
        terminal_no: hex::encode_upper(outlet.terminal_no),
        terminal_serial: None,
        time: time.text(),
        tac: None,
        sw: None,
        reason: None,
        online: None,
    };
    journal.record(intent.clone())?;
    let tac = match card::credit_load(client, &bytes, &mac2) {
        Ok(tac) => tac,
        Err(e) if !e.is_resumable() => {
            journal.record(Line {
                step: Step::NotDone,
                sw: e.status_word().map(|sw| format!("{sw:04X}")),
                reason: Some(e.to_string()),
                ..intent
            })?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    journal.record(Line {
        step: Step::Settled,
        tac: Some(hex::encode_upper(tac)),
        ..intent.clone()
    })?;
    Ok(Receipt::from_line(&intent, &tac, false))
}

/// The balance and the log, after the PIN: what `sscard records` shows and diagnostics read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurseState {
    pub balance: u32,
    pub records: Vec<LogRecord>,
}

/// Reads the balance and the EF08 log (the purse DF selected by this function, the PIN verified
/// here first).
pub fn read_purse<T: CardTransport, E: PinEntry + ?Sized>(
    client: &mut Client<T>,
    layout: &Layout,
    pin: &mut E,
) -> Result<PurseState, SettleError> {
    let purse = purse_ref(layout)?;
    select_purse(client, &purse)?;
    card::verify_pin(client, &pin.pin()?)?;
    let balance = card::get_balance(client)?;
    let records = records::read_log(client)?;
    Ok(PurseState { balance, records })
}

/// Why the back office refuses a TAC.
#[derive(Debug, thiserror::Error)]
pub enum TacError {
    #[error("the TAC is not this transaction's under the card's DTK: a forged or altered record")]
    Mismatch,
    #[error("the record cannot be checked: {0}")]
    Record(String),
    #[error("the card's DTK cannot be made")]
    Keys(#[source] KeyError),
}

/// The back office's check of a receipt's TAC with the issuer keys (the card's DTK diversified
/// from the master by the card identification code), through `card_os::crypto::purse`.
pub fn verify_tac(keys: &IssuerKeys, layout: &Layout, receipt: &Receipt) -> Result<(), TacError> {
    let bad = |what: &str| TacError::Record(what.to_owned());
    let settings = layout
        .purse
        .as_ref()
        .map(|p| p.settings)
        .ok_or_else(|| bad("the layout has no purse"))?;
    let (df, dtk_id) = purse_key(layout, KeyUsage::PurseTac).map_err(|e| bad(&e.to_string()))?;
    let algorithm =
        Algorithm::from_byte(receipt.algorithm).map_err(|_| bad("unknown algorithm"))?;
    let hex16 = |text: &str| -> Option<Vec<u8>> { hex::decode(text).ok() };
    let code: [u8; 16] = hex16(&receipt.card_id_code)
        .and_then(|c| c.try_into().ok())
        .ok_or_else(|| bad("card identification code"))?;
    let terminal_no: [u8; 6] = hex16(&receipt.terminal_no)
        .and_then(|c| c.try_into().ok())
        .ok_or_else(|| bad("terminal number"))?;
    let time: [u8; 7] = hex16(&receipt.time)
        .and_then(|c| c.try_into().ok())
        .ok_or_else(|| bad("time"))?;
    let tac = hex16(&receipt.tac).ok_or_else(|| bad("TAC"))?;
    let dtk = keys
        .card_key(&df, dtk_id, algorithm, &code)
        .map_err(TacError::Keys)?;
    let checked = match receipt.kind {
        Kind::Purchase => {
            let terminal_serial: [u8; 4] = receipt
                .terminal_serial
                .as_deref()
                .and_then(hex16)
                .and_then(|c| c.try_into().ok())
                .ok_or_else(|| bad("terminal serial"))?;
            Purchase {
                amounts: receipt.amounts.to_bytes(),
                terminal_no,
                terminal_serial,
                time,
            }
            .verify_tac(&dtk, settings, &tac)
        }
        Kind::Load => Load {
            balance: receipt.balance_before.ok_or_else(|| bad("balance"))?,
            amount: receipt.amounts.account,
            serial: receipt.serial,
            terminal_no,
        }
        .verify_tac(&dtk, settings, &time, &tac),
        Kind::QrPayment => return Err(bad("an online payment has no TAC")),
    };
    checked.map_err(|_| TacError::Mismatch)
}
