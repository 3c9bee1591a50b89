-- meterbook ledger, schema 1. Double entry; SQLite itself refuses what would break it.
-- Amounts are signed integers in the unit's ledger scale: debit positive, credit negative.

CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS units (
    unit     TEXT PRIMARY KEY,
    scale    INTEGER NOT NULL CHECK (scale BETWEEN 0 AND 12),
    decimals INTEGER NOT NULL CHECK (decimals BETWEEN 0 AND scale)
);

CREATE TABLE IF NOT EXISTS accounts (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL CHECK (type IN ('asset', 'liability', 'revenue', 'expense', 'equity')),
    unit TEXT NOT NULL REFERENCES units (unit)
);

CREATE TABLE IF NOT EXISTS transactions (
    id              INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    at_us           INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    cause           TEXT NOT NULL CHECK (cause <> ''),
    sealed          INTEGER NOT NULL DEFAULT 0 CHECK (sealed IN (0, 1))
);

CREATE TABLE IF NOT EXISTS postings (
    id             INTEGER PRIMARY KEY,
    transaction_id INTEGER NOT NULL REFERENCES transactions (id),
    account_id     INTEGER NOT NULL REFERENCES accounts (id),
    unit           TEXT NOT NULL,
    amount         INTEGER NOT NULL CHECK (typeof(amount) = 'integer' AND amount <> 0)
);

CREATE INDEX IF NOT EXISTS postings_transaction ON postings (transaction_id);
CREATE INDEX IF NOT EXISTS postings_account ON postings (account_id);

-- A posting may only join a transaction that exists and is still open.
CREATE TRIGGER IF NOT EXISTS postings_into_open_only BEFORE INSERT ON postings
WHEN (SELECT sealed FROM transactions WHERE id = NEW.transaction_id) IS NOT 0
BEGIN SELECT RAISE(ABORT, 'ledger: posting into a sealed or unknown transaction'); END;

CREATE TRIGGER IF NOT EXISTS postings_no_update BEFORE UPDATE ON postings
BEGIN SELECT RAISE(ABORT, 'ledger: postings are append-only (no UPDATE)'); END;

CREATE TRIGGER IF NOT EXISTS postings_no_delete BEFORE DELETE ON postings
BEGIN SELECT RAISE(ABORT, 'ledger: postings are append-only (no DELETE)'); END;

-- Sealing is the only change a transaction may undergo, and only when it balances per unit.
CREATE TRIGGER IF NOT EXISTS transactions_seal_only BEFORE UPDATE ON transactions
WHEN OLD.sealed = 1 OR NEW.sealed <> 1 OR NEW.id IS NOT OLD.id
  OR NEW.idempotency_key IS NOT OLD.idempotency_key OR NEW.at_us IS NOT OLD.at_us
  OR NEW.kind IS NOT OLD.kind OR NEW.cause IS NOT OLD.cause
BEGIN SELECT RAISE(ABORT, 'ledger: a transaction can only be sealed, once'); END;

CREATE TRIGGER IF NOT EXISTS transactions_seal_balanced BEFORE UPDATE OF sealed ON transactions
WHEN NEW.sealed = 1 AND EXISTS (
    SELECT 1 FROM postings WHERE transaction_id = NEW.id GROUP BY unit HAVING SUM(amount) <> 0)
BEGIN SELECT RAISE(ABORT, 'ledger: unbalanced transaction refused at seal'); END;

-- Account existence and unit are checked once per transaction at seal rather than per posting
-- (foreign keys and a per-row trigger cost a third of the write rate; see bench/).
CREATE TRIGGER IF NOT EXISTS transactions_seal_units_match BEFORE UPDATE OF sealed ON transactions
WHEN NEW.sealed = 1 AND EXISTS (
    SELECT 1 FROM postings p LEFT JOIN accounts a ON a.id = p.account_id
    WHERE p.transaction_id = NEW.id AND (a.id IS NULL OR p.unit <> a.unit))
BEGIN SELECT RAISE(ABORT, 'ledger: posting names no account, or a unit other than its account''s'); END;

CREATE TRIGGER IF NOT EXISTS transactions_seal_two_postings BEFORE UPDATE OF sealed ON transactions
WHEN NEW.sealed = 1 AND (SELECT COUNT(*) FROM postings WHERE transaction_id = NEW.id) < 2
BEGIN SELECT RAISE(ABORT, 'ledger: a transaction needs at least two postings'); END;

CREATE TRIGGER IF NOT EXISTS transactions_no_delete BEFORE DELETE ON transactions
BEGIN SELECT RAISE(ABORT, 'ledger: transactions are append-only (no DELETE)'); END;

CREATE TRIGGER IF NOT EXISTS accounts_no_change BEFORE UPDATE ON accounts
BEGIN SELECT RAISE(ABORT, 'ledger: accounts are immutable'); END;
