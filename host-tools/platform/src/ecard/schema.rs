//! Migration 2: the electronic card (docs/electronic-card.md, "Issuance and login").
//!
//! The database holds the rules the code relies on:
//! - one e-card per physical card and one per person (`UNIQUE` on both), so two applications
//!   racing for the same card leave one e-card whatever the code does;
//! - when a replacement card is activated, its predecessor's e-card moves onto it in the same
//!   transaction as the activation (a trigger), with its event in the log.

use crate::migrations::Migration;

pub(crate) const MIGRATION: Migration = Migration {
    version: 2,
    name: "ecard",
    common: &[
        "CREATE TABLE ecards (
            id TEXT PRIMARY KEY,
            card_number TEXT NOT NULL UNIQUE REFERENCES cards(card_number),
            person_id {int} NOT NULL UNIQUE REFERENCES persons(id),
            password_hash TEXT NOT NULL,
            privacy_terms TEXT NOT NULL,
            consented_at TEXT NOT NULL,
            settlement_linked {int} NOT NULL DEFAULT 0,
            failed_passwords {int} NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )",
        "CREATE TABLE ecard_channels (
            ecard_id TEXT NOT NULL REFERENCES ecards(id),
            channel TEXT NOT NULL,
            added_at TEXT NOT NULL,
            PRIMARY KEY (ecard_id, channel)
        )",
        // Online replay guard: a code's nonce is inserted in the verifying transaction; a
        // conflicting insert is a replay. Rows past their code's expiry are deleted.
        "CREATE TABLE ecard_nonces (
            nonce TEXT PRIMARY KEY,
            ecard_id TEXT NOT NULL,
            expires_at {int} NOT NULL,
            verified_by TEXT NOT NULL
        )",
        "CREATE INDEX ecard_nonces_by_expiry ON ecard_nonces (expires_at)",
        // One-time settlement tokens an online verification of a payment code answers with;
        // stored as SHA-256, like terminal credentials (32 random bytes need no slow hash).
        "CREATE TABLE ecard_settlement_tokens (
            token_sha256 TEXT PRIMARY KEY,
            ecard_id TEXT NOT NULL REFERENCES ecards(id),
            holder_ecard_id TEXT NOT NULL REFERENCES ecards(id),
            terminal_id TEXT NOT NULL,
            expires_at {int} NOT NULL,
            created_at TEXT NOT NULL
        )",
        // A holder's login: a random bearer token, stored as SHA-256, with its expiry.
        "CREATE TABLE ecard_sessions (
            token_sha256 TEXT PRIMARY KEY,
            ecard_id TEXT NOT NULL REFERENCES ecards(id),
            expires_at {int} NOT NULL
        )",
    ],
    sqlite: &[
        "CREATE TRIGGER ecard_follows_replacement AFTER UPDATE OF state ON cards
            WHEN NEW.state = 'activated' AND NEW.supersedes IS NOT NULL
            BEGIN
                INSERT INTO events (at, card_number, ssn, kind, detail, actor, terminal)
                    SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), NEW.card_number, p.ssn,
                        'ecard-followed-replacement',
                        json_object('ecard', e.id, 'from', NEW.supersedes, 'to', NEW.card_number),
                        'registry', NEW.activation_terminal
                    FROM ecards e JOIN persons p ON p.id = e.person_id
                    WHERE e.card_number = NEW.supersedes;
                UPDATE ecards SET card_number = NEW.card_number,
                        updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
                    WHERE card_number = NEW.supersedes;
            END",
    ],
    postgres: &[
        "CREATE FUNCTION ecard_follows_replacement() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE stamp TEXT := to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"');
            BEGIN
                INSERT INTO events (at, card_number, ssn, kind, detail, actor, terminal)
                    SELECT stamp, NEW.card_number, p.ssn, 'ecard-followed-replacement',
                        json_build_object('ecard', e.id, 'from', NEW.supersedes,
                            'to', NEW.card_number)::text,
                        'registry', NEW.activation_terminal
                    FROM ecards e JOIN persons p ON p.id = e.person_id
                    WHERE e.card_number = NEW.supersedes;
                UPDATE ecards SET card_number = NEW.card_number, updated_at = stamp
                    WHERE card_number = NEW.supersedes;
                RETURN NEW;
            END $$",
        "CREATE TRIGGER ecard_follows_replacement AFTER UPDATE OF state ON cards
            FOR EACH ROW WHEN (NEW.state = 'activated' AND OLD.state <> 'activated'
                AND NEW.supersedes IS NOT NULL)
            EXECUTE FUNCTION ecard_follows_replacement()",
    ],
};
