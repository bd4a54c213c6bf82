//! The database: a connection pool over SQLite or PostgreSQL (sqlx's `Any` driver, so every
//! query is written once), the migrations, and the retry of transient failures.
//!
//! Why sqlx with runtime queries: one async API and one set of SQL strings for both databases,
//! pools and transactions included; the queries are checked by the tests against both backends
//! rather than at compile time (compile-time checking would need a live database in every
//! build). SQLite runs in WAL mode with `synchronous=FULL`: a write is on disk when it is
//! acknowledged. Writes go through a single connection (SQLite has one writer anyway, and a
//! deferred transaction upgraded to a write under contention fails instead of waiting); reads
//! use a pool of their own, which WAL lets run beside the writer.

use std::future::Future;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::error::PlatformError;
use crate::migrations::{statements, MIGRATIONS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Backend, PlatformError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(PlatformError::BadUrl(url.chars().take(80).collect()))
        }
    }
}

/// The store: where the registry lives.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) writer: AnyPool,
    pub(crate) reader: AnyPool,
    backend: Backend,
    /// Group commit of online verifications (`ecard::admission`).
    pub(crate) committer: crate::ecard::admission::Committer,
    /// Terminal credentials checked lately, for the e-card routes (the API's rule:
    /// [`crate::api::CREDENTIAL_CACHE_TTL`]).
    pub(crate) credentials: std::sync::Arc<crate::api::CredentialCache>,
}

const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA foreign_keys = ON",
];

/// How long a request waits for a connection before the service answers 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries of a transient failure (a PostgreSQL restart, a lost race): the attempts and the
/// longest pause between two.
pub const RETRY_ATTEMPTS: u32 = 12;
const RETRY_PAUSE_MAX: Duration = Duration::from_secs(1);

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates. `sqlite:FILE`, `sqlite::memory:`
    /// is refused (each connection would see its own database), `postgres://...`.
    pub async fn open(url: &str) -> Result<Store, PlatformError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let store = match backend {
            Backend::Sqlite => {
                if url.contains(":memory:") {
                    return Err(PlatformError::BadUrl(url.into()));
                }
                let url = if url.contains('?') {
                    url.to_owned()
                } else {
                    format!("{url}?mode=rwc")
                };
                let options = || {
                    AnyPoolOptions::new()
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .after_connect(|conn, _| {
                            Box::pin(async move {
                                for pragma in SQLITE_PRAGMAS {
                                    sqlx::query(pragma).execute(&mut *conn).await?;
                                }
                                Ok(())
                            })
                        })
                };
                let writer = options().max_connections(1).connect(&url).await?;
                let reader = options().max_connections(4).connect(&url).await?;
                Store {
                    writer,
                    reader,
                    backend,
                    committer: Default::default(),
                    credentials: Default::default(),
                }
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .max_connections(16)
                    .connect(url)
                    .await?;
                Store {
                    writer: pool.clone(),
                    reader: pool,
                    backend,
                    committer: Default::default(),
                    credentials: Default::default(),
                }
            }
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The same pools with a committer of its own, unused: what the committer task holds.
    pub(crate) fn without_committer(&self) -> Store {
        Store {
            writer: self.writer.clone(),
            reader: self.reader.clone(),
            backend: self.backend,
            committer: Default::default(),
            credentials: Default::default(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The schema version in force.
    pub async fn schema_version(&self) -> Result<i64, PlatformError> {
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
            .fetch_one(&self.reader)
            .await?;
        Ok(row.try_get::<i64, _>("v")?)
    }

    async fn migrate(&self) -> Result<(), PlatformError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .execute(&self.writer)
        .await?;
        for migration in MIGRATIONS {
            let fail = |source| PlatformError::Migration {
                version: migration.version,
                name: migration.name,
                source,
            };
            let mut tx = self.writer.begin().await.map_err(fail)?;
            if self.backend == Backend::Postgres {
                sqlx::query("SELECT pg_advisory_xact_lock(8620)")
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            let applied = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(migration.version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(fail)?;
            if applied.is_some() {
                continue;
            }
            for statement in statements(migration, self.backend) {
                sqlx::query(&statement)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(migration.version)
            .bind(migration.name)
            .bind(crate::time::now_rfc3339())
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
        }
        Ok(())
    }

    /// Runs `operation` (one transaction) again while it fails for a transient reason: a lost
    /// race ([`PlatformError::Conflict`]), a busy SQLite, a PostgreSQL that is restarting or
    /// dropped the connection. A transaction that failed was rolled back, so a retry never
    /// applies anything twice. After [`RETRY_ATTEMPTS`]: [`PlatformError::Unavailable`].
    pub async fn retrying<T, F, Fut>(&self, operation: F) -> Result<T, PlatformError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, PlatformError>>,
    {
        let mut pause = Duration::from_millis(20);
        let mut attempt = 1;
        loop {
            match operation().await {
                Err(error) if attempt < RETRY_ATTEMPTS && is_transient(&error) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RETRY_PAUSE_MAX);
                    attempt += 1;
                }
                Err(PlatformError::Database(source)) if is_transient_sql(&source) => {
                    return Err(PlatformError::Unavailable {
                        attempts: attempt,
                        source,
                    })
                }
                other => return other,
            }
        }
    }
}

fn is_transient(error: &PlatformError) -> bool {
    match error {
        PlatformError::Conflict => true,
        PlatformError::Database(e) => is_transient_sql(e),
        _ => false,
    }
}

/// Failures that a later attempt may not meet: the connection, the pool, a server shutting
/// down or refusing connections while it starts, serialization failures and deadlocks, a busy
/// SQLite.
pub(crate) fn is_transient_sql(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            let code: &str = &code;
            code.starts_with("08")
                || code.starts_with("57P")
                || matches!(code, "40001" | "40P01" | "53300")
                || code == "5"
                || code == "6"
                || db.message().contains("database is locked")
        }
        _ => false,
    }
}

/// `true` when `error` is a unique-constraint violation.
pub(crate) fn is_unique_violation(error: &PlatformError) -> bool {
    matches!(error, PlatformError::Database(sqlx::Error::Database(db))
        if db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// A text column.
pub(crate) fn text(row: &AnyRow, column: &str) -> Result<String, PlatformError> {
    Ok(row.try_get::<String, _>(column)?)
}

pub(crate) fn opt_text(row: &AnyRow, column: &str) -> Result<Option<String>, PlatformError> {
    Ok(row.try_get::<Option<String>, _>(column)?)
}

pub(crate) fn int(row: &AnyRow, column: &str) -> Result<i64, PlatformError> {
    Ok(row.try_get::<i64, _>(column)?)
}

pub(crate) fn opt_int(row: &AnyRow, column: &str) -> Result<Option<i64>, PlatformError> {
    Ok(row.try_get::<Option<i64>, _>(column)?)
}
