//! QR codes at the back office: issuing one to a working e-card, and verifying one online —
//! signature and validity (the `sscard-ecard` library), then, in one transaction with the
//! verifications arriving at the same time (`admission`), the card's state, the nonce's first
//! use and the one-time settlement token of a payment code, committed before the answer.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sscard_ecard::{
    check_validity, verify_signature, Claims, EcardId, PublicKeySet, Purpose, Signer, UnixTime,
    VerifyPolicy,
};

use super::admission::{Admission, TokenRow};
use super::{EcardView, Level};
use crate::auth::Credential;
use crate::error::PlatformError;
use crate::registry::Actor;
use crate::store::Store;
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
    /// What the terminal credential `token` is. A live credential checked in the last
    /// [`crate::api::CREDENTIAL_CACHE_TTL`] is trusted from memory (one cache per store, which a
    /// revocation through the API empties of the terminal at once), on every route.
    pub async fn authenticate_terminal(&self, token: &str) -> Result<Credential, PlatformError> {
        if token.len() > crate::auth::MAX_TOKEN_LEN {
            return Ok(Credential::Unknown);
        }
        let hash = crate::auth::token_hash(token);
        if let Some((id, role)) = self.credentials.get(&hash) {
            return Ok(Credential::Live { id, role });
        }
        let found = self.credential(token).await?;
        if let Credential::Live { id, role } = &found {
            self.credentials.put(hash, id.clone(), *role);
        }
        Ok(found)
    }

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
        let (token, token_row) = if purpose == Purpose::Payment {
            let token = crate::auth::new_token()
                .map_err(|e| PlatformError::Corrupt(format!("no random token: {e}")))?
                .replacen(crate::auth::TOKEN_PREFIX, "sspay_", 1);
            let row = TokenRow {
                token_sha256: hex::encode(Sha256::digest(token.as_bytes())),
                ecard_id: subject.clone(),
                holder_ecard_id: holder.clone(),
                terminal_id: actor.id.clone(),
                expires_at: (now.secs() + SETTLEMENT_TOKEN_SECS) as i64,
                created_at: time::now_rfc3339(),
            };
            (Some(token), Some(row))
        } else {
            (None, None)
        };
        let token_expiry = token.as_ref().map(|_| now.secs() + SETTLEMENT_TOKEN_SECS);
        // The card's state checked and the nonce (and the token) on disk before the answer, in
        // one transaction: see `admission`.
        let identity = self
            .admit(Admission {
                nonce,
                holder: holder.clone(),
                member: verified.claims.member.is_some().then(|| subject.clone()),
                payment: purpose == Purpose::Payment,
                expires_at: expires_at as i64,
                verified_by: actor.id.clone(),
                token: token_row,
                purge_before: now.secs().saturating_sub(policy.max_clock_skew_secs) as i64,
            })
            .await?;
        Ok(OnlineVerification {
            shown_by: verified.claims.member.is_some().then(|| holder.clone()),
            ecard: subject,
            name: identity.name,
            ssn: identity.ssn,
            card_number: identity.card_number,
            purpose,
            expires_at,
            settlement_token: token,
            settlement_token_expires_at: token_expiry,
        })
    }
}

fn ecard_id(view: &EcardView) -> Result<EcardId, PlatformError> {
    view.id
        .parse()
        .map_err(|_| PlatformError::Corrupt(format!("e-card id {:?}", view.id)))
}
