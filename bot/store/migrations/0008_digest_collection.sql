-- What a channel's digest carries no longer depends on when its schedule was set.
-- A digest-mode subscription collects the items first seen after it entered digest mode
-- (`digest_since`; NULL in instant mode), so the first digest carries what waited before the
-- schedule existed. A schedule turned off keeps its row (`off_at`), so its last digest stays
-- the mark a later schedule continues from: nothing collected in between is lost, and
-- nothing already in a digest is sent again.

ALTER TABLE subscriptions ADD COLUMN digest_since REAL;
UPDATE subscriptions SET digest_since = created_at WHERE mode = 'digest';

ALTER TABLE digest_schedules ADD COLUMN off_at REAL;
