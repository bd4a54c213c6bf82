//! The registry: what the back office knows about persons and cards, and every change to it.
//!
//! Each write is one transaction that also appends its event (who, when, from which terminal),
//! the blacklist change it causes, and — when the request carried an idempotency key — its
//! answer, so a retried request finds the answer or finds nothing done.

use card_os::crypto::purse::{Purchase, Settings};
use card_os::crypto::Algorithm;
use file_structures::personalise::IssuerKeys;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::auth::{self, Credential, Role};
use crate::error::PlatformError;
use crate::model::*;
use crate::store::{int, is_unique_violation, opt_int, opt_text, text, Backend, Store};
use crate::time;

/// Who makes a change: the credential's terminal id, and the terminal the request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: String,
    pub terminal: Option<String>,
}

impl Actor {
    pub fn new(id: impl Into<String>) -> Self {
        Actor {
            id: id.into(),
            terminal: None,
        }
    }
}

/// A request's idempotency key, scoped to the terminal that sent it, with the hash of the
/// request it was first used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub terminal_id: String,
    pub key: String,
    pub request_sha256: String,
}

/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;
/// The most records one upload may carry.
pub const MAX_UPLOAD_RECORDS: usize = 1000;
/// The most cards one registration request may carry.
pub const MAX_REGISTER_CARDS: usize = 1000;
/// The most events one history answer lists.
pub const MAX_EVENTS: i64 = 1000;

/// A state change a terminal or the administration asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    LossTemporary,
    LossFormal,
    Found,
    Cancel,
    Seal,
}

impl Action {
    fn event_kind(self) -> &'static str {
        match self {
            Action::LossTemporary => "reported-lost-temporarily",
            Action::LossFormal => "reported-lost",
            Action::Found => "found",
            Action::Cancel => "cancelled",
            Action::Seal => "sealed",
        }
    }
}

/// The refusal a card's state gives to anything but identification.
fn state_refusal(state: CardState) -> Option<Refusal> {
    let (code, reason) = match state {
        CardState::Issued | CardState::Activated => return None,
        CardState::TemporarilyLost => (
            "temporarily-lost",
            "the card is reported lost (temporarily)",
        ),
        CardState::Lost => ("reported-lost", "the card is reported lost"),
        CardState::Cancelled => ("cancelled", "the card is cancelled"),
        CardState::Sealed => ("sealed", "the card is sealed"),
    };
    Some(Refusal {
        code: code.into(),
        reason: reason.into(),
    })
}

/// The allowed transitions (docs/back-office.md, "Card states").
pub fn next_state(
    from: CardState,
    action: Action,
    before_loss: Option<CardState>,
) -> Result<CardState, PlatformError> {
    use CardState::*;
    let to = match (action, from) {
        (Action::LossTemporary, Issued | Activated) => Some(TemporarilyLost),
        (Action::LossFormal, Issued | Activated | TemporarilyLost) => Some(Lost),
        (Action::Found, TemporarilyLost) => Some(before_loss.unwrap_or(Issued)),
        (Action::Cancel, Issued | Activated | TemporarilyLost | Lost | Sealed) => Some(Cancelled),
        (Action::Seal, Issued | Activated) => Some(Sealed),
        _ => None,
    };
    to.ok_or_else(|| {
        PlatformError::refused(
            "state-transition-refused",
            format!(
                "a card that is {} cannot be {}",
                from.as_str().replace('_', " "),
                action.event_kind().replace('-', " ")
            ),
        )
    })
}

/// The six-month rule for a card, as the card itself computes it.
pub fn medical_status(state: CardState, issue_date: &str, today: &str) -> MedicalStatus {
    let activated = !matches!(state, CardState::Issued);
    match card_os::restriction::status(
        activated,
        time::card_date(issue_date),
        time::card_date(today),
    ) {
        card_os::restriction::STATUS_NORMAL => MedicalStatus::Normal,
        card_os::restriction::STATUS_GRACE => MedicalStatus::Grace,
        _ => MedicalStatus::Restricted,
    }
}

fn refusal(code: &str, reason: String) -> Refusal {
    Refusal {
        code: code.into(),
        reason,
    }
}

/// What a card may do on `today`, and every reason it may not (an `amount` in fen also checks
/// the balance that would pay it).
pub fn permissions(status: &CardStatus, amount: Option<i64>) -> Permissions {
    let mut refusals = Vec::new();
    let state_ok = matches!(status.state, CardState::Issued | CardState::Activated);
    if let Some(r) = state_refusal(status.state) {
        refusals.push(r);
    }
    let expired = status.expiry_date.as_str() < status.today.as_str();
    if expired {
        refusals.push(refusal(
            "expired",
            format!("the card expired on {}", status.expiry_date),
        ));
    }
    let suspended = matches!(status.insurance, Insurance::Suspended { .. });
    if let Insurance::Suspended { since, reason } = &status.insurance {
        refusals.push(refusal(
            "insurance-suspended",
            format!("medical insurance is suspended since {since}: {reason}"),
        ));
    }
    let restricted = status.medical_status == MedicalStatus::Restricted;
    if restricted {
        refusals.push(refusal(
            "not-activated-in-time",
            "not activated within six months of issue: medical insurance restricted until activated"
                .into(),
        ));
    }
    let balance = if status.online_mode {
        Some(status.account_balance_fen)
    } else {
        status.purse.balance_fen
    };
    let too_low = matches!((amount, balance), (Some(a), Some(b)) if b < a);
    if too_low {
        refusals.push(refusal(
            "balance-too-low",
            format!(
                "the balance ({} fen) is lower than the amount ({} fen)",
                balance.unwrap_or(0),
                amount.unwrap_or(0)
            ),
        ));
    }
    let activate = status.state == CardState::Issued && !expired;
    if status.state == CardState::Activated {
        refusals.push(refusal(
            "already-activated",
            "the card is already activated".into(),
        ));
    }
    let identify = state_ok && !expired;
    Permissions {
        identify,
        settle: identify && !suspended && !restricted && !too_low,
        activate,
        refusals,
    }
}

