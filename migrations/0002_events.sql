-- The ledger: one append-only table holds every event of every stream.
--
-- position   global order of insertion (not of commit: see tx_id)
-- tx_id      the writing transaction; (tx_id, position) is the subscription
--            cursor, read only below pg_snapshot_xmin(pg_current_snapshot())
-- stream     "category-id", e.g. run-0b6f..., env-production, repo-acme.web
-- version    0-based position inside the stream; UNIQUE gives optimistic
--            concurrency (two writers at the same expected version collide)
-- event_id   UNIQUE, so a retried append is recognised and not written twice
-- hash       RFC 6962 leaf hash of the event's canonical bytes
CREATE TABLE events (
    position        bigint       GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id           xid8         NOT NULL DEFAULT pg_current_xact_id(),
    stream          text         NOT NULL,
    version         bigint       NOT NULL CHECK (version >= 0),
    event_id        uuid         NOT NULL,
    type            text         NOT NULL,
    schema_version  integer      NOT NULL CHECK (schema_version >= 1),
    data            jsonb        NOT NULL,
    metadata        jsonb        NOT NULL,
    recorded_at     timestamptz  NOT NULL,
    hash            bytea        NOT NULL CHECK (octet_length(hash) = 32),
    CONSTRAINT events_stream_version_key UNIQUE (stream, version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);

-- Subscription order.
CREATE INDEX events_tx_id_position_idx ON events (tx_id, position);
-- Category reads ("every run-* stream"): category is the text before the first dash.
CREATE INDEX events_category_idx ON events ((split_part(stream, '-', 1)), position);
CREATE INDEX events_type_idx ON events (type, position);
