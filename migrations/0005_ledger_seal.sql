-- The sealed Merkle tree (RFC 6962) over the ledger.
--
-- ledger_leaves: one row per sealed event, leaf_index = its index in the tree,
-- in subscription order. ledger_checkpoints: a signed statement of the tree at
-- one size: its root, and the frontier (the roots of the perfect subtrees on the
-- tree's right edge) from which the sealer resumes. Both are append-only, like
-- the events themselves.
CREATE TABLE ledger_leaves (
    leaf_index  bigint  PRIMARY KEY CHECK (leaf_index >= 0),
    position    bigint  NOT NULL UNIQUE,
    tx_id       xid8    NOT NULL,
    leaf_hash   bytea   NOT NULL CHECK (octet_length(leaf_hash) = 32)
);

CREATE TABLE ledger_checkpoints (
    tree_size   bigint       PRIMARY KEY CHECK (tree_size >= 0),
    root        bytea        NOT NULL CHECK (octet_length(root) = 32),
    frontier    jsonb        NOT NULL,
    origin      text         NOT NULL,
    key_id      text         NOT NULL,
    signature   bytea        NOT NULL,
    signed_at   timestamptz  NOT NULL DEFAULT now()
);

CREATE TRIGGER ledger_leaves_reject_update_delete
    BEFORE UPDATE OR DELETE ON ledger_leaves
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER ledger_leaves_reject_truncate
    BEFORE TRUNCATE ON ledger_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER ledger_checkpoints_reject_update_delete
    BEFORE UPDATE OR DELETE ON ledger_checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER ledger_checkpoints_reject_truncate
    BEFORE TRUNCATE ON ledger_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change();

ALTER TABLE ledger_leaves ENABLE ALWAYS TRIGGER ledger_leaves_reject_update_delete;
ALTER TABLE ledger_leaves ENABLE ALWAYS TRIGGER ledger_leaves_reject_truncate;
ALTER TABLE ledger_checkpoints ENABLE ALWAYS TRIGGER ledger_checkpoints_reject_update_delete;
ALTER TABLE ledger_checkpoints ENABLE ALWAYS TRIGGER ledger_checkpoints_reject_truncate;
