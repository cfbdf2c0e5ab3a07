-- Several processes share the polling: a due feed is leased to one of them while it polls
-- it (lease_holder: the process id host:pid:random; lease_until: epoch seconds). A lease
-- past lease_until is free again, so a dead process's feeds are taken over.
ALTER TABLE feeds ADD COLUMN lease_holder TEXT;
ALTER TABLE feeds ADD COLUMN lease_until DOUBLE PRECISION;
CREATE INDEX feeds_lease_holder ON feeds (lease_holder) WHERE lease_holder IS NOT NULL;
