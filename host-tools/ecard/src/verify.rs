//! The terminal's side: verifying a code offline, and the reasons for refusing one.

use crate::blacklist::{Blacklist, BlockReason};
use crate::ids::{EcardId, KeyId, Purpose, UnixTime};
use crate::keys::PublicKeySet;
use crate::payload::{self, Claims, Malformed, Nonce, SIGNING_CONTEXT};
use crate::replay::{FirstUse, ReplayGuard};
use sm2::dsa::signature::MultipartVerifier;
use sm2::dsa::Signature;

/// The verifier's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyPolicy {
    /// How far a code's issued-at may lie in the terminal's future (the setting
    /// `qr_max_clock_skew_secs`): the platform's and the terminal's clocks differ a little.
    pub max_clock_skew_secs: u64,
    /// The longest validity a code may claim (the setting `qr_max_validity_secs`); a signed code
    /// claiming more is refused rather than trusted for that long.
    pub max_validity_secs: u64,
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        Self {
            max_clock_skew_secs: 30,
            max_validity_secs: 300,
        }
    }
}

/// A code that passed every offline check; serialises to JSON for `--json` and the HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct VerifiedCode {
    pub key_id: KeyId,
    pub claims: Claims,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
    pub nonce: Nonce,
}

impl VerifiedCode {
    /// The e-card identified and charged: the family member's when the code is a member's.
    pub fn subject(&self) -> EcardId {
        self.claims.member.unwrap_or(self.claims.ecard)
    }

    pub fn purpose(&self) -> Purpose {
        self.claims.purpose
    }

    /// Whether the code may be used for `needed`: a payment code also identifies, an identity
    /// code never pays.
    pub fn require(&self, needed: Purpose) -> Result<(), Refusal> {
        match (needed, self.claims.purpose) {
            (Purpose::Identity, _) | (Purpose::Payment, Purpose::Payment) => Ok(()),
            (Purpose::Payment, shown) => Err(Refusal::WrongPurpose { needed, shown }),
        }
    }
}

/// Why a code is refused: one distinct reason each, in the order they are checked.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("this is not an sscard e-card code: {0}")]
    Malformed(#[source] Malformed),
    #[error("the code is signed with platform key {0}, which this terminal does not have")]
    UnknownKey(KeyId),
    #[error("the code's signature does not verify: it was altered, or not signed by the platform")]
    BadSignature,
    #[error(
        "the code claims a validity of {validity_secs} s, more than the {max_secs} s accepted"
    )]
    ValidityTooLong { validity_secs: u64, max_secs: u64 },
    #[error("the code is not valid yet: issued at {issued_at}, now is {now} (check the terminal's clock)")]
    NotYetValid { issued_at: UnixTime, now: UnixTime },
    #[error("the code expired at {expires_at}, now is {now}; show a fresh one")]
    Expired { expires_at: UnixTime, now: UnixTime },
    #[error("e-card {ecard} is blocked: its card is {reason}")]
    CardBlocked { ecard: EcardId, reason: BlockReason },
    #[error("the code was already used; show a fresh one")]
    Replayed,
    #[error("this code is for {shown} only; {needed} needs a code for {needed}")]
    WrongPurpose { needed: Purpose, shown: Purpose },
    #[error("the replay check could not be made, so the code is refused")]
    ReplayCheckFailed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Refusal {
    /// A stable machine-readable name, for `--json` and the HTTP API.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "malformed",
            Refusal::UnknownKey(_) => "unknown-key",
            Refusal::BadSignature => "bad-signature",
            Refusal::ValidityTooLong { .. } => "validity-too-long",
            Refusal::NotYetValid { .. } => "not-yet-valid",
            Refusal::Expired { .. } => "expired",
            Refusal::CardBlocked { .. } => "card-blocked",
            Refusal::Replayed => "replayed",
            Refusal::WrongPurpose { .. } => "wrong-purpose",
            Refusal::ReplayCheckFailed(_) => "replay-check-failed",
        }
    }
}

