//! Every way a back-office operation fails, with the HTTP status and stable code it answers.

/// Why an operation failed. `Refused` and the input errors changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("the database failed: {0}")]
    Database(#[source] sqlx::Error),
    #[error("the database is unavailable after {attempts} attempts: {source}")]
    Unavailable {
        attempts: u32,
        #[source]
        source: sqlx::Error,
    },
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("the database URL must start with sqlite: or postgres:// (got {0:?})")]
    BadUrl(String),
    #[error("card {0} is not in the registry")]
    UnknownCard(String),
    #[error("nobody with social security number {0} is in the registry")]
    UnknownPerson(String),
    #[error("{field}: {rule}")]
    Invalid { field: String, rule: String },
    /// A business rule refuses: `code` is stable (docs/back-office.md).
    #[error("{reason}")]
    Refused { code: String, reason: String },
    /// A concurrent change won the race: the operation is retried.
    #[error("a concurrent change to the same card; try again")]
    Conflict,
    #[error("the idempotency key was used before for a different request")]
    IdempotencyMismatch,
    #[error("the stored record is not readable: {0}")]
    Corrupt(String),
}

impl PlatformError {
    pub fn invalid(field: &str, rule: impl Into<String>) -> Self {
        PlatformError::Invalid {
            field: field.into(),
            rule: rule.into(),
        }
    }

    pub fn refused(code: &str, reason: impl Into<String>) -> Self {
        PlatformError::Refused {
            code: code.into(),
            reason: reason.into(),
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        match self {
            PlatformError::UnknownCard(_) | PlatformError::UnknownPerson(_) => 404,
            PlatformError::Invalid { .. } => 422,
            PlatformError::Refused { .. } | PlatformError::Conflict => 409,
            PlatformError::IdempotencyMismatch => 422,
            PlatformError::Unavailable { .. } => 503,
            _ => 500,
        }
    }

    /// The stable code of the answer.
    pub fn code(&self) -> String {
        match self {
            PlatformError::Database(_) | PlatformError::Corrupt(_) => "database-error".into(),
            PlatformError::Unavailable { .. } => "database-unavailable".into(),
            PlatformError::Migration { .. } => "migration-failed".into(),
            PlatformError::BadUrl(_) => "bad-database-url".into(),
            PlatformError::UnknownCard(_) => "unknown-card".into(),
            PlatformError::UnknownPerson(_) => "unknown-person".into(),
            PlatformError::Invalid { .. } => "invalid-request".into(),
            PlatformError::Refused { code, .. } => code.clone(),
            PlatformError::Conflict => "conflict".into(),
            PlatformError::IdempotencyMismatch => "idempotency-key-reused".into(),
        }
    }
}

impl From<sqlx::Error> for PlatformError {
    fn from(e: sqlx::Error) -> Self {
        PlatformError::Database(e)
    }
}
