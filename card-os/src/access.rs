//! Evaluating a file's access conditions against the security status.
//!
//! Each file stores 8 bytes: (condition, key id) for read, update, append and admin. A condition
//! byte is `00` free, `FF` never, else bits: `01` PIN verified, `02` external authentication with
//! the key id, `04` (with `01` and `02`) either suffices, `10` the command carries a valid MAC.
//! Any other bit denies (unknown rules fail closed). Not met: `6982`; met but for a PIN that is
//! still the initial one: `6984`; met but without the MAC the rule asks for: `6987`.

use crate::sw::Status;
use crate::volatile::SecurityStatus;

pub const FREE: u8 = 0x00;
pub const NEVER: u8 = 0xFF;
pub const PIN: u8 = 0x01;
pub const KEY: u8 = 0x02;
pub const EITHER: u8 = 0x04;
pub const MAC: u8 = 0x10;

/// Which pair of the 8 bytes applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Read = 0,
    Update = 1,
    Append = 2,
    /// Delete, activate, deactivate, terminate, create (in a DF).
    Admin = 3,
}

/// `Ok` when the rule for `operation` is met; `6982`, `6984` or `6987` otherwise.
pub fn check(
    access: &[u8; 8],
    operation: Operation,
    security: &SecurityStatus,
) -> Result<(), Status> {
    #[cfg(feature = "mutants")]
    if crate::mutants::active(crate::mutants::Mutant::IgnoreAccessRule) {
        return Ok(());
    }
    let at = operation as usize * 2;
    let (condition, key) = match (access.get(at), access.get(at + 1)) {
        (Some(c), Some(k)) => (*c, *k),
        _ => return Err(Status::SecurityStatusNotSatisfied),
    };
    if condition == FREE {
        return Ok(());
    }
    if condition & !(PIN | KEY | EITHER | MAC) != 0 {
        return Err(Status::SecurityStatusNotSatisfied);
    }
    let key_ok = security.authenticated_keys.contains(key);
    let needs_pin = condition & PIN != 0;
    let needs_key = condition & KEY != 0;
    let identity_ok = |pin_ok: bool| {
        if needs_pin && needs_key && condition & EITHER != 0 {
            pin_ok || key_ok
        } else {
            (!needs_pin || pin_ok) && (!needs_key || key_ok)
        }
    };
    if !identity_ok(security.pin_verified) {
        // The holder knows the PIN but has not changed the initial one ("initial PIN cannot
        // transact").
        return Err(if security.pin_initial && identity_ok(true) {
            Status::ReferenceDataNotUsable
        } else {
            Status::SecurityStatusNotSatisfied
        });
    }
    if condition & MAC != 0 && !security.sm_mac_verified {
        return Err(Status::SmDataObjectsMissing);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(condition: u8, key: u8) -> [u8; 8] {
        [
            condition, key, condition, key, condition, key, condition, key,
        ]
    }

    #[test]
    fn conditions_are_met_only_by_what_they_name() {
        let none = SecurityStatus::default();
        let pin = SecurityStatus {
            pin_verified: true,
            ..SecurityStatus::default()
        };
        let mut key4 = SecurityStatus::default();
        key4.authenticated_keys.insert(4);
        let mut both = key4;
        both.pin_verified = true;
        let denied = Err(Status::SecurityStatusNotSatisfied);

        assert_eq!(check(&rule(FREE, 0), Operation::Read, &none), Ok(()));
        assert_eq!(check(&rule(NEVER, 0), Operation::Read, &both), denied);
        assert_eq!(check(&rule(PIN, 0), Operation::Update, &none), denied);
        assert_eq!(check(&rule(PIN, 0), Operation::Update, &pin), Ok(()));
        assert_eq!(check(&rule(KEY, 4), Operation::Append, &pin), denied);
        assert_eq!(check(&rule(KEY, 5), Operation::Append, &key4), denied);
        assert_eq!(check(&rule(KEY, 4), Operation::Append, &key4), Ok(()));
        assert_eq!(check(&rule(PIN | KEY, 4), Operation::Admin, &pin), denied);
        assert_eq!(check(&rule(PIN | KEY, 4), Operation::Admin, &both), Ok(()));
        assert_eq!(
            check(&rule(PIN | KEY | EITHER, 4), Operation::Admin, &key4),
            Ok(())
        );
        assert_eq!(
            check(&rule(PIN | KEY | EITHER, 4), Operation::Admin, &none),
            denied
        );
        assert_eq!(
            check(&rule(MAC, 0), Operation::Update, &both),
            Err(Status::SmDataObjectsMissing)
        );
        let initial = SecurityStatus {
            pin_initial: true,
            ..none
        };
        assert_eq!(
            check(&rule(PIN, 0), Operation::Read, &initial),
            Err(Status::ReferenceDataNotUsable)
        );
        assert_eq!(
            check(&rule(PIN | KEY, 4), Operation::Read, &initial),
            denied
        );
        let mac = SecurityStatus {
            sm_mac_verified: true,
            ..none
        };
        assert_eq!(check(&rule(MAC, 0), Operation::Update, &mac), Ok(()));
        assert_eq!(check(&rule(0x40, 0), Operation::Read, &both), denied);
    }
}
