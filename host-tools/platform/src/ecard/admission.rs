//! Group commit of online verifications: the durable half of the replay guard.
//!
//! A verified code is admitted by inserting its nonce (and, for a payment code, its one-time
//! settlement token) in the database. One transaction and one flush per verification made the
//! disk's flush the rate of online verification, so one committer task per store takes every
//! admission waiting in its queue, inserts them all in one transaction, commits, and only then
//! answers each of them. An answer is therefore never sent before its nonce is on disk (a
//! replay is refused even after a crash), while verifications that arrive together share one
//! flush. On PostgreSQL a few batches commit at once (their flushes overlap); on SQLite one, its
//! single writer. The database's `PRIMARY KEY` on the nonce stays the authority: two admissions of the
//! same nonce, in one batch or in two, or from two processes, leave one row and one `Fresh`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::error::PlatformError;
use crate::store::{text, Backend, Store};

/// The most admissions committed in one transaction (4 bound values each: far below either
/// database's limit of bound parameters per statement).
pub const MAX_BATCH: usize = 256;
/// The most admissions waiting for the committer; a verification beyond waits for room.
const QUEUE_CAPACITY: usize = 4 * MAX_BATCH;
/// How often nonces past their code's expiry are deleted (not in every batch).
const PURGE_INTERVAL: Duration = Duration::from_secs(1);

/// A one-time settlement token to store, as its SHA-256.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub token_sha256: String,
    pub ecard_id: String,
    pub holder_ecard_id: String,
    pub terminal_id: String,
    pub expires_at: i64,
    pub created_at: String,
}

/// What one verification asks to make durable.
#[derive(Debug, Clone)]
pub struct Admission {
    /// The code's nonce, hex.
    pub nonce: String,
    pub ecard_id: String,
    /// When the code expires: the row may be deleted once past it (less the clock skew).
    pub expires_at: i64,
    pub verified_by: String,
    pub token: Option<TokenRow>,
    /// Nonces of codes that expired before this are deleted.
    pub purge_before: i64,
}

/// The outcome of an admission, known only once it is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// The nonce was new: it (and the token) are now on disk.
    Fresh,
    /// The nonce was there already: the code was used before.
    Replayed,
}

type Reply = oneshot::Sender<Result<Admitted, PlatformError>>;
/// The committer's queue: each admission with where its outcome goes.
type Queue = mpsc::Sender<(Admission, Reply)>;

/// The handle to a store's committer task, started on first use in the runtime of that use,
/// and started again if that runtime went away.
#[derive(Clone, Default)]
pub struct Committer(Arc<Mutex<Option<Queue>>>);

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Committer")
    }
}

impl Committer {
    fn sender(&self, store: &Store) -> Queue {
        // A poisoned lock only means another thread panicked while swapping the sender: the
        // slot holds either the old or the new one, both usable.
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match &*slot {
            Some(sender) if !sender.is_closed() => sender.clone(),
            _ => {
                let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
                tokio::spawn(run(store.without_committer(), receiver));
                *slot = Some(sender.clone());
                sender
            }
        }
    }
}

impl Store {
    /// Makes `admission` durable together with whatever else is waiting; answers once it is
    /// committed. On a failed batch each admission is tried again on its own, so each gets its
    /// own error.
    pub(crate) async fn admit(&self, admission: Admission) -> Result<Admitted, PlatformError> {
        let (reply, answer) = oneshot::channel();
        self.committer
            .sender(self)
            .send((admission, reply))
            .await
            .map_err(|_| PlatformError::Database(sqlx::Error::WorkerCrashed))?;
        answer
            .await
            .map_err(|_| PlatformError::Database(sqlx::Error::WorkerCrashed))?
    }
}

/// How many batches may be committing at once: one on SQLite (it has one writer), a few on
/// PostgreSQL, whose flushes of concurrent commits overlap; while every slot is busy, the queue
/// fills and the next batch is the larger.
fn concurrent_batches(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 1,
        Backend::Postgres => 4,
    }
}

