//! Paying with a QR code (docs/electronic-card.md, "Paying with a code"): a hospital or pharmacy
//! terminal spends the one-time settlement token its online verification of a payment code
//! answered, and the back office debits the medical account of the code's e-card (a family
//! member's code charges the member) in one transaction with the token marked spent, the
//! payment row and its event.
//!
//! The database holds the promises: one payment per token and one per terminal transaction id
//! (`UNIQUE` on both), the token marked spent only while it is unspent, the balance debited only
//! while it covers the amount. A terminal that lost the answer sends the same transaction id
//! again and gets the same payment back.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::{card_refusal, refused, state_of};
use crate::error::PlatformError;
use crate::migrations::Migration;
use crate::registry::Actor;
use crate::store::{int, is_unique_violation, opt_text, text, Store};
use crate::time;

/// Migration 3: payments with QR codes.
pub(crate) const MIGRATION: Migration = Migration {
    version: 4,
    name: "ecard-payments",
    common: &[
        // When the token was spent; NULL while it is not.
        "ALTER TABLE ecard_settlement_tokens ADD COLUMN spent_at TEXT",
        "CREATE TABLE ecard_payments (
            id TEXT PRIMARY KEY,
            token_sha256 TEXT NOT NULL UNIQUE REFERENCES ecard_settlement_tokens(token_sha256),
            credential_id TEXT NOT NULL,
            terminal_id TEXT NOT NULL,
            terminal_txn_id TEXT NOT NULL,
            ecard_id TEXT NOT NULL REFERENCES ecards(id),
            holder_ecard_id TEXT NOT NULL REFERENCES ecards(id),
            card_number TEXT NOT NULL REFERENCES cards(card_number),
            amount_fen {int} NOT NULL CHECK (amount_fen >= 0),
            self_pay_fen {int} NOT NULL CHECK (self_pay_fen >= 0),
            balance_before_fen {int} NOT NULL,
            balance_after_fen {int} NOT NULL CHECK (balance_after_fen >= 0),
            paid_at TEXT NOT NULL,
            UNIQUE (credential_id, terminal_txn_id)
        )",
        "CREATE INDEX ecard_payments_by_ecard ON ecard_payments (ecard_id, paid_at)",
    ],
    sqlite: &[],
    postgres: &[],
};

/// The largest amount one payment may carry, in fen: what a card's 4-byte amount holds, so a
/// code pays at most what the card could.
pub const MAX_PAYMENT_FEN: i64 = u32::MAX as i64;
/// The longest settlement token accepted (the verification answers 70 characters).
pub const MAX_SETTLEMENT_TOKEN_LEN: usize = 128;
/// The prefix of every settlement token.
pub const SETTLEMENT_TOKEN_PREFIX: &str = "sspay_";

/// A terminal's request to pay with a settlement token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequest {
    /// The one-time token of the online verification (`sspay_…`).
    pub token: String,
    /// Paid from the medical account, in fen.
    pub amount_fen: i64,
    /// Paid by the holder in cash, recorded only, in fen.
    #[serde(default)]
    pub self_pay_fen: i64,
    /// The till the payment is made at, as it names itself on receipts (the credential may
    /// serve several).
    pub terminal_id: String,
    /// The terminal's id of this transaction, unique per credential: sending it again returns
    /// the same payment.
    pub terminal_txn_id: String,
}

/// A payment made: what the receipt shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcardPayment {
    /// `pay_` and 32 hex digits.
    pub payment_id: String,
    /// The e-card charged (a family member's for a member's code).
    pub ecard: String,
    /// The holder whose app showed the code, when it is a family member's code.
    pub shown_by: Option<String>,
    pub card_number: String,
    pub name: String,
    pub amount_fen: i64,
    pub self_pay_fen: i64,
    pub balance_before_fen: i64,
    pub balance_after_fen: i64,
    /// RFC 3339, UTC.
    pub paid_at: String,
    pub terminal_id: String,
    pub terminal_txn_id: String,
}

