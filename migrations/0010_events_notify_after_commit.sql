-- Appends no longer NOTIFY from inside their own transaction (0004 did, with a
-- statement trigger). PostgreSQL queues a notification at commit while holding
-- one cluster-wide lock until the commit record is flushed, so every appending
-- transaction that notifies commits alone: concurrent writers stop sharing WAL
-- flushes. The event store now sends one coalesced NOTIFY shortly after its
-- appends commit (events/notify.py). Subscribers poll as well, so a writer that
-- does not notify (plain SQL, another tool) delays readers, never loses an event.
DROP TRIGGER events_notify_append ON events;
DROP FUNCTION ledger_notify_append();
