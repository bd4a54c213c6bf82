//! Challenges that never repeat and cannot be predicted without the card's secrets.
//!
//! challenge = the first 4 or 8 bytes of SHA-256("sscard challenge" || seed || counter ||
//! entropy), where the seed (20 bytes in the card header) starts from the card's serial number at
//! `format` and absorbs every key loaded by WRITE KEY (so it is secret once a key is loaded), the
//! counter (u32 in the header) is incremented and persisted before each challenge is returned
//! (no repeat across power cycles), and entropy is a RAM pool the host may stir with
//! `Card::add_entropy`.

use crate::crypto::hash::Sha256;
use crate::journal::{atomically, memory_failure, Transaction};
use crate::memory_map::{HDR_CHALLENGE_COUNTER, HDR_SEED, HEADER_OFFSET, SEED_LEN};
use crate::storage::Storage;
use crate::sw::Status;
use crate::volatile::Challenge;

const CHALLENGE_LABEL: &[u8] = b"sscard challenge";
const SEED_LABEL: &[u8] = b"sscard seed";

/// Size of the RAM entropy pool.
pub const POOL_LEN: usize = 32;

fn read_seed<S: Storage>(storage: &S) -> Result<[u8; SEED_LEN], Status> {
    let mut seed = [0u8; SEED_LEN];
    storage
        .read(HEADER_OFFSET + HDR_SEED, &mut seed)
        .map_err(memory_failure)?;
    Ok(seed)
}

/// The next challenge of `len` bytes (4 or 8; else `6700`).
pub fn next_challenge<S: Storage>(
    storage: &mut S,
    pool: &[u8; POOL_LEN],
    len: usize,
) -> Result<Challenge, Status> {
    let mut counter = [0u8; 4];
    storage
        .read(HEADER_OFFSET + HDR_CHALLENGE_COUNTER, &mut counter)
        .map_err(memory_failure)?;
    let next = u32::from_be_bytes(counter)
        .checked_add(1)
        .ok_or(Status::ConditionsOfUseNotSatisfied)?;
    atomically(storage, |tx| {
        tx.write(HEADER_OFFSET + HDR_CHALLENGE_COUNTER, &next.to_be_bytes())
    })?;
    let mut hash = Sha256::new();
    hash.update(CHALLENGE_LABEL);
    hash.update(&read_seed(storage)?);
    hash.update(&next.to_be_bytes());
    hash.update(pool);
    Challenge::new(&hash.finalize(), len).ok_or(Status::WrongLength)
}

/// The seed a blank card starts with (from its serial number and historical bytes).
pub fn initial_seed(serial: &[u8], historical: &[u8]) -> [u8; SEED_LEN] {
    let mut hash = Sha256::new();
    hash.update(SEED_LABEL);
    hash.update(serial);
    hash.update(historical);
    truncate(hash.finalize())
}

/// Mixes secret material (a key being loaded) into the seed, inside the caller's transaction.
pub fn absorb<S: Storage>(tx: &mut Transaction<'_, S>, material: &[u8]) -> Result<(), Status> {
    let mut hash = Sha256::new();
    hash.update(SEED_LABEL);
    hash.update(&read_seed(tx.storage())?);
    hash.update(material);
    tx.write(HEADER_OFFSET + HDR_SEED, &truncate(hash.finalize()))
}

/// Stirs host entropy into the RAM pool.
pub fn stir(pool: &mut [u8; POOL_LEN], entropy: &[u8]) {
    let mut hash = Sha256::new();
    hash.update(pool);
    hash.update(entropy);
    *pool = hash.finalize();
}

fn truncate(digest: [u8; 32]) -> [u8; SEED_LEN] {
    let mut out = [0u8; SEED_LEN];
    out.iter_mut().zip(digest).for_each(|(o, d)| *o = d);
    out
}
