-- Paying a Front Payment reservation with several vouchers. Each paying voucher holds its part
-- of the grand total (front_payers, in the order the customer gave them); each capture or
-- charge draws from one voucher or several, one charge entry each (front_posting_draws, the
-- first being the posting's own entry). What a refund gave back to each draw is the sum of
-- the refund entries that name it. front_reservations.voucher_pk and hold_pk keep naming the
-- first paying voucher and its hold, which Front Payment's `voucherId` shows.

CREATE TABLE front_payers (
    reservation_pk BIGINT NOT NULL REFERENCES front_reservations (pk),
    position       BIGINT NOT NULL CHECK (position >= 0),
    voucher_pk     BIGINT NOT NULL REFERENCES vouchers (pk),
    hold_pk        BIGINT NOT NULL REFERENCES holds (pk),
    PRIMARY KEY (reservation_pk, position)
);
CREATE INDEX front_payers_by_voucher ON front_payers (voucher_pk);
INSERT INTO front_payers (reservation_pk, position, voucher_pk, hold_pk)
    SELECT pk, 0, voucher_pk, hold_pk FROM front_reservations
    WHERE voucher_pk IS NOT NULL AND hold_pk IS NOT NULL;

-- A posting's total: the sum of its draws.
ALTER TABLE front_postings ADD COLUMN amount_minor BIGINT NOT NULL DEFAULT 0;
UPDATE front_postings SET amount_minor = (SELECT e.amount_minor FROM entries e WHERE e.pk = front_postings.entry_pk);

CREATE TABLE front_posting_draws (
    entry_pk         BIGINT PRIMARY KEY REFERENCES entries (pk),
    posting_entry_pk BIGINT NOT NULL REFERENCES front_postings (entry_pk),
    position         BIGINT NOT NULL CHECK (position >= 0),
    UNIQUE (posting_entry_pk, position)
);
INSERT INTO front_posting_draws (entry_pk, posting_entry_pk, position)
    SELECT entry_pk, entry_pk, 0 FROM front_postings;
