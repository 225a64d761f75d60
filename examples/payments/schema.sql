-- Schema and seed data of the payments demo service: the template database that every
-- target's database is cloned from. Deterministic: the same rows on every machine.

CREATE TABLE accounts (
    id            integer PRIMARY KEY,
    owner         text    NOT NULL,
    currency      text    NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    balance_cents bigint  NOT NULL CHECK (balance_cents >= 0)
);

CREATE TABLE payments (
    id           bigserial   PRIMARY KEY,
    account_id   integer     NOT NULL REFERENCES accounts (id),
    amount_cents bigint      NOT NULL CHECK (amount_cents > 0),
    currency     text        NOT NULL,
    status       text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX payments_account_id ON payments (account_id);

-- 1,000 accounts: every tenth one in EUR, the others in USD; balances from 1,000,000 cents up.
INSERT INTO accounts (id, owner, currency, balance_cents)
SELECT g,
       'account-' || lpad(g::text, 4, '0'),
       CASE WHEN g % 10 = 0 THEN 'EUR' ELSE 'USD' END,
       1000000 + (g * 7919) % 500000
FROM generate_series(1, 1000) AS g;

-- 5,000 settled payments at fixed times, already reflected in the balances above.
INSERT INTO payments (account_id, amount_cents, currency, status, created_at)
SELECT a.id,
       100 + (g * 104729) % 9900,
       a.currency,
       'settled',
       timestamptz '2026-01-01 00:00:00+00' + g * interval '17 seconds'
FROM generate_series(1, 5000) AS g
JOIN accounts AS a ON a.id = 1 + (g * 31) % 1000
ORDER BY g;

SELECT setval('payments_id_seq', (SELECT max(id) FROM payments));

ANALYZE accounts;
ANALYZE payments;
