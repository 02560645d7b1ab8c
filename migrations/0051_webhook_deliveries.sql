-- Webhook deliveries accepted but not yet turned into runs: the inbox between
-- the forge (which wants an answer within seconds) and the worker that fetches
-- the pushed commit, reads its pipeline file and queues runs. Not history: the
-- ledger has CommitsPushed and RunQueued; a row records the trigger as parsed
-- (refs, shas, fork or not), never the request body.
--
-- (forge, delivery) is unique, so a redelivery is recognised; content_key
-- (repository + ref + after-sha) is unique where set, for Gitea, whose manual
-- replay gets a new delivery id. Workers claim rows with FOR UPDATE SKIP LOCKED,
-- so several `shiplog serve` processes share the work without doing it twice.
CREATE TABLE webhook_deliveries (
    id            bigint       GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    forge         text         NOT NULL,
    repository    text         NOT NULL,
    delivery      text         NOT NULL,
    content_key   text,
    event         text         NOT NULL CHECK (event IN ('push', 'tag', 'pull_request')),
    trigger       jsonb        NOT NULL,
    received_at   timestamptz  NOT NULL DEFAULT now(),
    state         text         NOT NULL DEFAULT 'pending'
                               CHECK (state IN ('pending', 'done', 'failed')),
    attempts      integer      NOT NULL DEFAULT 0,
    next_attempt  timestamptz  NOT NULL DEFAULT now(),
    outcome       text,
    runs          text[]       NOT NULL DEFAULT '{}',
    UNIQUE (forge, delivery)
);
CREATE UNIQUE INDEX webhook_deliveries_content_idx
    ON webhook_deliveries (forge, content_key) WHERE content_key IS NOT NULL;
CREATE INDEX webhook_deliveries_pending_idx
    ON webhook_deliveries (next_attempt) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_repository_idx ON webhook_deliveries (repository, id);

GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_deliveries TO shiplog_app;