/// Checks a code's form, key id and SM2 signature only; no clock, no blacklist. The online
/// service starts here and checks the rest against its database.
pub fn verify_signature(code: &str, keys: &PublicKeySet) -> Result<VerifiedCode, Refusal> {
    let parsed = payload::parse(code).map_err(Refusal::Malformed)?;
    let key = keys
        .get(parsed.body.key_id)
        .ok_or(Refusal::UnknownKey(parsed.body.key_id))?;
    // r or s of zero or not below the group order is a signature that cannot verify.
    let signature = Signature::from_slice(&parsed.signature).map_err(|_| Refusal::BadSignature)?;
    key.verifying_key()
        .multipart_verify(&[SIGNING_CONTEXT, &parsed.body_bytes], &signature)
        .map_err(|_| Refusal::BadSignature)?;
    Ok(VerifiedCode {
        key_id: parsed.body.key_id,
        claims: parsed.body.claims,
        issued_at: parsed.body.issued_at(),
        expires_at: parsed.body.expires_at(),
        nonce: parsed.body.nonce,
    })
}

/// Checks a verified code's validity window at `now`: valid from issued-at (less the allowed
/// clock skew) up to, not including, expires-at.
pub fn check_validity(
    code: &VerifiedCode,
    now: UnixTime,
    policy: &VerifyPolicy,
) -> Result<(), Refusal> {
    let validity_secs = code.expires_at.secs().saturating_sub(code.issued_at.secs());
    if validity_secs > policy.max_validity_secs {
        return Err(Refusal::ValidityTooLong {
            validity_secs,
            max_secs: policy.max_validity_secs,
        });
    }
    if now.plus_secs(policy.max_clock_skew_secs) < code.issued_at {
        return Err(Refusal::NotYetValid {
            issued_at: code.issued_at,
            now,
        });
    }
    if now >= code.expires_at {
        return Err(Refusal::Expired {
            expires_at: code.expires_at,
            now,
        });
    }
    Ok(())
}

/// Checks the holder's e-card and, for a member's code, the member's against the blacklist.
pub fn check_blacklist(code: &VerifiedCode, blacklist: &Blacklist) -> Result<(), Refusal> {
    for ecard in std::iter::once(code.claims.ecard).chain(code.claims.member) {
        if let Some(reason) = blacklist.ecard_reason(&ecard) {
            return Err(Refusal::CardBlocked { ecard, reason });
        }
    }
    Ok(())
}

/// Verifies a code offline with the default [`VerifyPolicy`]: form, key id, signature,
/// validity window, blacklist. Replay is checked separately ([`admit`]), since only the
/// caller knows which guard is shared by whom.
pub fn verify_offline(
    code: &str,
    keys: &PublicKeySet,
    now: UnixTime,
    blacklist: &Blacklist,
) -> Result<VerifiedCode, Refusal> {
    verify_offline_with(code, keys, now, blacklist, &VerifyPolicy::default())
}

/// [`verify_offline`] with explicit settings.
pub fn verify_offline_with(
    code: &str,
    keys: &PublicKeySet,
    now: UnixTime,
    blacklist: &Blacklist,
    policy: &VerifyPolicy,
) -> Result<VerifiedCode, Refusal> {
    let verified = verify_signature(code, keys)?;
    check_validity(&verified, now, policy)?;
    check_blacklist(&verified, blacklist)?;
    Ok(verified)
}

/// Records a verified code's first use with `guard`; a second use is [`Refusal::Replayed`],
/// and a guard that cannot answer refuses the code (fail closed).
pub fn admit<G: ReplayGuard + ?Sized>(
    guard: &G,
    code: &VerifiedCode,
    now: UnixTime,
) -> Result<(), Refusal> {
    match guard.record_first_use(code, now) {
        Ok(FirstUse::Fresh) => Ok(()),
        Ok(FirstUse::Replayed) => Err(Refusal::Replayed),
        Err(error) => Err(Refusal::ReplayCheckFailed(Box::new(error))),
    }
}

/// [`verify_offline_with`] then [`admit`]: what an offline terminal does with a scanned code.
pub fn verify_and_admit<G: ReplayGuard + ?Sized>(
    code: &str,
    keys: &PublicKeySet,
    now: UnixTime,
    blacklist: &Blacklist,
    guard: &G,
    policy: &VerifyPolicy,
) -> Result<VerifiedCode, Refusal> {
    let verified = verify_offline_with(code, keys, now, blacklist, policy)?;
    admit(guard, &verified, now)?;
    Ok(verified)
}
