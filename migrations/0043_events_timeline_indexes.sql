-- The web timeline lists events newest first, filtered by type or category, a keyset
-- page at a time (ORDER BY tx_id DESC, position DESC LIMIT n). The indexes of
-- migration 0002 order a type's or a category's events by position only, so a page
-- of a rare type had to walk the whole (tx_id, position) index backwards looking
-- for matches. With the subscription order after the key, such a page is one
-- index range, whatever the type's frequency and however deep the page.
CREATE INDEX events_type_tx_idx ON events (type, tx_id, position);
CREATE INDEX events_category_tx_idx ON events ((split_part(stream, '-', 1)), tx_id, position);