pub(crate) fn check_len(field: &str, value: &str, max: usize) -> Result<(), PlatformError> {
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(PlatformError::invalid(
            field,
            format!("1 to {max} characters, no control characters"),
        ));
    }
    Ok(())
}

fn check_date_field<'a>(field: &str, value: &'a str) -> Result<&'a str, PlatformError> {
    time::check_date(value).ok_or_else(|| PlatformError::invalid(field, "a date YYYYMMDD"))
}

/// A card number as the registry keys it: 1–20 ASCII letters and digits.
pub fn check_card_number(value: &str) -> Result<(), PlatformError> {
    if (1..=20).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(PlatformError::invalid(
            "card_number",
            "1 to 20 letters and digits",
        ))
    }
}

pub(crate) fn hex_field<const N: usize>(
    field: &str,
    value: &str,
) -> Result<[u8; N], PlatformError> {
    hex::decode(value)
        .ok()
        .and_then(|v| <[u8; N]>::try_from(v).ok())
        .ok_or_else(|| PlatformError::invalid(field, format!("{} hex digits", N * 2)))
}

/// The card key algorithm of a card version (2.0: two-key 3DES, 3.0: SM4).
pub(crate) fn algorithm_of(version: &str) -> Result<Algorithm, PlatformError> {
    match version {
        "2.0" => Ok(Algorithm::Des3),
        "3.0" => Ok(Algorithm::Sm4),
        _ => Err(PlatformError::invalid("version", "2.0 or 3.0")),
    }
}

/// The columns a card's status is built from.
const CARD_COLUMNS: &str = "c.card_number, c.card_id_code, c.region, c.version, c.issue_date,
    c.expiry_date, c.state, c.state_before_loss, c.activation_date, c.activation_outlet,
    c.activation_terminal, c.activation_late, c.supersedes, c.superseded_by, c.online_mode,
    c.account_balance_fen, c.purse_balance_fen, c.purse_serial, p.ssn, p.name, p.paid_through,
    p.suspended_since, p.suspended_reason";

fn state_of(row: &AnyRow, column: &str) -> Result<CardState, PlatformError> {
    let value = text(row, column)?;
    CardState::parse(&value).ok_or_else(|| PlatformError::Corrupt(format!("state {value:?}")))
}

fn status_from_row(row: &AnyRow, today: &str) -> Result<CardStatus, PlatformError> {
    let state = state_of(row, "state")?;
    let issue_date = text(row, "issue_date")?;
    let insurance = match (
        opt_text(row, "suspended_since")?,
        opt_text(row, "paid_through")?,
    ) {
        (Some(since), _) => Insurance::Suspended {
            since,
            reason: opt_text(row, "suspended_reason")?.unwrap_or_default(),
        },
        (None, Some(through)) => Insurance::Paid { through },
        (None, None) => Insurance::NotRecorded,
    };
    let activation = match opt_text(row, "activation_date")? {
        Some(date) => Some(Activation {
            date,
            outlet: opt_text(row, "activation_outlet")?.unwrap_or_default(),
            terminal: opt_text(row, "activation_terminal")?.unwrap_or_default(),
            late: opt_int(row, "activation_late")?.unwrap_or(0) != 0,
        }),
        None => None,
    };
    let mut status = CardStatus {
        card_number: text(row, "card_number")?,
        card_id_code: text(row, "card_id_code")?,
        region: text(row, "region")?,
        version: text(row, "version")?,
        medical_status: medical_status(state, &issue_date, today),
        issue_date,
        expiry_date: text(row, "expiry_date")?,
        state,
        ssn: text(row, "ssn")?,
        name: text(row, "name")?,
        activation,
        supersedes: opt_text(row, "supersedes")?,
        superseded_by: opt_text(row, "superseded_by")?,
        insurance,
        online_mode: int(row, "online_mode")? != 0,
        account_balance_fen: int(row, "account_balance_fen")?,
        purse: PurseView {
            balance_fen: opt_int(row, "purse_balance_fen")?,
            last_serial: opt_int(row, "purse_serial")?,
        },
        today: today.to_owned(),
        may: Permissions {
            identify: false,
            settle: false,
            activate: false,
            refusals: Vec::new(),
        },
    };
    status.may = permissions(&status, None);
    Ok(status)
}

