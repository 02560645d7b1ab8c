-- Snapshots of each environment's folded stream `env-<name>` (app/delivery/snapshots.py):
-- the state the delivery desk decides on and the environment page shows, folded up to
-- stream version `version`, so a read folds only the events after it. A cache of the
-- fold, never the truth: every row can be deleted at any time (the next read folds the
-- whole stream and saves it again). `fold` is the sha256 of the code that shaped the
-- state, so code that folds differently never reads another's snapshot.
CREATE TABLE env_state_snapshots (
    environment  text         NOT NULL,
    fold         text         NOT NULL,
    version      integer      NOT NULL CHECK (version >= 0),
    state        json         NOT NULL,
    saved_at     timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (environment, fold)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON env_state_snapshots TO shiplog_app;