/// The committer: `store` has no committer of its own (it never admits), so the task does not
/// keep its own queue open; it ends when every handle to the queue is gone.
async fn run(store: Store, mut queue: mpsc::Receiver<(Admission, Reply)>) {
    let slots = Arc::new(Semaphore::new(concurrent_batches(store.backend())));
    let mut last_purge: Option<Instant> = None;
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::with_capacity(MAX_BATCH);
        if queue.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let purge_before = match last_purge {
            Some(at) if at.elapsed() < PURGE_INTERVAL => None,
            _ => {
                last_purge = Some(Instant::now());
                batch.iter().map(|(a, _)| a.purge_before).min()
            }
        };
        let store = store.clone();
        tokio::spawn(async move {
            commit_and_answer(&store, batch, purge_before).await;
            drop(slot);
        });
    }
}

/// Commits `batch` and answers each admission in it.
async fn commit_and_answer(
    store: &Store,
    mut batch: Vec<(Admission, Reply)>,
    purge_before: Option<i64>,
) {
    let admissions: Vec<&Admission> = batch.iter().map(|(a, _)| a).collect();
    match store
        .retrying(|| commit(&store.writer, &admissions, purge_before))
        .await
    {
        Ok(outcomes) => {
            for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
                // A verification whose caller went away is committed all the same.
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(_) => {
            for (admission, reply) in batch.drain(..) {
                let one = [&admission];
                let outcome = store
                    .retrying(|| async {
                        commit(&store.writer, &one, None)
                            .await?
                            .into_iter()
                            .next()
                            .ok_or_else(|| PlatformError::Corrupt("no outcome".into()))
                    })
                    .await;
                let _ = reply.send(outcome);
            }
        }
    }
}

/// One transaction: the purge, the new nonces (one statement), the tokens of those that were
/// new (one statement), the commit. The outcomes in the order of `admissions`.
async fn commit(
    writer: &AnyPool,
    admissions: &[&Admission],
    purge_before: Option<i64>,
) -> Result<Vec<Admitted>, PlatformError> {
    // The first admission of a nonce in the batch goes to the database; a later one of the
    // same nonce is a replay of it, whatever the database says of the first.
    let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(admissions.len());
    let mut unique: Vec<&Admission> = admissions
        .iter()
        .enumerate()
        .filter(|(i, a)| *first_of.entry(a.nonce.as_str()).or_insert(*i) == *i)
        .map(|(_, a)| *a)
        .collect();
    // Concurrent batches insert in one order: two of them never wait for each other crosswise.
    unique.sort_unstable_by(|a, b| a.nonce.cmp(&b.nonce));
    let mut tx = writer.begin().await?;
    if let Some(before) = purge_before {
        sqlx::query("DELETE FROM ecard_nonces WHERE expires_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
    }
    let sql = format!(
        "INSERT INTO ecard_nonces (nonce, ecard_id, expires_at, verified_by) VALUES {}
         ON CONFLICT (nonce) DO NOTHING RETURNING nonce",
        placeholders(unique.len(), 4)
    );
    let mut insert = sqlx::query(&sql);
    for a in &unique {
        insert = insert
            .bind(&a.nonce)
            .bind(&a.ecard_id)
            .bind(a.expires_at)
            .bind(&a.verified_by);
    }
    let inserted = insert
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| text(row, "nonce"))
        .collect::<Result<std::collections::HashSet<String>, _>>()?;
    let tokens: Vec<&TokenRow> = unique
        .iter()
        .filter(|a| inserted.contains(&a.nonce))
        .filter_map(|a| a.token.as_ref())
        .collect();
    if !tokens.is_empty() {
        let sql = format!(
            "INSERT INTO ecard_settlement_tokens (token_sha256, ecard_id, holder_ecard_id,
                terminal_id, expires_at, created_at) VALUES {}",
            placeholders(tokens.len(), 6)
        );
        let mut insert = sqlx::query(&sql);
        for t in &tokens {
            insert = insert
                .bind(&t.token_sha256)
                .bind(&t.ecard_id)
                .bind(&t.holder_ecard_id)
                .bind(&t.terminal_id)
                .bind(t.expires_at)
                .bind(&t.created_at);
        }
        insert.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(admissions
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let first = first_of.get(a.nonce.as_str()) == Some(&i);
            if first && inserted.contains(&a.nonce) {
                Admitted::Fresh
            } else {
                Admitted::Replayed
            }
        })
        .collect())
}

/// `($1, $2, $3), ($4, $5, $6)` for 2 rows of 3 columns.
fn placeholders(rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * columns + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_number_every_value_once_in_order() {
        assert_eq!(placeholders(1, 2), "($1, $2)");
        assert_eq!(placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
