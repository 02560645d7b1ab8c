-- Notifications: where they go (targets, registered by an admin), what waits to be
-- delivered (the outbox), how far the rules have read the ledger, and the last state
-- notified per rule and subject (storm control). Not history: NotificationSent and
-- NotificationFailed in `notify-<target>` are.
--
-- A target's URL can itself be a secret (a Slack incoming webhook's path is one), and
-- its `whsec_` secrets sign what it is sent: both are kept readable here (delivery
-- needs them), never shown after they were set, and never recorded in events.
CREATE TABLE notification_targets (
    name           text         PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    kind           text         NOT NULL CHECK (kind IN ('slack', 'webhook')),
    url            text         NOT NULL,
    secrets        text[]       NOT NULL DEFAULT '{}',
    allow_private  boolean      NOT NULL DEFAULT false,
    disabled       text,
    created_by     text         NOT NULL,
    created_at     timestamptz  NOT NULL DEFAULT now()
);

-- One message per row, the same id on every attempt (`webhook-id`). Items that arrive
-- for the same target and group while a message has not been tried yet join it.
-- `target` is a target's name, or `status:<repository>` for a forge commit status.
CREATE TABLE notification_outbox (
    id            bigint       GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id    text         NOT NULL UNIQUE,
    target        text         NOT NULL,
    rule          text,
    subject       text         NOT NULL,
    group_key     text,
    items         jsonb        NOT NULL,
    state         text         NOT NULL DEFAULT 'pending'
                               CHECK (state IN ('pending', 'sent', 'failed', 'dropped')),
    attempts      integer      NOT NULL DEFAULT 0,
    next_attempt  timestamptz  NOT NULL DEFAULT now(),
    created_at    timestamptz  NOT NULL DEFAULT now(),
    last_status   integer,
    last_error    text
);
CREATE INDEX notification_outbox_due_idx
    ON notification_outbox (next_attempt) WHERE state = 'pending';
CREATE INDEX notification_outbox_group_idx
    ON notification_outbox (target, group_key) WHERE state = 'pending' AND attempts = 0;

CREATE TABLE notification_states (
    rule        text         NOT NULL,
    subject     text         NOT NULL,
    state       text         NOT NULL,
    changed_at  timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (rule, subject)
);

CREATE TABLE notification_cursor (
    name      text    PRIMARY KEY,
    tx_id     bigint  NOT NULL,
    position  bigint  NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE
    ON notification_targets, notification_outbox, notification_states, notification_cursor
    TO shiplog_app;
