-- Who is sending a delivery, and until when: processes sharing this database claim a
-- target's head delivery with a lease they renew while alive; a dead process's lease expires
-- and another process takes the delivery over (looking first whether it was already posted).
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
ALTER TABLE deliveries ADD COLUMN lease_until DOUBLE PRECISION;
CREATE INDEX deliveries_sending ON deliveries (lease_until) WHERE state = 'sending';

-- Discord's budget, shared by every process of the bot (bot.delivery.budget.SharedBudget):
-- the global pace as the next free slot (a theoretical arrival time, in the server's clock),
-- and each target's sends of the last window.
CREATE TABLE discord_pace (
    bucket              TEXT    PRIMARY KEY,
    next_slot           DOUBLE PRECISION NOT NULL
);
CREATE TABLE discord_target_sends (
    target              TEXT    PRIMARY KEY,
    sent_at             DOUBLE PRECISION[] NOT NULL
);
