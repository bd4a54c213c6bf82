//! The schema, as versioned migrations. Each migration is applied once, in one transaction with
//! its row in `schema_migrations` (PostgreSQL also takes an advisory lock, so several service
//! instances starting together apply it once). The statements are written once; the few words
//! the two databases spell differently are placeholders filled per backend.

use crate::store::Backend;

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    /// Statements for both backends (`{id}`: an auto-increment primary key, `{int}`: a 64-bit
    /// integer).
    pub common: &'static [&'static str],
    pub sqlite: &'static [&'static str],
    pub postgres: &'static [&'static str],
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "registry",
        common: &[
            "CREATE TABLE persons (
            id {id},
            ssn TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            paid_through TEXT,
            suspended_since TEXT,
            suspended_reason TEXT,
            created_at TEXT NOT NULL
        )",
            "CREATE TABLE cards (
            card_number TEXT PRIMARY KEY,
            card_id_code TEXT NOT NULL UNIQUE,
            person_id {int} NOT NULL REFERENCES persons(id),
            region TEXT NOT NULL,
            version TEXT NOT NULL,
            issue_date TEXT NOT NULL,
            expiry_date TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN
                ('issued', 'activated', 'temporarily_lost', 'lost', 'cancelled', 'sealed')),
            state_before_loss TEXT,
            activation_date TEXT,
            activation_outlet TEXT,
            activation_terminal TEXT,
            activation_late {int},
            supersedes TEXT REFERENCES cards(card_number),
            superseded_by TEXT,
            online_mode {int} NOT NULL DEFAULT 0,
            account_balance_fen {int} NOT NULL DEFAULT 0,
            purse_balance_fen {int},
            purse_serial {int},
            updated_at TEXT NOT NULL
        )",
            // One card in use per person: the database refuses a second, whatever the code does.
            "CREATE UNIQUE INDEX one_active_card_per_person ON cards (person_id)
            WHERE state IN ('issued', 'activated', 'temporarily_lost')",
            "CREATE TABLE events (
            id {id},
            at TEXT NOT NULL,
            card_number TEXT,
            ssn TEXT,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL,
            actor TEXT NOT NULL,
            terminal TEXT
        )",
            "CREATE INDEX events_by_card ON events (card_number, id)",
            "CREATE TABLE terminals (
            id TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('outlet', 'hospital', 'admin')),
            token_sha256 TEXT NOT NULL UNIQUE,
            revoked {int} NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )",
            // A write and its answer commit together: a retried key finds the answer, or nothing.
            "CREATE TABLE idempotency (
            terminal_id TEXT NOT NULL,
            key TEXT NOT NULL,
            request_sha256 TEXT NOT NULL,
            status {int} NOT NULL,
            response TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (terminal_id, key)
        )",
            "CREATE TABLE settlements (
            card_number TEXT NOT NULL REFERENCES cards(card_number),
            serial {int} NOT NULL,
            balance_before {int} NOT NULL,
            account_fen {int} NOT NULL,
            self_pay_fen {int} NOT NULL,
            pooled_fen {int} NOT NULL,
            terminal_no TEXT NOT NULL,
            terminal_serial TEXT NOT NULL,
            time TEXT NOT NULL,
            tac TEXT NOT NULL,
            reconciled {int} NOT NULL,
            uploaded_by TEXT NOT NULL,
            uploaded_at TEXT NOT NULL,
            PRIMARY KEY (card_number, serial)
        )",
            "CREATE TABLE blacklist (
            version {id},
            card_number TEXT NOT NULL,
            listed {int} NOT NULL,
            state TEXT NOT NULL,
            at TEXT NOT NULL
        )",
        ],
        // The event log is append-only in the database too.
        sqlite: &[
            "CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END",
            "CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END",
        ],
        postgres: &[
            "CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'the event log is append-only'; END $$",
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
            FOR EACH ROW EXECUTE FUNCTION events_append_only()",
        ],
    },
    crate::ecard::schema::MIGRATION,
    crate::ecard::family::schema::MIGRATION,
    crate::ecard::payments::MIGRATION,
];

/// The statements of `migration` for `backend`, placeholders filled.
pub(crate) fn statements(migration: &Migration, backend: Backend) -> Vec<String> {
    let (id, int, own) = match backend {
        Backend::Sqlite => (
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "INTEGER",
            migration.sqlite,
        ),
        Backend::Postgres => (
            "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
            "BIGINT",
            migration.postgres,
        ),
    };
    migration
        .common
        .iter()
        .chain(own)
        .map(|s| s.replace("{id}", id).replace("{int}", int))
        .collect()
}
