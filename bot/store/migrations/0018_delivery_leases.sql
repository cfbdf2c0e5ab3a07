-- Who is sending a delivery, and until when (issue 18): processes sharing one PostgreSQL
-- database claim a target's head delivery with a lease that they renew while alive; a dead
-- process's lease expires and another process takes the delivery over (looking first whether
-- it was already posted). One SQLite process keeps recovering every 'sending' row at start.
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
ALTER TABLE deliveries ADD COLUMN lease_until REAL;
