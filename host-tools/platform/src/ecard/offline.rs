//! The e-card blacklist terminals cache for offline verification (`sscard_ecard::verify_offline`):
//! every e-card whose physical card does not work now, as a snapshot at the registry's
//! blacklist version. It is built from the current mapping, so an e-card that followed its
//! replacement card drops off the list as soon as the new card is activated.

use sscard_ecard::{Blacklist, BlacklistEntry, BlockReason, EcardId};

use crate::error::PlatformError;
use crate::model::CardState;
use crate::store::{int, text, Store};

fn block_reason(state: CardState) -> Option<BlockReason> {
    match state {
        CardState::TemporarilyLost => Some(BlockReason::TemporarilyLost),
        CardState::Lost => Some(BlockReason::Lost),
        CardState::Cancelled => Some(BlockReason::Cancelled),
        CardState::Sealed => Some(BlockReason::Sealed),
        CardState::Issued | CardState::Activated => None,
    }
}

impl Store {
    /// The e-card blacklist now, versioned by the registry's blacklist version (a terminal
    /// fetches a new snapshot when the version moved).
    pub async fn ecard_blacklist(&self) -> Result<Blacklist, PlatformError> {
        let mut tx = self.reader.begin().await?;
        let version = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM blacklist")
            .fetch_one(&mut *tx)
            .await?;
        let version = u64::try_from(int(&version, "v")?).unwrap_or(0);
        let rows = sqlx::query(
            "SELECT e.id, c.state FROM ecards e JOIN cards c ON c.card_number = e.card_number
             WHERE c.state NOT IN ('issued', 'activated')",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            let id = text(row, "id")?;
            let ecard: EcardId = id
                .parse()
                .map_err(|_| PlatformError::Corrupt(format!("e-card id {id:?}")))?;
            let state = super::state_of(row)?;
            if let Some(reason) = block_reason(state) {
                entries.push((BlacklistEntry::Ecard(ecard), reason));
            }
        }
        Ok(Blacklist::snapshot(version, entries))
    }
}
