//! The electronic card in the back office (docs/electronic-card.md): issuance against an
//! activated, normal physical card, the e-card password, levels, channels, and the rule that an
//! e-card works only while its card does.
//!
//! The QR codes themselves are the `sscard-ecard` library's; this module owns what the database
//! knows about each e-card.

pub(crate) mod admission;
pub mod api;
pub mod family;
pub mod offline;
pub mod online;
pub mod pages;
mod password;
pub mod payments;
pub(crate) mod schema;
pub mod sessions;
pub mod signing_key;

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

pub use password::EcardPassword;

use crate::error::PlatformError;
use crate::model::{CardState, Refusal};
use crate::registry::{check_len, Actor};
use crate::store::{int, is_unique_violation, text, Store};
use crate::time;

/// The version of the privacy terms an applicant consents to; stored with the e-card.
pub const PRIVACY_TERMS_VERSION: &str = "2026-1";
/// Wrong passwords in a row after which the e-card refuses every password until an outlet
/// resets it: 6 digits are only a million guesses.
pub const MAX_FAILED_PASSWORDS: i64 = 5;
/// The longest channel (app) name.
pub const MAX_CHANNEL_LEN: usize = 40;
/// The most channels one e-card may authorise.
pub const MAX_CHANNELS: i64 = 16;

/// An application for an e-card.
#[derive(Debug, Clone, Deserialize)]
pub struct EcardApplication {
    pub ssn: String,
    pub name: String,
    /// Must be `true`: the applicant consents to the privacy terms of
    /// [`PRIVACY_TERMS_VERSION`].
    pub consent_privacy_terms: bool,
    /// The app the application comes through; it becomes the first channel.
    pub channel: String,
    #[serde(deserialize_with = "password_from_text")]
    pub password: EcardPassword,
}

fn password_from_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<EcardPassword, D::Error> {
    let text = zeroize::Zeroizing::new(String::deserialize(d)?);
    EcardPassword::new(&text).map_err(serde::de::Error::custom)
}

/// Level 1: identification and queries. Level 2: also payment (a settlement account linked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Level {
    #[serde(rename = "1")]
    Identity,
    #[serde(rename = "2")]
    Payment,
}

/// What the back office says about one e-card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcardView {
    /// 32 hex digits, random, the id QR codes carry.
    pub id: String,
    pub card_number: String,
    pub card_state: CardState,
    pub card_expiry_date: String,
    pub region: String,
    pub ssn: String,
    pub name: String,
    pub level: Level,
    pub channels: Vec<String>,
    pub created_at: String,
    /// `true` while the physical card is activated and normal; otherwise why not.
    pub works: bool,
    pub refusal: Option<Refusal>,
}

/// Why an e-card does not work (or cannot be issued) for a card in `state` expiring on
/// `expiry` (`YYYYMMDD`) on `today`; `None` when the card is activated and normal.
pub fn card_refusal(state: CardState, expiry: &str, today: &str) -> Option<Refusal> {
    let (code, reason) = match state {
        CardState::Activated if expiry < today => ("card-expired", "the card has expired"),
        CardState::Activated => return None,
        CardState::Issued => (
            "card-not-activated",
            "the physical card is not activated yet: activate it at an outlet first",
        ),
        CardState::TemporarilyLost => (
            "card-temporarily-lost",
            "the physical card is reported lost (temporarily)",
        ),
        CardState::Lost => ("card-lost", "the physical card is reported lost"),
        CardState::Cancelled => ("card-cancelled", "the physical card is cancelled"),
        CardState::Sealed => ("card-sealed", "the physical card is sealed"),
    };
    Some(Refusal {
        code: code.into(),
        reason: reason.into(),
    })
}

fn refused(r: Refusal) -> PlatformError {
    PlatformError::refused(&r.code, r.reason)
}

/// An e-card id as text: 32 lower-case hex digits.
pub fn check_ecard_id(id: &str) -> Result<[u8; 16], PlatformError> {
    crate::registry::hex_field::<16>("ecard", id).and_then(|bytes| {
        if id.bytes().all(|b| !b.is_ascii_uppercase()) {
            Ok(bytes)
        } else {
            Err(PlatformError::invalid("ecard", "32 lower-case hex digits"))
        }
    })
}

fn check_channel(channel: &str) -> Result<(), PlatformError> {
    check_len("channel", channel, MAX_CHANNEL_LEN)
}

const ECARD_COLUMNS: &str = "e.id, e.card_number, e.settlement_linked, e.created_at,
    e.password_hash, c.state, c.expiry_date, c.region, p.ssn, p.name";

