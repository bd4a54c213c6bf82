//! Migration 3: family accounts (docs/electronic-card.md, "Family accounts").
//!
//! The database holds the rules the code relies on:
//! - no self-link, consent `own` or `guardian`, and a guardian link only for the relationships a
//!   guardian has (`child`, `ward`) with the guardian's details stored (`CHECK`s);
//! - one active link per holder and member (a partial unique index: a removed link stays, so
//!   the member can be added again);
//! - the limit `family_max_members` lives in `ecard_settings`, and a trigger refuses an insert
//!   beyond it; the code also takes a lock on the holder's e-card row before it counts, so two
//!   adds racing for the last place on PostgreSQL cannot both see room.

use crate::migrations::Migration;

pub(crate) const MIGRATION: Migration = Migration {
    version: 3,
    name: "ecard-family",
    common: &[
        "CREATE TABLE ecard_settings (
            name TEXT PRIMARY KEY,
            value {int} NOT NULL,
            updated_at TEXT NOT NULL
        )",
        "INSERT INTO ecard_settings (name, value, updated_at)
            VALUES ('family_max_members', 8, '1970-01-01T00:00:00Z')",
        "CREATE TABLE ecard_family (
            id {id},
            holder_ecard_id TEXT NOT NULL REFERENCES ecards(id),
            member_ecard_id TEXT NOT NULL REFERENCES ecards(id),
            relationship TEXT NOT NULL CHECK (relationship IN
                ('spouse', 'parent', 'child', 'grandparent', 'grandchild', 'sibling', 'ward')),
            consent TEXT NOT NULL CHECK (consent IN ('own', 'guardian')),
            guardian_ecard_id TEXT,
            guardian_name TEXT,
            added_at TEXT NOT NULL,
            removed_at TEXT,
            removed_by TEXT,
            CHECK (holder_ecard_id <> member_ecard_id),
            CHECK ((consent = 'own' AND guardian_ecard_id IS NULL AND guardian_name IS NULL)
                OR (consent = 'guardian' AND guardian_ecard_id = holder_ecard_id
                    AND guardian_name IS NOT NULL AND relationship IN ('child', 'ward'))),
            CHECK ((removed_at IS NULL) = (removed_by IS NULL))
        )",
        "CREATE UNIQUE INDEX ecard_family_one_active_link
            ON ecard_family (holder_ecard_id, member_ecard_id) WHERE removed_at IS NULL",
        "CREATE INDEX ecard_family_by_member ON ecard_family (member_ecard_id)",
    ],
    sqlite: &["CREATE TRIGGER ecard_family_limit BEFORE INSERT ON ecard_family
            WHEN (SELECT COUNT(*) FROM ecard_family
                    WHERE holder_ecard_id = NEW.holder_ecard_id AND removed_at IS NULL)
                >= (SELECT value FROM ecard_settings WHERE name = 'family_max_members')
            BEGIN SELECT RAISE(ABORT, 'family-limit: the holder has as many family members as allowed'); END"],
    postgres: &[
        "CREATE FUNCTION ecard_family_limit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF (SELECT COUNT(*) FROM ecard_family
                        WHERE holder_ecard_id = NEW.holder_ecard_id AND removed_at IS NULL)
                    >= (SELECT value FROM ecard_settings WHERE name = 'family_max_members') THEN
                    RAISE EXCEPTION 'family-limit: the holder has as many family members as allowed';
                END IF;
                RETURN NEW;
            END $$",
        "CREATE TRIGGER ecard_family_limit BEFORE INSERT ON ecard_family
            FOR EACH ROW EXECUTE FUNCTION ecard_family_limit()",
    ],
};
