-- Day-2 operations: a merchant token can be revoked (it stops working at once, because every
-- Front Payment request reads its token from the database), and a console user can be
-- disabled (their sessions end and they cannot log in until enabled again).

ALTER TABLE merchant_tokens ADD COLUMN revoked_at INTEGER;
ALTER TABLE console_users ADD COLUMN disabled_at INTEGER;
