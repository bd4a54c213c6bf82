//! QR codes at the back office: issuing one to a working e-card, and verifying one online —
//! signature and validity (the `sscard-ecard` library), then the card's state now and the
//! nonce's first use, both in the database, in one transaction that also mints the one-time
//! settlement token of a payment code.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sscard_ecard::{
    check_validity, verify_signature, Claims, EcardId, PublicKeySet, Purpose, Signer, UnixTime,
    VerifyPolicy,
};

use super::{card_refusal, refused, state_of, EcardView, Level};
use crate::error::PlatformError;
use crate::registry::Actor;
use crate::store::{is_unique_violation, text, Store};
use crate::time;

/// How long a one-time settlement token stays usable after the verification that minted it.
pub const SETTLEMENT_TOKEN_SECS: u64 = 600;

/// The answer to a terminal's online verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineVerification {
    /// The e-card identified (and charged): the member's for a member's code.
    pub ecard: String,
    /// The holder whose app showed the code, when it is a family member's code.
    pub shown_by: Option<String>,
    pub name: String,
    pub ssn: String,
    pub card_number: String,
    pub purpose: Purpose,
    pub expires_at: u64,
    /// Only for a payment code: the one-time token `settle --qr` pays with.
    pub settlement_token: Option<String>,
    pub settlement_token_expires_at: Option<u64>,
}

fn library_refusal(r: sscard_ecard::Refusal) -> PlatformError {
    PlatformError::refused(r.code(), r.to_string())
}

impl Store {
    /// A fresh code for the working e-card `ecard` (and, for a family member's code, `member`,
    /// which needs an active family link from `ecard`); a payment code only at level 2 of the
    /// e-card charged (the member's for a member's code).
    pub async fn issue_code(
        &self,
        signer: &Signer,
        ecard: &str,
        member: Option<&str>,
        purpose: Purpose,
        now: UnixTime,
    ) -> Result<String, PlatformError> {
        let holder = self.working_ecard(ecard).await?;
        let subject = match member {
            Some(m) if !self.family_link(ecard, m).await? => return Err(super::family::no_link()),
            Some(m) => Some(self.working_ecard(m).await?),
            None => None,
        };
        let charged = subject.as_ref().unwrap_or(&holder);
        if purpose == Purpose::Payment && charged.level != Level::Payment {
            return Err(PlatformError::refused(
                "level-1",
                "payment codes need a level 2 e-card (a linked settlement account)",
            ));
        }
        let claims = Claims {
            ecard: ecard_id(&holder)?,
            member: subject.as_ref().map(ecard_id).transpose()?,
            purpose,
        };
        signer
            .issue(&claims, now)
            .map_err(|e| PlatformError::Corrupt(format!("signing a code: {e}")))
    }

    /// Verifies a code online for the terminal `actor`; each refusal has its own code
    /// (`malformed`, `bad-signature`, `expired`, `replayed`, `card-lost`, `card-cancelled`...).
    pub async fn verify_code_online(
        &self,
        code: &str,
        keys: &PublicKeySet,
        now: UnixTime,
        policy: &VerifyPolicy,
        actor: &Actor,
    ) -> Result<OnlineVerification, PlatformError> {
        let code = code.trim();
        let verified = verify_signature(code, keys).map_err(library_refusal)?;
        check_validity(&verified, now, policy).map_err(library_refusal)?;
        let subject = verified.subject().to_string();
        let holder = verified.claims.ecard.to_string();
        let nonce = hex::encode(verified.nonce.0);
        let expires_at = verified.expires_at.secs();
        let purpose = verified.purpose();
        self.retrying(|| async {
            let mut tx = self.writer.begin().await?;
            let mut identity = None;
            for id in
                std::iter::once(&holder).chain(verified.claims.member.is_some().then_some(&subject))
            {
                let row = Self::ecard_row(&mut tx, "e.id", id).await?.ok_or_else(|| {
                    PlatformError::refused(
                        "unknown-ecard",
                        "the code names no e-card the back office holds",
                    )
                })?;
                if let Some(r) =
                    card_refusal(state_of(&row)?, &text(&row, "expiry_date")?, &time::today())
                {
                    return Err(refused(r));
                }
                identity = Some(row);
            }
            let Some(identity) = identity else {
                return Err(PlatformError::Corrupt("no e-card row".into()));
            };
            // A member's code counts only while the family link stands: a removal stops the
            // codes shown before it, online, at once.
            if verified.claims.member.is_some()
                && !Self::link_in(&mut tx, &holder, &subject).await?
            {
                return Err(super::family::no_link());
            }
            if purpose == Purpose::Payment
                && crate::store::int(&identity, "settlement_linked")? == 0
            {
                return Err(PlatformError::refused(
                    "level-1",
                    "the e-card has no linked settlement account (level 1): it cannot pay",
                ));
            }
            sqlx::query("DELETE FROM ecard_nonces WHERE expires_at < $1")
                .bind(now.secs().saturating_sub(policy.max_clock_skew_secs) as i64)
                .execute(&mut *tx)
                .await?;
            let inserted = sqlx::query(
                "INSERT INTO ecard_nonces (nonce, ecard_id, expires_at, verified_by)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&nonce)
            .bind(&subject)
            .bind(expires_at as i64)
            .bind(&actor.id)
            .execute(&mut *tx)
            .await
            .map_err(PlatformError::from);
            match inserted {
                Err(e) if is_unique_violation(&e) => {
                    return Err(library_refusal(sscard_ecard::Refusal::Replayed))
                }
                other => other?,
            };
            let (token, token_expiry) = if purpose == Purpose::Payment {
                let token = crate::auth::new_token()
                    .map_err(|e| PlatformError::Corrupt(format!("no random token: {e}")))?
                    .replacen(crate::auth::TOKEN_PREFIX, "sspay_", 1);
                let token_expiry = now.secs() + SETTLEMENT_TOKEN_SECS;
                sqlx::query(
                    "INSERT INTO ecard_settlement_tokens (token_sha256, ecard_id, holder_ecard_id,
                        terminal_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(hex::encode(Sha256::digest(token.as_bytes())))
                .bind(&subject)
                .bind(&holder)
                .bind(&actor.id)
                .bind(token_expiry as i64)
                .bind(time::now_rfc3339())
                .execute(&mut *tx)
                .await?;
                (Some(token), Some(token_expiry))
            } else {
                (None, None)
            };
            tx.commit().await?;
            Ok(OnlineVerification {
                ecard: subject.clone(),
                shown_by: verified.claims.member.is_some().then(|| holder.clone()),
                name: text(&identity, "name")?,
                ssn: text(&identity, "ssn")?,
                card_number: text(&identity, "card_number")?,
                purpose,
                expires_at,
                settlement_token: token,
                settlement_token_expires_at: token_expiry,
            })
        })
        .await
    }
}

fn ecard_id(view: &EcardView) -> Result<EcardId, PlatformError> {
    view.id
        .parse()
        .map_err(|_| PlatformError::Corrupt(format!("e-card id {:?}", view.id)))
}
