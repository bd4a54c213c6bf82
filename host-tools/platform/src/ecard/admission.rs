//! Group commit of online verifications: the card-state check and the durable half of the
//! replay guard, in one transaction per batch.
//!
//! A verified code is admitted by reading its e-card's state and inserting its nonce (and, for a
//! payment code, its one-time settlement token) in the database. One transaction and one flush
//! per verification made the disk's flush the rate of online verification, and one state read
//! per verification made the database's round trips its cost; so one committer task per store
//! takes every admission waiting in its queue and, in one transaction, reads the state of every
//! e-card the batch names (one statement) and the family links of its member codes (one more),
//! refuses the admissions that state refuses, inserts the nonces of the rest (one statement) and
//! their tokens (one), commits, and only then answers each of them. The check and the use of
//! the nonce are therefore one transaction: a refused code uses nothing up, and an accepted one
//! was accepted by the state its nonce was written with. An answer is never sent before its
//! nonce is on disk (a replay is refused even after a crash), while verifications that arrive
//! together share one flush. On PostgreSQL a few batches commit at once (their flushes overlap);
//! on SQLite one, its single writer. The database's `PRIMARY KEY` on the nonce stays the
//! authority: two admissions of the same nonce, in one batch or in two, or from two processes,
//! leave one row and one acceptance.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::any::AnyRow;
use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::{card_refusal, refused, state_of};
use crate::error::PlatformError;
use crate::store::{int, text, Backend, Store};
use crate::time;

/// The most admissions committed in one transaction (at most 6 bound values each in a
/// statement: far below either database's limit of bound parameters per statement).
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

/// What one verification asks to check and make durable.
#[derive(Debug, Clone)]
pub struct Admission {
    /// The code's nonce, hex.
    pub nonce: String,
    /// The e-card whose app showed the code.
    pub holder: String,
    /// For a family member's code, the member's e-card (identified and charged).
    pub member: Option<String>,
    /// A payment code: the e-card charged needs a linked settlement account.
    pub payment: bool,
    /// When the code expires: the row may be deleted once past it (less the clock skew).
    pub expires_at: i64,
    pub verified_by: String,
    pub token: Option<TokenRow>,
    /// Nonces of codes that expired before this are deleted.
    pub purge_before: i64,
}

impl Admission {
    /// The e-card identified and charged: the member's for a member's code.
    fn subject(&self) -> &str {
        self.member.as_deref().unwrap_or(&self.holder)
    }
}

/// Who an accepted code identifies, as the registry held it at the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub ssn: String,
    pub card_number: String,
}

/// The outcome of an admission, known only once its batch is committed: the identity of a code
/// accepted (its nonce, and token, now on disk), or the refusal (`replayed`, `unknown-ecard`,
/// `card-lost`, `no-family-link`, `level-1`...) of one that used nothing up.
pub type Admitted = Result<Identity, PlatformError>;

type Reply = oneshot::Sender<Admitted>;
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
    /// Checks `admission` against the state of its e-cards and makes it durable, together with
    /// whatever else is waiting; answers once that is committed. On a failed batch each
    /// admission is tried again on its own, so each gets its own error.
    pub(crate) async fn admit(&self, admission: Admission) -> Admitted {
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
                let _ = reply.send(outcome);
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
                let _ = reply.send(outcome.and_then(|admitted| admitted));
            }
        }
    }
}

