-- The audit query (app/api/services/audit.py) returns events in subscription
-- order, (tx_id, position). The type and category indexes of 0002 were in
-- position order, so a filtered page could not walk them in the order it returns:
-- the planner fell back to the (tx_id, position) index and filtered row by row,
-- which is slow for rare types with a time range. These replace them with the
-- subscription order after the key, as the actor and correlation indexes of 0013
-- already are.
CREATE INDEX events_type_order_idx ON events (type, tx_id, position);
CREATE INDEX events_category_order_idx ON events ((split_part(stream, '-', 1)), tx_id, position);
DROP INDEX events_type_idx;
DROP INDEX events_category_idx;
