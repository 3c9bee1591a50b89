-- meterbook ledger, schema 2. Double entry; SQLite itself refuses what would break it.
-- Amounts are signed integers in the unit's ledger scale: debit positive, credit negative.
-- A transaction is inserted open, its postings are added, then it is sealed. Seals cover a
-- contiguous range of transaction ids (one group commit), checked by set-based queries once
-- per range rather than once per transaction: a third of the write cost (see bench/).

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
    cause           TEXT NOT NULL CHECK (cause <> '')
);

CREATE TABLE IF NOT EXISTS seals (
    last_id  INTEGER PRIMARY KEY,
    first_id INTEGER NOT NULL CHECK (first_id <= last_id)
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

-- A posting may only join a transaction that exists and is not sealed yet.
CREATE TRIGGER IF NOT EXISTS postings_into_open_only BEFORE INSERT ON postings
WHEN NOT EXISTS (SELECT 1 FROM transactions WHERE id = NEW.transaction_id)
  OR (SELECT first_id FROM seals WHERE last_id >= NEW.transaction_id ORDER BY last_id LIMIT 1)
     <= NEW.transaction_id
BEGIN SELECT RAISE(ABORT, 'ledger: posting into a sealed or unknown transaction'); END;

CREATE TRIGGER IF NOT EXISTS postings_no_update BEFORE UPDATE ON postings
BEGIN SELECT RAISE(ABORT, 'ledger: postings are append-only (no UPDATE)'); END;

CREATE TRIGGER IF NOT EXISTS postings_no_delete BEFORE DELETE ON postings
BEGIN SELECT RAISE(ABORT, 'ledger: postings are append-only (no DELETE)'); END;

CREATE TRIGGER IF NOT EXISTS transactions_no_update BEFORE UPDATE ON transactions
BEGIN SELECT RAISE(ABORT, 'ledger: transactions are append-only (no UPDATE)'); END;

CREATE TRIGGER IF NOT EXISTS transactions_no_delete BEFORE DELETE ON transactions
BEGIN SELECT RAISE(ABORT, 'ledger: transactions are append-only (no DELETE)'); END;

CREATE TRIGGER IF NOT EXISTS seals_balanced BEFORE INSERT ON seals
WHEN EXISTS (
    SELECT 1 FROM postings WHERE transaction_id BETWEEN NEW.first_id AND NEW.last_id
    GROUP BY transaction_id, unit HAVING SUM(amount) <> 0)
BEGIN SELECT RAISE(ABORT, 'ledger: unbalanced transaction refused at seal'); END;

CREATE TRIGGER IF NOT EXISTS seals_two_postings BEFORE INSERT ON seals
WHEN (SELECT COUNT(*) FROM (
        SELECT transaction_id FROM postings WHERE transaction_id BETWEEN NEW.first_id AND NEW.last_id
        GROUP BY transaction_id HAVING COUNT(*) >= 2)) <> NEW.last_id - NEW.first_id + 1
BEGIN SELECT RAISE(ABORT, 'ledger: a transaction needs at least two postings'); END;

CREATE TRIGGER IF NOT EXISTS seals_units_match BEFORE INSERT ON seals
WHEN EXISTS (
    SELECT 1 FROM postings p LEFT JOIN accounts a ON a.id = p.account_id
    WHERE p.transaction_id BETWEEN NEW.first_id AND NEW.last_id AND (a.id IS NULL OR p.unit <> a.unit))
BEGIN SELECT RAISE(ABORT, 'ledger: posting names no account, or a unit other than its account''s'); END;

-- Seals follow each other without gaps, and cover only transactions that exist. Created after
-- the other seal checks because SQLite fires the newest trigger first: a gap is named as such.
CREATE TRIGGER IF NOT EXISTS seals_contiguous BEFORE INSERT ON seals
WHEN NEW.first_id <> COALESCE((SELECT MAX(last_id) FROM seals), 0) + 1
  OR (SELECT COUNT(*) FROM transactions WHERE id BETWEEN NEW.first_id AND NEW.last_id)
     <> NEW.last_id - NEW.first_id + 1
BEGIN SELECT RAISE(ABORT, 'ledger: a seal must cover the next transactions, without gaps'); END;

CREATE TRIGGER IF NOT EXISTS seals_no_update BEFORE UPDATE ON seals
BEGIN SELECT RAISE(ABORT, 'ledger: seals are final'); END;

CREATE TRIGGER IF NOT EXISTS seals_no_delete BEFORE DELETE ON seals
BEGIN SELECT RAISE(ABORT, 'ledger: seals are final'); END;

CREATE TRIGGER IF NOT EXISTS accounts_no_change BEFORE UPDATE ON accounts
BEGIN SELECT RAISE(ABORT, 'ledger: accounts are immutable'); END;

-- The journal: every input the engine accepted, in the order it was applied, written in the
-- same SQLite transaction as the postings it caused. `input_id` is the exactly-once key
-- (kind and id: `usage:e1`, `command:c7`, `customer:acme`); `body` is the input as canonical
-- JSON (msgspec), so the journal replays through the same engine.
CREATE TABLE IF NOT EXISTS inputs (
    seq        INTEGER PRIMARY KEY,
    input_id   TEXT NOT NULL,
    arrival_us INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    body       TEXT NOT NULL
);

-- Exactly-once, enforced by SQLite: an input id is journaled at most once.
CREATE UNIQUE INDEX IF NOT EXISTS inputs_by_id ON inputs (input_id);

CREATE TRIGGER IF NOT EXISTS inputs_no_update BEFORE UPDATE ON inputs
BEGIN SELECT RAISE(ABORT, 'ledger: the journal is append-only (no UPDATE)'); END;

CREATE TRIGGER IF NOT EXISTS inputs_no_delete BEFORE DELETE ON inputs
BEGIN SELECT RAISE(ABORT, 'ledger: the journal is append-only (no DELETE)'); END;

-- The latest snapshot of a live runner's actors (a cache, replaced as the run goes on; not
-- part of the ledger): the state after journal entry `journal_seq`, when the ledger held
-- transactions up to `last_txn`, whose rows hash to `txn_digest` and `posting_digest`. A
-- restart loads it and replays only the journal after it, once the stored rows up to
-- `last_txn` are found to hash the same (else it replays the whole journal).
CREATE TABLE IF NOT EXISTS snapshots (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    journal_seq    INTEGER NOT NULL,
    last_txn       INTEGER NOT NULL,
    txn_digest     TEXT NOT NULL,
    posting_digest TEXT NOT NULL,
    state          BLOB NOT NULL
);