/// One transaction: the purge, the state of every e-card named (one statement) and the family
/// links of the member codes (one), the nonces of the admissions that state accepts (one), the
/// tokens of those that were new (one), the commit. The outcomes in the order of `admissions`.
async fn commit(
    writer: &AnyPool,
    admissions: &[&Admission],
    purge_before: Option<i64>,
) -> Result<Vec<Admitted>, PlatformError> {
    let mut tx = writer.begin().await?;
    if let Some(before) = purge_before {
        sqlx::query("DELETE FROM ecard_nonces WHERE expires_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
    }
    let states = read_states(&mut tx, admissions).await?;
    let links = read_links(&mut tx, admissions).await?;
    let today = time::today();
    let mut outcomes: Vec<Admitted> = admissions
        .iter()
        .map(|a| judge(a, &states, &links, &today))
        .collect();
    // The first accepted admission of a nonce in the batch goes to the database; a later one of
    // the same nonce is a replay of it, whatever the database says of the first.
    let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(admissions.len());
    let mut unique: Vec<&Admission> = admissions
        .iter()
        .enumerate()
        .filter(|(i, _)| outcomes[*i].is_ok())
        .filter(|(i, a)| *first_of.entry(a.nonce.as_str()).or_insert(*i) == *i)
        .map(|(_, a)| *a)
        .collect();
    // Concurrent batches insert in one order: two of them never wait for each other crosswise.
    unique.sort_unstable_by(|a, b| a.nonce.cmp(&b.nonce));
    let inserted = if unique.is_empty() {
        HashSet::new()
    } else {
        insert_nonces(&mut tx, &unique).await?
    };
    let tokens: Vec<&TokenRow> = unique
        .iter()
        .filter(|a| inserted.contains(&a.nonce))
        .filter_map(|a| a.token.as_ref())
        .collect();
    if !tokens.is_empty() {
        insert_tokens(&mut tx, &tokens).await?;
    }
    tx.commit().await?;
    for (i, (a, outcome)) in admissions.iter().zip(outcomes.iter_mut()).enumerate() {
        let first = first_of.get(a.nonce.as_str()) == Some(&i);
        if outcome.is_ok() && !(first && inserted.contains(&a.nonce)) {
            *outcome = Err(PlatformError::refused(
                sscard_ecard::Refusal::Replayed.code(),
                sscard_ecard::Refusal::Replayed.to_string(),
            ));
        }
    }
    Ok(outcomes)
}

/// The state of every e-card `admissions` name (holders and members), by e-card id.
async fn read_states(
    conn: &mut sqlx::AnyConnection,
    admissions: &[&Admission],
) -> Result<HashMap<String, AnyRow>, PlatformError> {
    let ids: Vec<&str> = admissions
        .iter()
        .flat_map(|a| std::iter::once(a.holder.as_str()).chain(a.member.as_deref()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let sql = format!(
        "SELECT e.id, e.card_number, e.settlement_linked, c.state, c.expiry_date, p.ssn, p.name
         FROM ecards e JOIN cards c ON c.card_number = e.card_number
         JOIN persons p ON p.id = e.person_id WHERE e.id IN {}",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in &ids {
        query = query.bind(*id);
    }
    query
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|row| Ok((text(&row, "id")?, row)))
        .collect()
}

/// The active family links `(holder, member)` among those the member codes of `admissions`
/// need; no statement when there are none.
async fn read_links(
    conn: &mut sqlx::AnyConnection,
    admissions: &[&Admission],
) -> Result<HashSet<(String, String)>, PlatformError> {
    let members: Vec<&str> = admissions
        .iter()
        .filter_map(|a| a.member.as_deref())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if members.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = format!(
        "SELECT holder_ecard_id, member_ecard_id FROM ecard_family
         WHERE removed_at IS NULL AND member_ecard_id IN {}",
        placeholders(1, members.len())
    );
    let mut query = sqlx::query(&sql);
    for id in &members {
        query = query.bind(*id);
    }
    query
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| Ok((text(row, "holder_ecard_id")?, text(row, "member_ecard_id")?)))
        .collect()
}

/// Whether the state read refuses `a`, and why (the holder's e-card first, then the member's,
/// then the link between them, then the level of the e-card charged); the identity otherwise.
fn judge(
    a: &Admission,
    states: &HashMap<String, AnyRow>,
    links: &HashSet<(String, String)>,
    today: &str,
) -> Admitted {
    let mut identity = None;
    for id in std::iter::once(a.holder.as_str()).chain(a.member.as_deref()) {
        let row = states.get(id).ok_or_else(|| {
            PlatformError::refused(
                "unknown-ecard",
                "the code names no e-card the back office holds",
            )
        })?;
        if let Some(r) = card_refusal(state_of(row)?, &text(row, "expiry_date")?, today) {
            return Err(refused(r));
        }
        identity = Some(row);
    }
    // A member's code counts only while the family link stands: a removal stops the codes
    // shown before it, online, at once.
    if let Some(member) = &a.member {
        if !links.contains(&(a.holder.clone(), member.clone())) {
            return Err(super::family::no_link());
        }
    }
    let row = identity.ok_or_else(|| PlatformError::Corrupt("no e-card row".into()))?;
    if a.payment && int(row, "settlement_linked")? == 0 {
        return Err(PlatformError::refused(
            "level-1",
            "the e-card has no linked settlement account (level 1): it cannot pay",
        ));
    }
    Ok(Identity {
        name: text(row, "name")?,
        ssn: text(row, "ssn")?,
        card_number: text(row, "card_number")?,
    })
}

/// Inserts the nonces of `unique` (distinct); the set of those that were new.
async fn insert_nonces(
    conn: &mut sqlx::AnyConnection,
    unique: &[&Admission],
) -> Result<HashSet<String>, PlatformError> {
    let sql = format!(
        "INSERT INTO ecard_nonces (nonce, ecard_id, expires_at, verified_by) VALUES {}
         ON CONFLICT (nonce) DO NOTHING RETURNING nonce",
        placeholders(unique.len(), 4)
    );
    let mut insert = sqlx::query(&sql);
    for a in unique {
        insert = insert
            .bind(&a.nonce)
            .bind(a.subject())
            .bind(a.expires_at)
            .bind(&a.verified_by);
    }
    insert
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| text(row, "nonce"))
        .collect()
}

async fn insert_tokens(
    conn: &mut sqlx::AnyConnection,
    tokens: &[&TokenRow],
) -> Result<(), PlatformError> {
    let sql = format!(
        "INSERT INTO ecard_settlement_tokens (token_sha256, ecard_id, holder_ecard_id,
            terminal_id, expires_at, created_at) VALUES {}",
        placeholders(tokens.len(), 6)
    );
    let mut insert = sqlx::query(&sql);
    for t in tokens {
        insert = insert
            .bind(&t.token_sha256)
            .bind(&t.ecard_id)
            .bind(&t.holder_ecard_id)
            .bind(&t.terminal_id)
            .bind(t.expires_at)
            .bind(&t.created_at);
    }
    insert.execute(&mut *conn).await?;
    Ok(())
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
