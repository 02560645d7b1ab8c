-- Indexes for the audit query (GET /api/events): who did it (actor), which run
-- it belongs to (correlation id), and when. Each keeps subscription order
-- (tx_id, position) after its key, so a filtered page is an index range.
CREATE INDEX events_actor_idx ON events ((metadata->>'actor'), tx_id, position);
CREATE INDEX events_correlation_idx ON events ((metadata->>'correlation_id'), tx_id, position)
    WHERE metadata ? 'correlation_id';
CREATE INDEX events_recorded_at_idx ON events (recorded_at);
