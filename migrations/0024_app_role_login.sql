-- The application logs in as shiplog_app itself, with its own credentials,
-- instead of logging in as the owner and switching roles: a session that
-- logged in as the owner (or a superuser) can always RESET ROLE or SET ROLE
-- back, so the grants of 0006 would bind only code that chose to respect them.
-- shiplog_app is not a member of the owner's role and owns nothing, so it
-- cannot alter or disable the ledger's triggers, nor UPDATE or DELETE events.
--
-- Its password is set outside migrations (a password has no place in a file
-- that is checked in): the embedded server sets a generated one; with your own
-- server, `ALTER ROLE shiplog_app PASSWORD '…'` as a role allowed to (docs/security.md).
DO $$
BEGIN
    IF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'shiplog_app') THEN
        ALTER ROLE shiplog_app LOGIN;
    END IF;
EXCEPTION
    WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'the role shiplog_app must be allowed to log in, and % may not ALTER ROLE', current_user
            USING HINT = 'as a superuser or a role with CREATEROLE, run: ALTER ROLE shiplog_app LOGIN PASSWORD ''...''; then migrate again';
END;
$$;
