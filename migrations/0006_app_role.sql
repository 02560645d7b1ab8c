-- The role the application works as. It may read the ledger and add to it,
-- nothing more: no UPDATE, DELETE or TRUNCATE privilege on any ledger table, so
-- even a bug in shiplog cannot rewrite history. Migrations run as the owner.
-- Roles are cluster-wide and several shiplog databases may share a cluster (the
-- test suite does), hence the tolerant creation.
DO $$
BEGIN
    CREATE ROLE shiplog_app NOLOGIN;
EXCEPTION
    WHEN duplicate_object THEN NULL;
    WHEN unique_violation THEN NULL;
END;
$$;

GRANT shiplog_app TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO shiplog_app;
GRANT SELECT, INSERT ON events, ledger_leaves, ledger_checkpoints TO shiplog_app;
GRANT SELECT ON schema_migrations TO shiplog_app;