impl Store {
    /// `" FOR UPDATE OF c"` on PostgreSQL (the card row is locked for the transaction); SQLite
    /// has a single writer, so nothing to add.
    fn lock_card(&self) -> &'static str {
        match self.backend() {
            Backend::Postgres => " FOR UPDATE OF c",
            Backend::Sqlite => "",
        }
    }

    pub(crate) async fn load_card(
        &self,
        conn: &mut AnyConnection,
        card_number: &str,
        today: &str,
        lock: bool,
    ) -> Result<CardStatus, PlatformError> {
        let sql = format!(
            "SELECT {CARD_COLUMNS} FROM cards c JOIN persons p ON p.id = c.person_id
             WHERE c.card_number = $1{}",
            if lock { self.lock_card() } else { "" }
        );
        let row = sqlx::query(&sql)
            .bind(card_number)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| PlatformError::UnknownCard(card_number.into()))?;
        status_from_row(&row, today)
    }

    /// A card's status and what it may do on `today` (default: today, UTC); `amount` (fen)
    /// also checks the balance that would pay it.
    pub async fn card_status(
        &self,
        card_number: &str,
        today: Option<&str>,
        amount: Option<i64>,
    ) -> Result<CardStatus, PlatformError> {
        check_card_number(card_number)?;
        let today = match today {
            Some(t) => check_date_field("today", t)?.to_owned(),
            None => time::today(),
        };
        if amount.is_some_and(|a| a < 0) {
            return Err(PlatformError::invalid("amount", "fen, 0 or more"));
        }
        let mut conn = self.reader.acquire().await?;
        let mut status = self
            .load_card(&mut conn, card_number, &today, false)
            .await?;
        if amount.is_some() {
            status.may = permissions(&status, amount);
        }
        Ok(status)
    }

    /// The bare indexed point query the benchmark compares a status query with.
    pub async fn bare_point_query(&self, card_number: &str) -> Result<String, PlatformError> {
        let row = sqlx::query("SELECT state FROM cards WHERE card_number = $1")
            .bind(card_number)
            .fetch_optional(&self.reader)
            .await?
            .ok_or_else(|| PlatformError::UnknownCard(card_number.into()))?;
        text(&row, "state")
    }

    async fn idempotent_answer<T: DeserializeOwned>(
        conn: &mut AnyConnection,
        key: Option<&IdempotencyKey>,
    ) -> Result<Option<T>, PlatformError> {
        let Some(key) = key else { return Ok(None) };
        let row = sqlx::query(
            "SELECT request_sha256, response FROM idempotency WHERE terminal_id = $1 AND key = $2",
        )
        .bind(&key.terminal_id)
        .bind(&key.key)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        if text(&row, "request_sha256")? != key.request_sha256 {
            return Err(PlatformError::IdempotencyMismatch);
        }
        let answer = serde_json::from_str(&text(&row, "response")?)
            .map_err(|e| PlatformError::Corrupt(format!("a stored answer: {e}")))?;
        Ok(Some(answer))
    }

    async fn keep_answer<T: Serialize>(
        conn: &mut AnyConnection,
        key: Option<&IdempotencyKey>,
        answer: &T,
    ) -> Result<(), PlatformError> {
        let Some(key) = key else { return Ok(()) };
        let response = serde_json::to_string(answer)
            .map_err(|e| PlatformError::Corrupt(format!("an answer: {e}")))?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency (terminal_id, key, request_sha256, status, response, at)
             VALUES ($1, $2, $3, 200, $4, $5)",
        )
        .bind(&key.terminal_id)
        .bind(&key.key)
        .bind(&key.request_sha256)
        .bind(response)
        .bind(time::now_rfc3339())
        .execute(&mut *conn)
        .await
        .map_err(PlatformError::from);
        match inserted {
            // The same key committed by a concurrent twin: retry, and find its answer.
            Err(e) if is_unique_violation(&e) => Err(PlatformError::Conflict),
            other => other.map(|_| ()),
        }
    }

    pub(crate) async fn append_event(
        conn: &mut AnyConnection,
        card_number: Option<&str>,
        ssn: Option<&str>,
        kind: &str,
        detail: serde_json::Value,
        actor: &Actor,
    ) -> Result<i64, PlatformError> {
        let row = sqlx::query(
            "INSERT INTO events (at, card_number, ssn, kind, detail, actor, terminal)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(time::now_rfc3339())
        .bind(card_number)
        .bind(ssn)
        .bind(kind)
        .bind(detail.to_string())
        .bind(&actor.id)
        .bind(actor.terminal.as_deref())
        .fetch_one(&mut *conn)
        .await?;
        int(&row, "id")
    }

    /// Appends a blacklist change; on PostgreSQL blacklist writers are serialised until commit,
    /// so versions become visible in order and a terminal asking "since N" misses none.
    async fn blacklist_change(
        &self,
        conn: &mut AnyConnection,
        card_number: &str,
        from: CardState,
        to: CardState,
    ) -> Result<Option<i64>, PlatformError> {
        // Listed or not changed, or still listed with another state (terminals learn it too).
        let changed =
            from.is_blacklisted() != to.is_blacklisted() || (to.is_blacklisted() && from != to);
        if !changed {
            return Ok(None);
        }
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(8621)")
                .execute(&mut *conn)
                .await?;
        }
        let row = sqlx::query(
            "INSERT INTO blacklist (card_number, listed, state, at) VALUES ($1, $2, $3, $4)
             RETURNING version",
        )
        .bind(card_number)
        .bind(i64::from(to.is_blacklisted()))
        .bind(to.as_str())
        .bind(time::now_rfc3339())
        .fetch_one(&mut *conn)
        .await?;
        Ok(Some(int(&row, "version")?))
    }

    /// Records an activation (idempotent under its key; the six-month rule applied: a late
    /// activation is allowed and recorded as late).
    pub async fn record_activation(
        &self,
        card_number: &str,
        request: &ActivationRequest,
        actor: &Actor,
        key: Option<&IdempotencyKey>,
    ) -> Result<ActivationOutcome, PlatformError> {
        check_card_number(card_number)?;
        check_date_field("date", &request.date)?;
        check_len("outlet", &request.outlet, 32)?;
        check_len("terminal", &request.terminal, 32)?;
        self.retrying(|| self.activate_once(card_number, request, actor, key))
            .await
    }

    async fn activate_once(
        &self,
        card_number: &str,
        request: &ActivationRequest,
        actor: &Actor,
        key: Option<&IdempotencyKey>,
    ) -> Result<ActivationOutcome, PlatformError> {
        let mut tx = self.writer.begin().await?;
        if let Some(answer) = Self::idempotent_answer(&mut tx, key).await? {
            return Ok(answer);
        }
        let card = self
            .load_card(&mut tx, card_number, &request.date, true)
            .await?;
        for (field, given, registered) in [
            ("card_id_code", &request.card_id_code, &card.card_id_code),
            ("ssn", &request.ssn, &card.ssn),
        ] {
            if let Some(given) = given {
                if !given.eq_ignore_ascii_case(registered) {
                    return Err(PlatformError::refused(
                        "data-mismatch",
                        format!("the card's {field} differs from the registry's"),
                    ));
                }
            }
        }
        if let Some(r) = state_refusal(card.state) {
            return Err(PlatformError::refused(&r.code, r.reason));
        }
        if card.state == CardState::Activated {
            return Err(PlatformError::refused(
                "already-activated",
                "the card is already activated",
            ));
        }
        if card.expiry_date < request.date {
            return Err(PlatformError::refused(
                "expired",
                format!("the card expired on {}", card.expiry_date),
            ));
        }
        if request.date < card.issue_date {
            return Err(PlatformError::invalid(
                "date",
                format!("before the card's issue date {}", card.issue_date),
            ));
        }
        let before = card.medical_status;
        let late = before == MedicalStatus::Restricted;
        let mut actor = actor.clone();
        actor.terminal = Some(request.terminal.clone());
        let updated = sqlx::query(
            "UPDATE cards SET state = 'activated', activation_date = $1, activation_outlet = $2,
             activation_terminal = $3, activation_late = $4, updated_at = $5
             WHERE card_number = $6 AND state = 'issued'",
        )
        .bind(&request.date)
        .bind(&request.outlet)
        .bind(&request.terminal)
        .bind(i64::from(late))
        .bind(time::now_rfc3339())
        .bind(card_number)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(PlatformError::Conflict);
        }
        let event_id = Self::append_event(
            &mut tx,
            Some(card_number),
            Some(&card.ssn),
            "activated",
            serde_json::json!({"date": request.date, "outlet": request.outlet, "late": late,
                "medical_status_before": before}),
            &actor,
        )
        .await?;
        let outcome = ActivationOutcome {
            card_number: card_number.into(),
            activation: Activation {
                date: request.date.clone(),
                outlet: request.outlet.clone(),
                terminal: request.terminal.clone(),
                late,
            },
            medical_status_before: before,
            event_id,
        };
        Self::keep_answer(&mut tx, key, &outcome).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// A loss report, the card found again, a cancellation or sealing.
    pub async fn change_state(
        &self,
        card_number: &str,
        action: Action,
        note: Option<&str>,
        actor: &Actor,
        key: Option<&IdempotencyKey>,
    ) -> Result<StateChange, PlatformError> {
        check_card_number(card_number)?;
        if let Some(note) = note {
            check_len("note", note, 200)?;
        }
        self.retrying(|| self.change_state_once(card_number, action, note, actor, key))
            .await
    }

    async fn change_state_once(
        &self,
        card_number: &str,
        action: Action,
        note: Option<&str>,
        actor: &Actor,
        key: Option<&IdempotencyKey>,
    ) -> Result<StateChange, PlatformError> {
        let mut tx = self.writer.begin().await?;
        if let Some(answer) = Self::idempotent_answer(&mut tx, key).await? {
            return Ok(answer);
        }
        let today = time::today();
        let card = self.load_card(&mut tx, card_number, &today, true).await?;
        let row = sqlx::query("SELECT state_before_loss FROM cards WHERE card_number = $1")
            .bind(card_number)
            .fetch_one(&mut *tx)
            .await?;
        let before_loss = opt_text(&row, "state_before_loss")?.and_then(|s| CardState::parse(&s));
        let to = next_state(card.state, action, before_loss)?;
        let keep_before = match action {
            Action::LossTemporary => Some(card.state.as_str()),
            _ => None,
        };
        let updated = sqlx::query(
            "UPDATE cards SET state = $1, state_before_loss = $2, updated_at = $3
             WHERE card_number = $4 AND state = $5",
        )
        .bind(to.as_str())
        .bind(keep_before)
        .bind(time::now_rfc3339())
        .bind(card_number)
        .bind(card.state.as_str())
        .execute(&mut *tx)
        .await;
        let updated = match updated.map_err(PlatformError::from) {
            // "Found" while the person already has another card in use.
            Err(e) if is_unique_violation(&e) => {
                return Err(PlatformError::refused(
                    "person-has-active-card",
                    "the holder has another card in use",
                ))
            }
            other => other?,
        };
        if updated.rows_affected() != 1 {
            return Err(PlatformError::Conflict);
        }
        let blacklist_version = self
            .blacklist_change(&mut tx, card_number, card.state, to)
            .await?;
        let event_id = Self::append_event(
            &mut tx,
            Some(card_number),
            Some(&card.ssn),
            action.event_kind(),
            serde_json::json!({"from": card.state, "to": to, "note": note}),
            actor,
        )
        .await?;
        let change = StateChange {
            card_number: card_number.into(),
            from: card.state,
            to,
            event_id,
            blacklist_version,
        };
        Self::keep_answer(&mut tx, key, &change).await?;
        tx.commit().await?;
        Ok(change)
    }

    /// Registers the cards of a personalisation batch, each in its own transaction: a card
    /// already registered with the same data is reported, not changed.
    pub async fn register_cards(
        &self,
        cards: &[CardRegistration],
        actor: &Actor,
    ) -> Result<RegisterOutcome, PlatformError> {
        if cards.len() > MAX_REGISTER_CARDS {
            return Err(PlatformError::invalid(
                "cards",
                format!("at most {MAX_REGISTER_CARDS} per request"),
            ));
        }
        let mut results = Vec::with_capacity(cards.len());
        for card in cards {
            let result = match self.retrying(|| self.register_once(card, actor)).await {
                Ok(outcome) => RegisterResult {
                    card_number: card.card_number.clone(),
                    outcome: outcome.into(),
                    detail: None,
                },
                Err(
                    e @ (PlatformError::Refused { .. }
                    | PlatformError::Invalid { .. }
                    | PlatformError::UnknownCard(_)),
                ) => RegisterResult {
                    card_number: card.card_number.clone(),
                    outcome: "refused".into(),
                    detail: Some(e.to_string()),
                },
                Err(e) => return Err(e),
            };
            results.push(result);
        }
        Ok(RegisterOutcome { results })
    }

    async fn register_once(
        &self,
        card: &CardRegistration,
        actor: &Actor,
    ) -> Result<&'static str, PlatformError> {
        check_card_number(&card.card_number)?;
        let cic = hex_field::<16>("card_id_code", &card.card_id_code)?;
        let region = hex::encode_upper(&cic[..3]);
        if card.ssn.len() != 18 || !card.ssn.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(PlatformError::invalid(
                "ssn",
                "18 digits (the last may be X)",
            ));
        }
        check_len("name", &card.name, 64)?;
        check_date_field("issue_date", &card.issue_date)?;
        check_date_field("expiry_date", &card.expiry_date)?;
        algorithm_of(&card.version)?;
        let now = time::now_rfc3339();
        let mut tx = self.writer.begin().await?;
        let existing = sqlx::query(
            "SELECT c.card_id_code, p.ssn FROM cards c JOIN persons p ON p.id = c.person_id
             WHERE c.card_number = $1",
        )
        .bind(&card.card_number)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            if text(&row, "card_id_code")?.eq_ignore_ascii_case(&card.card_id_code)
                && text(&row, "ssn")? == card.ssn
            {
                return Ok("already-registered");
            }
            return Err(PlatformError::refused(
                "card-number-taken",
                "another card with this card number is registered",
            ));
        }
        sqlx::query(
            "INSERT INTO persons (ssn, name, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (ssn) DO NOTHING",
        )
        .bind(&card.ssn)
        .bind(&card.name)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        let person = sqlx::query("SELECT id, name FROM persons WHERE ssn = $1")
            .bind(&card.ssn)
            .fetch_one(&mut *tx)
            .await?;
        if text(&person, "name")? != card.name {
            return Err(PlatformError::refused(
                "data-mismatch",
                "the name differs from the registry's for this social security number",
            ));
        }
        let person_id = int(&person, "id")?;
        if let Some(old) = &card.supersedes {
            let old_card = self.load_card(&mut tx, old, &time::today(), true).await?;
            if old_card.ssn != card.ssn {
                return Err(PlatformError::refused(
                    "data-mismatch",
                    "the card replaced belongs to someone else",
                ));
            }
            if old_card.superseded_by.is_some() {
                return Err(PlatformError::refused(
                    "already-replaced",
                    format!("card {old} was replaced already"),
                ));
            }
            let to = if old_card.state.is_active() {
                CardState::Cancelled
            } else {
                old_card.state
            };
            sqlx::query(
                "UPDATE cards SET state = $1, superseded_by = $2, updated_at = $3
                 WHERE card_number = $4",
            )
            .bind(to.as_str())
            .bind(&card.card_number)
            .bind(&now)
            .bind(old)
            .execute(&mut *tx)
            .await?;
            self.blacklist_change(&mut tx, old, old_card.state, to)
                .await?;
            Self::append_event(
                &mut tx,
                Some(old),
                Some(&card.ssn),
                "superseded",
                serde_json::json!({"by": card.card_number, "from": old_card.state, "to": to}),
                actor,
            )
            .await?;
        }
        let inserted = sqlx::query(
            "INSERT INTO cards (card_number, card_id_code, person_id, region, version,
                issue_date, expiry_date, state, supersedes, online_mode, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'issued', $8, $9, $10)",
        )
        .bind(&card.card_number)
        .bind(card.card_id_code.to_ascii_uppercase())
        .bind(person_id)
        .bind(region)
        .bind(&card.version)
        .bind(&card.issue_date)
        .bind(&card.expiry_date)
        .bind(card.supersedes.as_deref())
        .bind(i64::from(card.online_mode))
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(PlatformError::from);
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                let message = e.to_string();
                return Err(if message.contains("card_id_code") {
                    PlatformError::refused(
                        "card-id-code-taken",
                        "another card has this card identification code",
                    )
                } else {
                    PlatformError::refused(
                        "person-has-active-card",
                        "the holder has another card in use (report it lost or replace it)",
                    )
                });
            }
            other => other?,
        };
        Self::append_event(
            &mut tx,
            Some(&card.card_number),
            Some(&card.ssn),
            "registered",
            serde_json::json!({"card_id_code": card.card_id_code, "version": card.version,
                "issue_date": card.issue_date, "expiry_date": card.expiry_date,
                "supersedes": card.supersedes}),
            actor,
        )
        .await?;
        tx.commit().await?;
        Ok("registered")
    }

    /// Contributions paid through a month, or insurance suspended.
    pub async fn change_insurance(
        &self,
        ssn: &str,
        change: &InsuranceChange,
        actor: &Actor,
    ) -> Result<i64, PlatformError> {
        check_len("ssn", ssn, 18)?;
        match change {
            InsuranceChange::Paid { through } => {
                time::check_month(through)
                    .ok_or_else(|| PlatformError::invalid("through", "a month YYYYMM"))?;
            }
            InsuranceChange::Suspend { since, reason } => {
                check_date_field("since", since)?;
                check_len("reason", reason, 200)?;
            }
        }
        self.retrying(|| async {
            let mut tx = self.writer.begin().await?;
            let updated = match change {
                InsuranceChange::Paid { through } => {
                    sqlx::query(
                        "UPDATE persons SET paid_through = $1, suspended_since = NULL,
                         suspended_reason = NULL WHERE ssn = $2",
                    )
                    .bind(through)
                    .bind(ssn)
                    .execute(&mut *tx)
                    .await?
                }
                InsuranceChange::Suspend { since, reason } => {
                    sqlx::query(
                        "UPDATE persons SET suspended_since = $1, suspended_reason = $2
                         WHERE ssn = $3",
                    )
                    .bind(since)
                    .bind(reason)
                    .bind(ssn)
                    .execute(&mut *tx)
                    .await?
                }
            };
            if updated.rows_affected() != 1 {
                return Err(PlatformError::UnknownPerson(ssn.into()));
            }
            let kind = match change {
                InsuranceChange::Paid { .. } => "insurance-paid",
                InsuranceChange::Suspend { .. } => "insurance-suspended",
            };
            let detail = serde_json::to_value(change)
                .map_err(|e| PlatformError::Corrupt(format!("an insurance change: {e}")))?;
            let id = Self::append_event(&mut tx, None, Some(ssn), kind, detail, actor).await?;
            tx.commit().await?;
            Ok(id)
        })
        .await
    }

    /// Sets a card's account mode and its online medical account balance.
    pub async fn change_account(
        &self,
        card_number: &str,
        change: &AccountChange,
        actor: &Actor,
    ) -> Result<i64, PlatformError> {
        check_card_number(card_number)?;
        if change.balance_fen < 0 {
            return Err(PlatformError::invalid("balance_fen", "fen, 0 or more"));
        }
        self.retrying(|| async {
            let mut tx = self.writer.begin().await?;
            let updated = sqlx::query(
                "UPDATE cards SET online_mode = $1, account_balance_fen = $2, updated_at = $3
                 WHERE card_number = $4",
            )
            .bind(i64::from(change.online_mode))
            .bind(change.balance_fen)
            .bind(time::now_rfc3339())
            .bind(card_number)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() != 1 {
                return Err(PlatformError::UnknownCard(card_number.into()));
            }
            let id = Self::append_event(
                &mut tx,
                Some(card_number),
                None,
                "account-changed",
                serde_json::json!({"online_mode": change.online_mode,
                    "balance_fen": change.balance_fen}),
                actor,
            )
            .await?;
            tx.commit().await?;
            Ok(id)
        })
        .await
    }

    /// Uploads offline settlement records: each TAC verified with the card's DTK (from the
    /// issuer keys), de-duplicated by card and serial, the purse reconciled; all in one
    /// transaction with the idempotency key.
    pub async fn upload_settlements(
        &self,
        records: &[SettlementRecord],
        keys: &IssuerKeys,
        actor: &Actor,
        key: Option<&IdempotencyKey>,
    ) -> Result<UploadOutcome, PlatformError> {
        if records.is_empty() || records.len() > MAX_UPLOAD_RECORDS {
            return Err(PlatformError::invalid(
                "records",
                format!("1 to {MAX_UPLOAD_RECORDS} records"),
            ));
        }
        // The TACs are checked before the transaction: it only writes.
        let mut verdicts = Vec::with_capacity(records.len());
        for record in records {
            verdicts.push(self.retrying(|| self.verify_record(record, keys)).await?);
        }
        self.retrying(|| self.upload_once(records, &verdicts, actor, key))
            .await
    }

    async fn verify_record(
        &self,
        record: &SettlementRecord,
        keys: &IssuerKeys,
    ) -> Result<Result<(), String>, PlatformError> {
        if check_card_number(&record.card_number).is_err() {
            return Ok(Err(
                "the card number is not 1 to 20 letters and digits".into()
            ));
        }
        let parsed = (|| {
            let terminal_no = hex_field::<6>("terminal_no", &record.terminal_no)?;
            let terminal_serial = hex_field::<4>("terminal_serial", &record.terminal_serial)?;
            let tac = hex_field::<4>("tac", &record.tac)?;
            if record.time.len() != 14 || !record.time.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PlatformError::invalid("time", "YYYYMMDDhhmmss"));
            }
            let time = hex_field::<7>("time", &record.time)?;
            Ok::<_, PlatformError>((terminal_no, terminal_serial, tac, time))
        })();
        let (terminal_no, terminal_serial, tac, time) = match parsed {
            Ok(p) => p,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let row = sqlx::query("SELECT card_id_code, version FROM cards WHERE card_number = $1")
            .bind(&record.card_number)
            .fetch_optional(&self.reader)
            .await?;
        let Some(row) = row else {
            return Ok(Err(format!(
                "card {} is not in the registry",
                record.card_number
            )));
        };
        let cic = hex_field::<16>("card_id_code", &text(&row, "card_id_code")?)?;
        let algorithm = algorithm_of(&text(&row, "version")?)?;
        let dtk = keys
            .card_key("DF04", 0x33, algorithm, &cic)
            .map_err(|e| PlatformError::Corrupt(format!("the card's TAC key: {e}")))?;
        let mut amounts = [0u8; 12];
        amounts[..4].copy_from_slice(&record.account_fen.to_be_bytes());
        amounts[4..8].copy_from_slice(&record.self_pay_fen.to_be_bytes());
        amounts[8..].copy_from_slice(&record.pooled_fen.to_be_bytes());
        let purchase = Purchase {
            amounts,
            terminal_no,
            terminal_serial,
            time,
        };
        Ok(purchase
            .verify_tac(&dtk, Settings::default(), &tac)
            .map_err(|_| "the TAC is not the card's: the record is forged or altered".into()))
    }

    async fn upload_once(
        &self,
        records: &[SettlementRecord],
        verdicts: &[Result<(), String>],
        actor: &Actor,
        key: Option<&IdempotencyKey>,
    ) -> Result<UploadOutcome, PlatformError> {
        let mut tx = self.writer.begin().await?;
        if let Some(answer) = Self::idempotent_answer(&mut tx, key).await? {
            return Ok(answer);
        }
        let now = time::now_rfc3339();
        let mut results = Vec::with_capacity(records.len());
        for (record, verdict) in records.iter().zip(verdicts) {
            let result = |verdict, detail: Option<String>| RecordResult {
                card_number: record.card_number.clone(),
                serial: record.serial,
                verdict,
                detail,
            };
            if let Err(why) = verdict {
                results.push(result(RecordVerdict::Refused, Some(why.clone())));
                continue;
            }
            let card = sqlx::query(&format!(
                "SELECT c.purse_balance_fen, c.purse_serial FROM cards c
                 WHERE c.card_number = $1{}",
                self.lock_card()
            ))
            .bind(&record.card_number)
            .fetch_one(&mut *tx)
            .await?;
            let (balance, last) = (
                opt_int(&card, "purse_balance_fen")?,
                opt_int(&card, "purse_serial")?,
            );
            let serial = i64::from(record.serial);
            let unreconciled = match (balance, last) {
                (Some(b), Some(l)) if serial == l + 1 && b != i64::from(record.balance_before) => {
                    Some(format!(
                        "the balance before ({}) is not the balance after serial {l} ({b})",
                        record.balance_before
                    ))
                }
                (_, Some(l)) if serial > l + 1 => {
                    Some(format!("serials {} to {} are missing", l + 1, serial - 1))
                }
                (_, Some(l)) if serial <= l => {
                    Some(format!("uploaded after serial {l}: not reconciled"))
                }
                _ => None,
            };
            let inserted = sqlx::query(
                "INSERT INTO settlements (card_number, serial, balance_before, account_fen,
                    self_pay_fen, pooled_fen, terminal_no, terminal_serial, time, tac, reconciled,
                    uploaded_by, uploaded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 ON CONFLICT (card_number, serial) DO NOTHING",
            )
            .bind(&record.card_number)
            .bind(serial)
            .bind(i64::from(record.balance_before))
            .bind(i64::from(record.account_fen))
            .bind(i64::from(record.self_pay_fen))
            .bind(i64::from(record.pooled_fen))
            .bind(record.terminal_no.to_ascii_uppercase())
            .bind(record.terminal_serial.to_ascii_uppercase())
            .bind(&record.time)
            .bind(record.tac.to_ascii_uppercase())
            .bind(i64::from(unreconciled.is_none()))
            .bind(&actor.id)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                let stored = sqlx::query(
                    "SELECT tac FROM settlements WHERE card_number = $1 AND serial = $2",
                )
                .bind(&record.card_number)
                .bind(serial)
                .fetch_one(&mut *tx)
                .await?;
                results.push(if text(&stored, "tac")?.eq_ignore_ascii_case(&record.tac) {
                    result(RecordVerdict::Duplicate, None)
                } else {
                    result(
                        RecordVerdict::Refused,
                        Some(format!(
                            "another record with serial {serial} was uploaded for this card"
                        )),
                    )
                });
                continue;
            }
            if last.is_none_or(|l| serial > l) {
                sqlx::query(
                    "UPDATE cards SET purse_balance_fen = $1, purse_serial = $2, updated_at = $3
                     WHERE card_number = $4",
                )
                .bind(i64::from(record.balance_before) - i64::from(record.account_fen))
                .bind(serial)
                .bind(&now)
                .bind(&record.card_number)
                .execute(&mut *tx)
                .await?;
            }
            Self::append_event(
                &mut tx,
                Some(&record.card_number),
                None,
                "settlement-uploaded",
                serde_json::json!({"serial": serial, "account_fen": record.account_fen,
                    "balance_before": record.balance_before, "terminal_no": record.terminal_no,
                    "reconciled": unreconciled.is_none()}),
                actor,
            )
            .await?;
            results.push(match unreconciled {
                None => result(RecordVerdict::Accepted, None),
                Some(why) => result(RecordVerdict::AcceptedUnreconciled, Some(why)),
            });
        }
        let outcome = UploadOutcome { results };
        Self::keep_answer(&mut tx, key, &outcome).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Blacklist changes after version `since`, oldest first.
    pub async fn blacklist_since(&self, since: i64) -> Result<BlacklistDelta, PlatformError> {
        if since < 0 {
            return Err(PlatformError::invalid("since", "a version, 0 or more"));
        }
        self.retrying(|| self.blacklist_once(since)).await
    }

    async fn blacklist_once(&self, since: i64) -> Result<BlacklistDelta, PlatformError> {
        let rows = sqlx::query(
            "SELECT version, card_number, listed, state FROM blacklist WHERE version > $1
             ORDER BY version LIMIT $2",
        )
        .bind(since)
        .bind(BlacklistDelta::PAGE + 1)
        .fetch_all(&self.reader)
        .await?;
        let more = rows.len() as i64 > BlacklistDelta::PAGE;
        let mut changes = Vec::with_capacity(rows.len());
        for row in rows.iter().take(BlacklistDelta::PAGE as usize) {
            changes.push(BlacklistChange {
                version: int(row, "version")?,
                card_number: text(row, "card_number")?,
                listed: int(row, "listed")? != 0,
                state: state_of(row, "state")?,
            });
        }
        let version = match changes.last() {
            Some(last) => last.version,
            None => {
                let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM blacklist")
                    .fetch_one(&self.reader)
                    .await?;
                // Past the newest version (another database): start again from it.
                since.min(int(&row, "v")?)
            }
        };
        Ok(BlacklistDelta {
            version,
            changes,
            more,
        })
    }

    /// A card's history: its events and its holder's insurance events, oldest first.
    pub async fn history(&self, card_number: &str) -> Result<Vec<Event>, PlatformError> {
        check_card_number(card_number)?;
        self.retrying(|| self.history_once(card_number)).await
    }

    async fn history_once(&self, card_number: &str) -> Result<Vec<Event>, PlatformError> {
        let mut conn = self.reader.acquire().await?;
        let card = self
            .load_card(&mut conn, card_number, &time::today(), false)
            .await?;
        let rows = sqlx::query(
            "SELECT id, at, card_number, ssn, kind, detail, actor, terminal FROM events
             WHERE card_number = $1 OR (card_number IS NULL AND ssn = $2)
             ORDER BY id LIMIT $3",
        )
        .bind(card_number)
        .bind(&card.ssn)
        .bind(MAX_EVENTS)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Event {
                    id: int(row, "id")?,
                    at: text(row, "at")?,
                    card_number: opt_text(row, "card_number")?,
                    ssn: opt_text(row, "ssn")?,
                    kind: text(row, "kind")?,
                    detail: serde_json::from_str(&text(row, "detail")?)
                        .unwrap_or(serde_json::Value::Null),
                    actor: text(row, "actor")?,
                    terminal: opt_text(row, "terminal")?,
                })
            })
            .collect()
    }

    /// A new terminal credential; the token is returned once and stored as its SHA-256.
    pub async fn add_terminal(
        &self,
        id: &str,
        role: Role,
        actor: &Actor,
    ) -> Result<TerminalCredential, PlatformError> {
        if !auth::check_terminal_id(id) {
            return Err(PlatformError::invalid(
                "id",
                "1 to 64 of letters, digits, '-', '_', '.'",
            ));
        }
        let token = auth::new_token()
            .map_err(|e| PlatformError::Corrupt(format!("no randomness for a token: {e}")))?;
        let hash = auth::token_hash(&token);
        self.retrying(|| async {
            let mut tx = self.writer.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO terminals (id, role, token_sha256, created_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(role.as_str())
            .bind(&hash)
            .bind(time::now_rfc3339())
            .execute(&mut *tx)
            .await
            .map_err(PlatformError::from);
            if let Err(e) = inserted {
                return Err(if is_unique_violation(&e) {
                    PlatformError::refused("terminal-exists", format!("terminal {id} exists"))
                } else {
                    e
                });
            }
            Self::append_event(
                &mut tx,
                None,
                None,
                "terminal-added",
                serde_json::json!({"terminal": id, "role": role}),
                actor,
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        Ok(TerminalCredential {
            id: id.into(),
            role,
            token,
        })
    }

    /// The terminal a presented token belongs to, if it is a live credential.
    pub async fn authenticate(&self, token: &str) -> Result<Option<(String, Role)>, PlatformError> {
        Ok(match self.credential(token).await? {
            Credential::Live { id, role } => Some((id, role)),
            Credential::Revoked { .. } | Credential::Unknown => None,
        })
    }

    /// What a presented token is: a live terminal credential, a revoked one, or nothing.
    pub async fn credential(&self, token: &str) -> Result<Credential, PlatformError> {
        if token.len() > auth::MAX_TOKEN_LEN {
            return Ok(Credential::Unknown);
        }
        self.retrying(|| self.credential_once(token)).await
    }

    async fn credential_once(&self, token: &str) -> Result<Credential, PlatformError> {
        let row = sqlx::query("SELECT id, role, revoked FROM terminals WHERE token_sha256 = $1")
            .bind(auth::token_hash(token))
            .fetch_optional(&self.reader)
            .await?;
        let Some(row) = row else {
            return Ok(Credential::Unknown);
        };
        let id = text(&row, "id")?;
        if int(&row, "revoked")? != 0 {
            return Ok(Credential::Revoked { id });
        }
        let role = text(&row, "role")?;
        let role =
            Role::parse(&role).ok_or_else(|| PlatformError::Corrupt(format!("role {role:?}")))?;
        Ok(Credential::Live { id, role })
    }

    /// Revokes terminal `id`'s credential: every later request bearing it is refused
    /// (`401 credential-revoked`). Revoking a revoked terminal changes nothing and says so.
    pub async fn revoke_terminal(
        &self,
        id: &str,
        actor: &Actor,
    ) -> Result<TerminalRevocation, PlatformError> {
        if !auth::check_terminal_id(id) {
            return Err(PlatformError::invalid(
                "id",
                "1 to 64 of letters, digits, '-', '_', '.'",
            ));
        }
        let revocation = self
            .retrying(|| async {
                let mut tx = self.writer.begin().await?;
                let row = sqlx::query("SELECT role, revoked FROM terminals WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| {
                        PlatformError::refused("unknown-terminal", format!("no terminal {id}"))
                    })?;
                let role = text(&row, "role")?;
                let role = Role::parse(&role)
                    .ok_or_else(|| PlatformError::Corrupt(format!("role {role:?}")))?;
                if int(&row, "revoked")? != 0 {
                    return Ok(TerminalRevocation {
                        id: id.into(),
                        role,
                        already_revoked: true,
                        event_id: None,
                    });
                }
                sqlx::query("UPDATE terminals SET revoked = 1 WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let event_id = Self::append_event(
                    &mut tx,
                    None,
                    None,
                    "terminal-revoked",
                    serde_json::json!({"terminal": id, "role": role}),
                    actor,
                )
                .await?;
                tx.commit().await?;
                Ok(TerminalRevocation {
                    id: id.into(),
                    role,
                    already_revoked: false,
                    event_id: Some(event_id),
                })
            })
            .await?;
        // This store's routes refuse it from the next request on, not after the credential
        // cache's lifetime (other instances: within `CREDENTIAL_CACHE_TTL`).
        self.credentials.forget_terminal(id);
        Ok(revocation)
    }

    /// Counts for the invariant checks of the tests and `platform check`: persons with more
    /// than one card in use (always 0: the database refuses it), settlements whose card is
    /// missing, cards whose state is not one of the six.
    pub async fn invariant_violations(&self) -> Result<Vec<String>, PlatformError> {
        let mut found = Vec::new();
        for (what, sql) in [
            (
                "persons with two cards in use",
                "SELECT COUNT(*) AS n FROM (SELECT person_id FROM cards
                 WHERE state IN ('issued', 'activated', 'temporarily_lost')
                 GROUP BY person_id HAVING COUNT(*) > 1) t",
            ),
            (
                "activated cards without an activation event",
                "SELECT COUNT(*) AS n FROM cards c WHERE c.activation_date IS NOT NULL AND NOT
                 EXISTS (SELECT 1 FROM events e WHERE e.card_number = c.card_number
                 AND e.kind = 'activated')",
            ),
            (
                "settlements without their event",
                "SELECT (SELECT COUNT(*) FROM settlements) - (SELECT COUNT(*) FROM events
                 WHERE kind = 'settlement-uploaded') AS n",
            ),
            (
                "listed cards whose blacklist entry is missing",
                "SELECT COUNT(*) AS n FROM cards c WHERE c.state IN
                 ('temporarily_lost', 'lost', 'cancelled', 'sealed') AND NOT EXISTS
                 (SELECT 1 FROM blacklist b WHERE b.card_number = c.card_number AND b.listed = 1)",
            ),
        ] {
            let row = sqlx::query(sql).fetch_one(&self.reader).await?;
            let n = int(&row, "n")?;
            if n != 0 {
                found.push(format!("{n} {what}"));
            }
        }
        Ok(found)
    }
}
