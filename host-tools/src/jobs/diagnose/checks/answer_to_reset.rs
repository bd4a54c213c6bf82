//! The ATR after a cold reset, and whether its historical bytes are the social security card's.

use super::super::verdict::Facts;
use super::super::{Check, CheckId, Outcome};
use crate::protocol::atr::{self, Atr};
use crate::protocol::hexstr;
use crate::transport::{CardTransport, ResetKind};

/// Resets the card cold (as a terminal powers a card it is handed; volatile state only) and checks
/// its ATR. A card that cannot be reset counts as giving no ATR. Returns the raw and parsed ATR when
/// it is usable.
pub(super) fn atr_check<T: CardTransport>(
    transport: &mut T,
    checks: &mut Vec<Check>,
    facts: &mut Facts,
) -> Option<(Vec<u8>, Atr)> {
    let bytes = transport.reset(ResetKind::Cold).unwrap_or_default();
    if bytes.is_empty() {
        facts.no_atr = true;
        checks.push(Check::new(
            CheckId::Atr,
            Outcome::Fail,
            "the card gives no ATR (it is mute)",
        ));
        return None;
    }
    let hex = hexstr::encode(&bytes);
    match atr::parse(&bytes) {
        Err(e) => {
            facts.bad_atr = true;
            checks.push(Check::new(
                CheckId::Atr,
                Outcome::Fail,
                format!("{hex} is no valid ATR: {e}"),
            ));
            None
        }
        Ok(parsed) if parsed.tck.as_ref().is_some_and(|t| !t.valid) => {
            facts.bad_atr = true;
            checks.push(Check::new(
                CheckId::Atr,
                Outcome::Fail,
                format!("{hex}: the check byte TCK is wrong (bytes were corrupted on the way)"),
            ));
            None
        }
        Ok(parsed) => {
            let outcome = if parsed.warnings.is_empty() {
                Outcome::Pass
            } else {
                Outcome::Warn
            };
            let mut detail = hex;
            for w in &parsed.warnings {
                detail.push_str("; ");
                detail.push_str(w);
            }
            checks.push(Check::new(CheckId::Atr, outcome, detail));
            Some((bytes, parsed))
        }
    }
}

/// The SSC profile of the historical bytes (warn only: a card may work without it).
pub(super) fn profile_check(atr: &Atr) -> Check {
    let (outcome, detail) = match &atr.ssc {
        Some(p) if p.region_is_bcd => (
            Outcome::Pass,
            format!(
                "SSC historical bytes, region {}, card bytes {}",
                p.region, p.card_bytes
            ),
        ),
        Some(p) => (
            Outcome::Warn,
            format!(
                "SSC historical bytes, but the region {} is not BCD",
                p.region
            ),
        ),
        None => (
            Outcome::Warn,
            "the historical bytes are not the social security card's profile".into(),
        ),
    };
    Check::new(CheckId::Profile, outcome, detail)
}