impl Store {
    /// Issues an e-card to the holder of an activated, normal card: the name must be the
    /// registry's, the privacy terms consented to. Refused, with the reason and nothing
    /// written, otherwise — or when the holder already has one (`ecard-exists`; the database
    /// refuses a second e-card for a card or a person even when two applications race).
    pub async fn apply_ecard(
        &self,
        application: &EcardApplication,
        actor: &Actor,
    ) -> Result<EcardView, PlatformError> {
        check_len("ssn", &application.ssn, 18)?;
        check_len("name", &application.name, 40)?;
        check_channel(&application.channel)?;
        if !application.consent_privacy_terms {
            return Err(PlatformError::refused(
                "consent-required",
                "an e-card is issued only with consent to the privacy terms",
            ));
        }
        // The slow hash outside the transaction: the writer is not held for it.
        let hash = application.password.hash()?;
        let mut id = [0u8; 16];
        getrandom::fill(&mut id)
            .map_err(|e| PlatformError::Corrupt(format!("no random e-card id: {e}")))?;
        let id = hex::encode(id);
        self.retrying(|| self.apply_once(application, &hash, &id, actor))
            .await?;
        self.ecard_view(&id).await
    }

    async fn apply_once(
        &self,
        application: &EcardApplication,
        hash: &str,
        id: &str,
        actor: &Actor,
    ) -> Result<(), PlatformError> {
        let mut tx = self.writer.begin().await?;
        let person = sqlx::query("SELECT id, name FROM persons WHERE ssn = $1")
            .bind(&application.ssn)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| PlatformError::UnknownPerson(application.ssn.clone()))?;
        if text(&person, "name")? != application.name {
            return Err(PlatformError::refused(
                "data-mismatch",
                "the name differs from the registry's for this social security number",
            ));
        }
        let person_id = int(&person, "id")?;
        let existing = sqlx::query("SELECT id FROM ecards WHERE person_id = $1")
            .bind(person_id)
            .fetch_optional(&mut *tx)
            .await?;
        if existing.is_some() {
            return Err(ecard_exists());
        }
        // The card in use: the newest the person holds (one in use at a time, by the index).
        let card = sqlx::query(
            "SELECT card_number, state, expiry_date FROM cards WHERE person_id = $1
             ORDER BY (superseded_by IS NULL) DESC, issue_date DESC, card_number DESC LIMIT 1",
        )
        .bind(person_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| {
            PlatformError::refused("no-card", "the registry holds no card for this person")
        })?;
        let card_number = text(&card, "card_number")?;
        let state = state_of(&card)?;
        if let Some(r) = card_refusal(state, &text(&card, "expiry_date")?, &time::today()) {
            return Err(refused(r));
        }
        let now = time::now_rfc3339();
        let inserted = sqlx::query(
            "INSERT INTO ecards (id, card_number, person_id, password_hash, privacy_terms,
                consented_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $6)",
        )
        .bind(id)
        .bind(&card_number)
        .bind(person_id)
        .bind(hash)
        .bind(PRIVACY_TERMS_VERSION)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(PlatformError::from);
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(ecard_exists()),
            other => other?,
        };
        sqlx::query("INSERT INTO ecard_channels (ecard_id, channel, added_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(&application.channel)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        Self::append_event(
            &mut tx,
            Some(&card_number),
            Some(&application.ssn),
            "ecard-issued",
            serde_json::json!({"ecard": id, "channel": application.channel,
                "privacy_terms": PRIVACY_TERMS_VERSION}),
            actor,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn ecard_row(
        conn: &mut AnyConnection,
        filter: &str,
        value: &str,
    ) -> Result<Option<AnyRow>, PlatformError> {
        let sql = format!(
            "SELECT {ECARD_COLUMNS} FROM ecards e JOIN cards c ON c.card_number = e.card_number
             JOIN persons p ON p.id = e.person_id WHERE {filter} = $1"
        );
        Ok(sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&mut *conn)
            .await?)
    }

    async fn view_of(conn: &mut AnyConnection, row: &AnyRow) -> Result<EcardView, PlatformError> {
        let id = text(row, "id")?;
        let channels =
            sqlx::query("SELECT channel FROM ecard_channels WHERE ecard_id = $1 ORDER BY channel")
                .bind(&id)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| text(r, "channel"))
                .collect::<Result<Vec<_>, _>>()?;
        let card_state = state_of(row)?;
        let card_expiry_date = text(row, "expiry_date")?;
        let refusal = card_refusal(card_state, &card_expiry_date, &time::today());
        Ok(EcardView {
            id,
            card_number: text(row, "card_number")?,
            card_state,
            card_expiry_date,
            region: text(row, "region")?,
            ssn: text(row, "ssn")?,
            name: text(row, "name")?,
            level: if int(row, "settlement_linked")? != 0 {
                Level::Payment
            } else {
                Level::Identity
            },
            channels,
            created_at: text(row, "created_at")?,
            works: refusal.is_none(),
            refusal,
        })
    }

    /// An e-card as the back office sees it now (whether it works included).
    pub async fn ecard_view(&self, id: &str) -> Result<EcardView, PlatformError> {
        check_ecard_id(id)?;
        let mut conn = self.reader.acquire().await?;
        let row = Self::ecard_row(&mut conn, "e.id", id)
            .await?
            .ok_or_else(unknown_ecard)?;
        Self::view_of(&mut conn, &row).await
    }

    /// The e-card of the holder with `ssn`, if any.
    pub async fn ecard_of_person(&self, ssn: &str) -> Result<Option<EcardView>, PlatformError> {
        check_len("ssn", ssn, 18)?;
        let mut conn = self.reader.acquire().await?;
        match Self::ecard_row(&mut conn, "p.ssn", ssn).await? {
            Some(row) => Ok(Some(Self::view_of(&mut conn, &row).await?)),
            None => Ok(None),
        }
    }

    /// An e-card that works now, or the reason it does not (`card-lost`, `card-cancelled`...):
    /// what every use of an e-card goes through.
    pub async fn working_ecard(&self, id: &str) -> Result<EcardView, PlatformError> {
        let view = self.ecard_view(id).await?;
        match view.refusal.clone() {
            Some(r) => Err(refused(r)),
            None => Ok(view),
        }
    }

    /// Logs a holder in with name, social security number and e-card password: the e-card,
    /// which must work. A wrong password counts; after [`MAX_FAILED_PASSWORDS`] in a row every
    /// password is refused (`password-locked`).
    pub async fn ecard_login(
        &self,
        ssn: &str,
        name: &str,
        password: &EcardPassword,
    ) -> Result<EcardView, PlatformError> {
        check_len("ssn", ssn, 18)?;
        check_len("name", name, 40)?;
        let mut conn = self.reader.acquire().await?;
        let row = Self::ecard_row(&mut conn, "p.ssn", ssn)
            .await?
            .ok_or_else(|| PlatformError::refused("no-ecard", "no e-card for this person"))?;
        drop(conn);
        if text(&row, "name")? != name {
            return Err(PlatformError::refused(
                "wrong-credentials",
                "the name, social security number or password is wrong",
            ));
        }
        self.check_password(&row, password).await?;
        let view = self.ecard_view(&text(&row, "id")?).await?;
        match view.refusal.clone() {
            Some(r) => Err(refused(r)),
            None => Ok(view),
        }
    }

    async fn check_password(
        &self,
        row: &AnyRow,
        password: &EcardPassword,
    ) -> Result<(), PlatformError> {
        let id = text(row, "id")?;
        // The attempt is counted before the hash is checked, in one statement: parallel
        // guesses cannot outrun the limit.
        let counted = sqlx::query(
            "UPDATE ecards SET failed_passwords = failed_passwords + 1
             WHERE id = $1 AND failed_passwords < $2",
        )
        .bind(&id)
        .bind(MAX_FAILED_PASSWORDS)
        .execute(&self.writer)
        .await?;
        if counted.rows_affected() != 1 {
            return Err(locked());
        }
        let ok = password.matches(&text(row, "password_hash")?)?;
        if ok {
            sqlx::query("UPDATE ecards SET failed_passwords = 0 WHERE id = $1")
                .bind(&id)
                .execute(&self.writer)
                .await?;
        }
        if ok {
            Ok(())
        } else {
            Err(PlatformError::refused(
                "wrong-credentials",
                "the name, social security number or password is wrong",
            ))
        }
    }

    /// The e-card `id` after its password was checked: what a change by the holder needs.
    async fn authorised(
        &self,
        id: &str,
        password: &EcardPassword,
    ) -> Result<EcardView, PlatformError> {
        check_ecard_id(id)?;
        let mut conn = self.reader.acquire().await?;
        let row = Self::ecard_row(&mut conn, "e.id", id)
            .await?
            .ok_or_else(unknown_ecard)?;
        drop(conn);
        self.check_password(&row, password).await?;
        self.working_ecard(id).await
    }

    /// Authorises another channel (app) for the same e-card; needs the e-card password.
    pub async fn add_channel(
        &self,
        id: &str,
        password: &EcardPassword,
        channel: &str,
        actor: &Actor,
    ) -> Result<EcardView, PlatformError> {
        check_channel(channel)?;
        let view = self.authorised(id, password).await?;
        self.retrying(|| async {
            let mut tx = self.writer.begin().await?;
            let count: i64 =
                sqlx::query("SELECT COUNT(*) AS n FROM ecard_channels WHERE ecard_id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .and_then(|r| sqlx::Row::try_get(&r, "n"))?;
            if count >= MAX_CHANNELS {
                return Err(PlatformError::refused(
                    "too-many-channels",
                    format!("an e-card authorises at most {MAX_CHANNELS} channels"),
                ));
            }
            let inserted = sqlx::query(
                "INSERT INTO ecard_channels (ecard_id, channel, added_at) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(channel)
            .bind(time::now_rfc3339())
            .execute(&mut *tx)
            .await
            .map_err(PlatformError::from);
            match inserted {
                Err(e) if is_unique_violation(&e) => {
                    return Err(PlatformError::refused(
                        "channel-exists",
                        "this channel is authorised already",
                    ))
                }
                other => other?,
            };
            Self::append_event(
                &mut tx,
                Some(&view.card_number),
                Some(&view.ssn),
                "ecard-channel-added",
                serde_json::json!({"ecard": id, "channel": channel}),
                actor,
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        self.ecard_view(id).await
    }

    /// Withdraws a channel's authorisation; needs the e-card password.
    pub async fn remove_channel(
        &self,
        id: &str,
        password: &EcardPassword,
        channel: &str,
        actor: &Actor,
    ) -> Result<EcardView, PlatformError> {
        check_channel(channel)?;
        let view = self.authorised(id, password).await?;
        self.retrying(|| async {
            let mut tx = self.writer.begin().await?;
            let removed =
                sqlx::query("DELETE FROM ecard_channels WHERE ecard_id = $1 AND channel = $2")
                    .bind(id)
                    .bind(channel)
                    .execute(&mut *tx)
                    .await?;
            if removed.rows_affected() != 1 {
                return Err(PlatformError::refused(
                    "unknown-channel",
                    "this channel is not authorised",
                ));
            }
            Self::append_event(
                &mut tx,
                Some(&view.card_number),
                Some(&view.ssn),
                "ecard-channel-removed",
                serde_json::json!({"ecard": id, "channel": channel}),
                actor,
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        self.ecard_view(id).await
    }

    /// The administration links (level 2) or unlinks (level 1) a settlement account.
    pub async fn set_settlement_link(
        &self,
        id: &str,
        linked: bool,
        actor: &Actor,
    ) -> Result<EcardView, PlatformError> {
        check_ecard_id(id)?;
        self.retrying(|| async {
            let mut tx = self.writer.begin().await?;
            let row = Self::ecard_row(&mut tx, "e.id", id)
                .await?
                .ok_or_else(unknown_ecard)?;
            sqlx::query("UPDATE ecards SET settlement_linked = $1, updated_at = $2 WHERE id = $3")
                .bind(i64::from(linked))
                .bind(time::now_rfc3339())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Self::append_event(
                &mut tx,
                Some(&text(&row, "card_number")?),
                Some(&text(&row, "ssn")?),
                if linked {
                    "ecard-settlement-linked"
                } else {
                    "ecard-settlement-unlinked"
                },
                serde_json::json!({"ecard": id}),
                actor,
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        self.ecard_view(id).await
    }

    /// The administration lifts a password lock (after checking the holder in person).
    pub async fn reset_password_lock(&self, id: &str, actor: &Actor) -> Result<(), PlatformError> {
        check_ecard_id(id)?;
        let view = self.ecard_view(id).await?;
        self.retrying(|| async {
            let mut tx = self.writer.begin().await?;
            sqlx::query("UPDATE ecards SET failed_passwords = 0 WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Self::append_event(
                &mut tx,
                Some(&view.card_number),
                Some(&view.ssn),
                "ecard-password-unlocked",
                serde_json::json!({"ecard": id}),
                actor,
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

fn state_of(row: &AnyRow) -> Result<CardState, PlatformError> {
    let value = text(row, "state")?;
    CardState::parse(&value).ok_or_else(|| PlatformError::Corrupt(format!("state {value:?}")))
}

fn ecard_exists() -> PlatformError {
    PlatformError::refused(
        "ecard-exists",
        "this holder already has an e-card (one per physical card)",
    )
}

fn locked() -> PlatformError {
    PlatformError::refused(
        "password-locked",
        format!(
            "{MAX_FAILED_PASSWORDS} wrong passwords in a row: the e-card password is locked until an outlet resets it"
        ),
    )
}

fn unknown_ecard() -> PlatformError {
    PlatformError::refused("unknown-ecard", "no such e-card")
}
