//! The sscard back office: the card registry every terminal consults (docs/back-office.md).
//!
//! - [`store`]: the database (SQLite by default, PostgreSQL for shared deployments), one schema
//!   with versioned migrations, retries of transient failures.
//! - [`registry`]: the domain: persons, cards and their states, insurance, the event log,
//!   activation, loss reports, settlement uploads, the blacklist.
//! - [`api`]: the axum router under `/api/v1/`, terminal credentials and roles, idempotency.
//! - [`client`]: the blocking client terminals use.

pub mod api;
pub mod auth;
pub mod client;
pub mod ecard;
pub mod error;
mod migrations;
pub mod model;
pub mod registry;
pub mod server;
pub mod simulate;
pub mod store;
pub mod time;

pub use api::{router, serve, AppState};
pub use client::{BlacklistCache, Client, ClientError};
pub use error::PlatformError;
pub use server::{db_url, run, run_with, runtime, ServeError};
pub use store::{Backend, Store};

/// The default listening address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8620";
/// The SQLite file `sscard platform serve` keeps in the working directory without `--db`.
pub const DEFAULT_DB_FILE: &str = "sscard-platform.db";
