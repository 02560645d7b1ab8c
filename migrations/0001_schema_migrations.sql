-- The record of applied migrations: one row per file, with the checksum of the
-- file as it was applied, so an edited migration is noticed instead of silently
-- diverging from what the database holds.
CREATE TABLE IF NOT EXISTS schema_migrations (
    name        text        PRIMARY KEY,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
