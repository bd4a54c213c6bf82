//! The JSON of the API, shared by the service and its client (docs/back-office.md, "The API").

use serde::{Deserialize, Serialize};

/// A card's state in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardState {
    Issued,
    Activated,
    TemporarilyLost,
    Lost,
    Cancelled,
    Sealed,
}

impl CardState {
    pub const ALL: [CardState; 6] = [
        CardState::Issued,
        CardState::Activated,
        CardState::TemporarilyLost,
        CardState::Lost,
        CardState::Cancelled,
        CardState::Sealed,
    ];

    /// The stored name (the same as the JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            CardState::Issued => "issued",
            CardState::Activated => "activated",
            CardState::TemporarilyLost => "temporarily_lost",
            CardState::Lost => "lost",
            CardState::Cancelled => "cancelled",
            CardState::Sealed => "sealed",
        }
    }

    pub fn parse(text: &str) -> Option<CardState> {
        CardState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The person's card in use: at most one per person (the database's partial unique index
    /// `one_active_card_per_person` lists the same states).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            CardState::Issued | CardState::Activated | CardState::TemporarilyLost
        )
    }

    /// On the blacklist terminals cache: the card must not be used.
    pub fn is_blacklisted(self) -> bool {
        !matches!(self, CardState::Issued | CardState::Activated)
    }
}

/// Contributions and the medical insurance they pay for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Insurance {
    /// No contribution recorded yet.
    NotRecorded,
    /// Contributions paid through this month (`YYYYMM`).
    Paid { through: String },
    /// Suspended since this date (`YYYYMMDD`), for this reason.
    Suspended { since: String, reason: String },
}

/// The six-month rule, as the card itself derives it (`card_os::restriction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MedicalStatus {
    /// Activated: no restriction.
    Normal,
    /// Not activated, still within six months of issue.
    Grace,
    /// Not activated past six months of issue: settlement refused until activated.
    Restricted,
}

/// Why a card may not do something now: a stable code and one sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// `temporarily-lost`, `reported-lost`, `cancelled`, `sealed`, `insurance-suspended`,
    /// `not-activated-in-time`, `expired`, `balance-too-low`, `not-activated`.
    pub code: String,
    pub reason: String,
}

/// What this card may do now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    /// Identify the holder (read, query).
    pub identify: bool,
    /// Medical settlement (card purse offline, or the account online).
    pub settle: bool,
    /// Be activated at a bank outlet.
    pub activate: bool,
    /// Every reason something above is refused.
    pub refusals: Vec<Refusal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activation {
    pub date: String,
    pub outlet: String,
    pub terminal: String,
    /// Activated after the six months of grace (the card was restricted until then).
    pub late: bool,
}

/// The purse as the uploaded settlement records reconcile it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurseView {
    /// Balance after the last reconciled purchase, in fen (`None` before any upload).
    pub balance_fen: Option<i64>,
    /// Serial of the last purchase uploaded.
    pub last_serial: Option<i64>,
}

/// `GET /api/v1/cards/{card_number}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardStatus {
    pub card_number: String,
    pub card_id_code: String,
    pub region: String,
    pub version: String,
    pub issue_date: String,
    pub expiry_date: String,
    pub state: CardState,
    pub ssn: String,
    pub name: String,
    pub activation: Option<Activation>,
    pub supersedes: Option<String>,
    pub superseded_by: Option<String>,
    pub insurance: Insurance,
    pub medical_status: MedicalStatus,
    /// Online mode: the medical account in the back office pays, not the card's purse.
    pub online_mode: bool,
    pub account_balance_fen: i64,
    pub purse: PurseView,
    /// The date the answer was judged on (`YYYYMMDD`).
    pub today: String,
    pub may: Permissions,
}

/// `POST /api/v1/cards/{card_number}/activation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationRequest {
    /// The activation date (`YYYYMMDD`), the one written to the card.
    pub date: String,
    pub outlet: String,
    pub terminal: String,
    /// What the card says, compared with the registry (`None`: not compared).
    #[serde(default)]
    pub card_id_code: Option<String>,
    #[serde(default)]
    pub ssn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationOutcome {
    pub card_number: String,
    pub activation: Activation,
    /// The medical status the six-month rule gave before this activation.
    pub medical_status_before: MedicalStatus,
    pub event_id: i64,
}

/// `POST /api/v1/cards/{card_number}/loss`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// By phone or online: the card is blocked at once, for a while.
    Temporary,
    /// At the counter with the identity document: final, a replacement follows.
    Formal,
    /// The temporarily lost card was found: back to its state before.
    Found,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LossRequest {
    pub kind: LossKind,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    pub reason: String,
}