impl PaymentRequest {
    fn check(&self) -> Result<(), PlatformError> {
        if self.token.len() > MAX_SETTLEMENT_TOKEN_LEN {
            return Err(PlatformError::invalid(
                "token",
                format!("at most {MAX_SETTLEMENT_TOKEN_LEN} characters"),
            ));
        }
        for (field, value) in [
            ("terminal_id", &self.terminal_id),
            ("terminal_txn_id", &self.terminal_txn_id),
        ] {
            if !crate::auth::check_terminal_id(value) {
                return Err(PlatformError::invalid(
                    field,
                    "1 to 64 of A-Z a-z 0-9 - _ .",
                ));
            }
        }
        for (field, value) in [
            ("amount_fen", self.amount_fen),
            ("self_pay_fen", self.self_pay_fen),
        ] {
            if !(0..=MAX_PAYMENT_FEN).contains(&value) {
                return Err(PlatformError::invalid(
                    field,
                    format!("fen, 0 to {MAX_PAYMENT_FEN}"),
                ));
            }
        }
        if self.amount_fen == 0 && self.self_pay_fen == 0 {
            return Err(PlatformError::invalid(
                "amount_fen",
                "a payment of nothing: give an amount",
            ));
        }
        Ok(())
    }
}

const PAYMENT_COLUMNS: &str =
    "pm.id, pm.token_sha256, pm.credential_id, pm.terminal_id, pm.terminal_txn_id,
    pm.ecard_id, pm.holder_ecard_id, pm.card_number, pm.amount_fen, pm.self_pay_fen,
    pm.balance_before_fen, pm.balance_after_fen, pm.paid_at, p.name";

fn payment_of(row: &AnyRow) -> Result<EcardPayment, PlatformError> {
    let ecard = text(row, "ecard_id")?;
    let holder = text(row, "holder_ecard_id")?;
    Ok(EcardPayment {
        payment_id: text(row, "id")?,
        shown_by: (holder != ecard).then_some(holder),
        ecard,
        card_number: text(row, "card_number")?,
        name: text(row, "name")?,
        amount_fen: int(row, "amount_fen")?,
        self_pay_fen: int(row, "self_pay_fen")?,
        balance_before_fen: int(row, "balance_before_fen")?,
        balance_after_fen: int(row, "balance_after_fen")?,
        paid_at: text(row, "paid_at")?,
        terminal_id: text(row, "terminal_id")?,
        terminal_txn_id: text(row, "terminal_txn_id")?,
    })
}

/// The e-card `id` and the card behind it, with the account: (state, expiry, settlement link,
/// online mode, balance, card number, ssn).
async fn charged_row(conn: &mut AnyConnection, id: &str) -> Result<AnyRow, PlatformError> {
    sqlx::query(
        "SELECT e.card_number, e.settlement_linked, c.state, c.expiry_date, c.online_mode,
            c.account_balance_fen, p.ssn
         FROM ecards e JOIN cards c ON c.card_number = e.card_number
         JOIN persons p ON p.id = e.person_id WHERE e.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| PlatformError::Corrupt(format!("the token's e-card {id} is missing")))
}

/// Why the e-card `row` cannot pay now, if it cannot: its card not activated and normal, no
/// settlement account linked, or an account kept on the chip (offline mode).
fn payment_refusal(row: &AnyRow, charged: bool) -> Result<Option<PlatformError>, PlatformError> {
    if let Some(r) = card_refusal(state_of(row)?, &text(row, "expiry_date")?, &time::today()) {
        return Ok(Some(refused(r)));
    }
    if !charged {
        return Ok(None);
    }
    if int(row, "settlement_linked")? == 0 {
        return Ok(Some(PlatformError::refused(
            "level-1",
            "the e-card has no linked settlement account (level 1): it cannot pay",
        )));
    }
    if int(row, "online_mode")? == 0 {
        return Ok(Some(PlatformError::refused(
            "account-offline",
            "the card's medical account is kept on the chip (offline mode): pay with the card",
        )));
    }
    Ok(None)
}

