//! The try counter of a PIN or key: one try is spent and persisted before the secret is
//! compared, and given back only when the comparison succeeds, so cutting the power after a
//! wrong guess never saves a try.

use crate::journal::atomically;
use crate::storage::Storage;
use crate::sw::Status;

/// Spends one try of the counter byte at `counter` (holding `tries`): `6983` when none is left,
/// else the tries left after this one, already persisted.
pub fn spend<S: Storage>(storage: &mut S, counter: u32, tries: u8) -> Result<u8, Status> {
    let left = tries
        .checked_sub(1)
        .ok_or(Status::AuthenticationMethodBlocked)?;
    atomically(storage, |tx| tx.write(counter, &[left]))?;
    Ok(left)
}

/// A wrong guess: `63Cx`, x = tries left.
pub fn wrong(left: u8) -> Status {
    Status::Counter(left.min(15))
}