/// The answer to a state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    pub card_number: String,
    pub from: CardState,
    pub to: CardState,
    pub event_id: i64,
    /// The blacklist version that carries this change (`None`: the blacklist did not change).
    pub blacklist_version: Option<i64>,
}

/// One offline purchase as the card signed it (docs/settlement.md: INITIALIZE FOR PURCHASE and
/// DEBIT FOR PURCHASE). Amounts in fen; byte fields in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementRecord {
    pub card_number: String,
    /// The card's purchase serial (INITIALIZE FOR PURCHASE).
    pub serial: u16,
    /// The balance before the purchase (INITIALIZE FOR PURCHASE).
    pub balance_before: u32,
    pub account_fen: u32,
    pub self_pay_fen: u32,
    pub pooled_fen: u32,
    /// Terminal number, 6 bytes (12 hex digits).
    pub terminal_no: String,
    /// Terminal transaction serial, 4 bytes (8 hex digits).
    pub terminal_serial: String,
    /// `YYYYMMDDhhmmss`.
    pub time: String,
    /// The card's TAC, 4 bytes (8 hex digits).
    pub tac: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRequest {
    pub records: Vec<SettlementRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordVerdict {
    /// Stored, and its balance follows the previous record's.
    Accepted,
    /// Stored; the purse does not reconcile (a gap in serials, or a balance that does not
    /// follow): `detail` says which.
    AcceptedUnreconciled,
    /// The same record was uploaded before: nothing changed.
    Duplicate,
    /// Refused: `detail` says why (TAC wrong, unknown card, another record with this serial).
    Refused,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordResult {
    pub card_number: String,
    pub serial: u16,
    pub verdict: RecordVerdict,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadOutcome {
    pub results: Vec<RecordResult>,
}

/// `GET /api/v1/blacklist?since=N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistDelta {
    /// Ask with `since` = this next time.
    pub version: i64,
    /// Changes after `since`, oldest first (at most [`BlacklistDelta::PAGE`]; `more` if cut).
    pub changes: Vec<BlacklistChange>,
    pub more: bool,
}

impl BlacklistDelta {
    pub const PAGE: i64 = 5000;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistChange {
    pub version: i64,
    pub card_number: String,
    /// `true`: do not accept the card; `false`: accept it again.
    pub listed: bool,
    pub state: CardState,
}

/// One card of a personalisation batch (`POST /api/v1/cards`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRegistration {
    pub card_number: String,
    pub card_id_code: String,
    pub ssn: String,
    pub name: String,
    pub issue_date: String,
    pub expiry_date: String,
    pub version: String,
    #[serde(default)]
    pub online_mode: bool,
    /// The card this one replaces (it is cancelled, if still in use, in the same transaction).
    #[serde(default)]
    pub supersedes: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub cards: Vec<CardRegistration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResult {
    pub card_number: String,
    /// `registered`, `already-registered`, or `refused`.
    pub outcome: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterOutcome {
    pub results: Vec<RegisterResult>,
}

/// `POST /api/v1/persons/{ssn}/insurance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum InsuranceChange {
    /// Contributions paid through `through` (`YYYYMM`); lifts a suspension.
    Paid {
        through: String,
    },
    Suspend {
        since: String,
        reason: String,
    },
}

/// `POST /api/v1/cards/{card_number}/account`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountChange {
    pub online_mode: bool,
    pub balance_fen: i64,
}

/// One line of the append-only event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub at: String,
    pub card_number: Option<String>,
    pub ssn: Option<String>,
    pub kind: String,
    pub detail: serde_json::Value,
    /// The credential's terminal id (or `cli:` and the operator for the admin CLI).
    pub actor: String,
    /// The terminal the request names (an outlet's terminal id), when it names one.
    pub terminal: Option<String>,
}

/// `POST /api/v1/terminals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalRequest {
    pub id: String,
    pub role: crate::auth::Role,
}

/// The new credential: shown once, stored only as its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalCredential {
    pub id: String,
    pub role: crate::auth::Role,
    pub token: String,
}

/// `POST /api/v1/terminals/{id}/revocation`: the terminal whose credential is now refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalRevocation {
    pub id: String,
    pub role: crate::auth::Role,
    /// It was revoked before: nothing changed.
    pub already_revoked: bool,
    /// The `terminal-revoked` event (`None` when nothing changed).
    pub event_id: Option<i64>,
}

/// Every error answer: a stable code and one sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub reason: String,
}