impl Store {
    /// A payment of `request` with its settlement token, by the terminal credential `actor`
    /// (see the module text). Refusals: `token-unknown` (never minted, or minted for another
    /// terminal), `token-expired`, `token-spent`, `txn-reused` (the transaction id names another
    /// payment), `card-lost`, `card-cancelled` and the other card states, `level-1`,
    /// `account-offline`, `insufficient-balance`. A refusal changes nothing.
    pub async fn pay_with_token(
        &self,
        request: &PaymentRequest,
        now: sscard_ecard::UnixTime,
        actor: &Actor,
    ) -> Result<EcardPayment, PlatformError> {
        request.check()?;
        let token_hash = crate::auth::token_hash(&request.token);
        self.retrying(|| self.pay_once(request, &token_hash, now, actor))
            .await
    }

    async fn pay_once(
        &self,
        request: &PaymentRequest,
        token_hash: &str,
        now: sscard_ecard::UnixTime,
        actor: &Actor,
    ) -> Result<EcardPayment, PlatformError> {
        let mut tx = self.writer.begin().await?;
        // The same transaction again (its answer lost): the payment it made.
        let select = format!(
            "SELECT {PAYMENT_COLUMNS} FROM ecard_payments pm JOIN ecards e ON e.id = pm.ecard_id
             JOIN persons p ON p.id = e.person_id
             WHERE pm.credential_id = $1 AND pm.terminal_txn_id = $2"
        );
        if let Some(row) = sqlx::query(&select)
            .bind(&actor.id)
            .bind(&request.terminal_txn_id)
            .fetch_optional(&mut *tx)
            .await?
        {
            let same = text(&row, "token_sha256")? == token_hash
                && text(&row, "terminal_id")? == request.terminal_id
                && int(&row, "amount_fen")? == request.amount_fen
                && int(&row, "self_pay_fen")? == request.self_pay_fen;
            if !same {
                return Err(PlatformError::refused(
                    "txn-reused",
                    "this terminal transaction id was used for another payment",
                ));
            }
            return payment_of(&row);
        }
        let token = sqlx::query(
            "SELECT ecard_id, holder_ecard_id, terminal_id, expires_at, spent_at
             FROM ecard_settlement_tokens WHERE token_sha256 = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        // A token minted for another terminal is as unknown to this one as a made-up one.
        let token = match token {
            Some(row) if text(&row, "terminal_id")? == actor.id => row,
            _ => {
                return Err(PlatformError::refused(
                    "token-unknown",
                    "no such settlement token for this terminal: verify the code online first",
                ))
            }
        };
        if opt_text(&token, "spent_at")?.is_some() {
            return Err(PlatformError::refused(
                "token-spent",
                "this settlement token has paid already: verify a fresh code",
            ));
        }
        if int(&token, "expires_at")? <= now.secs() as i64 {
            return Err(PlatformError::refused(
                "token-expired",
                "this settlement token has expired: verify a fresh code",
            ));
        }
        let ecard = text(&token, "ecard_id")?;
        let holder = text(&token, "holder_ecard_id")?;
        // The card of whoever showed the code must still be normal too (a family code shown
        // from a lost phone's e-card is refused).
        if holder != ecard {
            let shown = charged_row(&mut tx, &holder).await?;
            if let Some(refusal) = payment_refusal(&shown, false)? {
                return Err(refusal);
            }
        }
        let charged = charged_row(&mut tx, &ecard).await?;
        if let Some(refusal) = payment_refusal(&charged, true)? {
            return Err(refusal);
        }
        let card_number = text(&charged, "card_number")?;
        let paid_at = time::now_rfc3339();
        let spent = sqlx::query(
            "UPDATE ecard_settlement_tokens SET spent_at = $1
             WHERE token_sha256 = $2 AND spent_at IS NULL",
        )
        .bind(&paid_at)
        .bind(token_hash)
        .execute(&mut *tx)
        .await?;
        if spent.rows_affected() != 1 {
            // A concurrent payment spent it after the read above: the retry sees which.
            return Err(PlatformError::Conflict);
        }
        let debited = sqlx::query(
            "UPDATE cards SET account_balance_fen = account_balance_fen - $1, updated_at = $2
             WHERE card_number = $3 AND account_balance_fen >= $1
             RETURNING account_balance_fen",
        )
        .bind(request.amount_fen)
        .bind(&paid_at)
        .bind(&card_number)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(debited) = debited else {
            let balance = int(&charged, "account_balance_fen")?;
            return Err(PlatformError::refused(
                "insufficient-balance",
                format!(
                    "the medical account holds {} fen, the payment is {} fen; nothing was charged",
                    balance, request.amount_fen
                ),
            ));
        };
        let after = int(&debited, "account_balance_fen")?;
        let before = after + request.amount_fen;
        let mut id = [0u8; 16];
        getrandom::fill(&mut id)
            .map_err(|e| PlatformError::Corrupt(format!("no random payment id: {e}")))?;
        let payment_id = format!("pay_{}", hex::encode(id));
        let inserted = sqlx::query(
            "INSERT INTO ecard_payments (id, token_sha256, credential_id, terminal_id,
                terminal_txn_id, ecard_id, holder_ecard_id, card_number, amount_fen, self_pay_fen,
                balance_before_fen, balance_after_fen, paid_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&payment_id)
        .bind(token_hash)
        .bind(&actor.id)
        .bind(&request.terminal_id)
        .bind(&request.terminal_txn_id)
        .bind(&ecard)
        .bind(&holder)
        .bind(&card_number)
        .bind(request.amount_fen)
        .bind(request.self_pay_fen)
        .bind(before)
        .bind(after)
        .bind(&paid_at)
        .execute(&mut *tx)
        .await
        .map_err(PlatformError::from);
        match inserted {
            // The same transaction id committed by a concurrent twin: the retry returns it.
            Err(e) if is_unique_violation(&e) => return Err(PlatformError::Conflict),
            other => other?,
        };
        let till = Actor {
            id: actor.id.clone(),
            terminal: Some(request.terminal_id.clone()),
        };
        Self::append_event(
            &mut tx,
            Some(&card_number),
            Some(&text(&charged, "ssn")?),
            "ecard-payment",
            serde_json::json!({"payment": payment_id, "ecard": ecard,
                "shown_by": (holder != ecard).then_some(&holder),
                "amount_fen": request.amount_fen, "self_pay_fen": request.self_pay_fen,
                "balance_after_fen": after, "terminal_txn_id": request.terminal_txn_id}),
            &till,
        )
        .await?;
        let row = sqlx::query(&select)
            .bind(&actor.id)
            .bind(&request.terminal_txn_id)
            .fetch_one(&mut *tx)
            .await?;
        let payment = payment_of(&row)?;
        tx.commit().await?;
        Ok(payment)
    }

    /// The payments charged to the e-card `id`, newest first (at most `limit`).
    pub async fn ecard_payments(
        &self,
        id: &str,
        limit: i64,
    ) -> Result<Vec<EcardPayment>, PlatformError> {
        super::check_ecard_id(id)?;
        let rows = sqlx::query(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM ecard_payments pm JOIN ecards e ON e.id = pm.ecard_id
             JOIN persons p ON p.id = e.person_id WHERE pm.ecard_id = $1
             ORDER BY pm.paid_at DESC, pm.id DESC LIMIT $2"
        ))
        .bind(id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(payment_of).collect()
    }
}
