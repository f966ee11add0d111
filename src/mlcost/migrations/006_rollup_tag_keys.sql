-- The tag keys daily_spend_by_tag holds (src/mlcost/rollups.py): the configured ones
-- (anomalies.tag_keys) when the last writer opened the store. A writer that finds other
-- keys configured rolls up the new ones from cost and drops the old (store.py, _retag);
-- a reader reads cost for a key not listed here. A store's roll-ups so far hold the keys
-- migration 005 rolled up: each key has rows for every group of the billing (a line
-- without the tag under NULL), so they are the keys present.
CREATE TABLE rollup_tag_keys (
    tag_key VARCHAR PRIMARY KEY,
    rolled_up_at TIMESTAMP
);
INSERT INTO rollup_tag_keys
SELECT tag_key, max(rolled_up_at) FROM daily_spend_by_tag GROUP BY tag_key;
