"""The payments data: SQL for accounts and payments (schema in ``schema.sql``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg

from .pool import DatabaseUnavailable

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class Payment:
    """One payment taken from an account."""

    id: int
    account_id: int
    amount_cents: int
    currency: str
    status: str
    created_at: dt.datetime

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "account_id": self.account_id,
            "amount_cents": self.amount_cents,
            "currency": self.currency,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class Balance:
    """The balance of one account."""

    account_id: int
    balance_cents: int
    currency: str

    def to_json(self) -> dict[str, object]:
        return {
            "account_id": self.account_id,
            "balance_cents": self.balance_cents,
            "currency": self.currency,
        }


@dataclass(frozen=True)
class Refused:
    """A payment the data refused: ``status`` is the HTTP status to answer."""

    status: int
    message: str


def create_payment(
    conn: Conn, account_id: int, amount_cents: int, currency: str
) -> Payment | Refused:
    """Debit the account and record the payment, in one transaction."""
    body_done = False
    try:
        with conn.transaction():
            row = conn.execute(
                "SELECT currency, balance_cents FROM accounts WHERE id = %s FOR UPDATE",
                (account_id,),
            ).fetchone()
            if row is None:
                return Refused(404, f"account {account_id} not found")
            account_currency, balance = str(row[0]), int(row[1])
            if account_currency != currency:
                return Refused(
                    400, f"account {account_id} holds {account_currency}, not {currency}"
                )
            if balance < amount_cents:
                return Refused(409, f"account {account_id} has insufficient funds")
            conn.execute(
                "UPDATE accounts SET balance_cents = balance_cents - %s WHERE id = %s",
                (amount_cents, account_id),
            )
            inserted = conn.execute(
                "INSERT INTO payments (account_id, amount_cents, currency, status)"
                " VALUES (%s, %s, %s, 'settled') RETURNING id, created_at",
                (account_id, amount_cents, currency),
            ).fetchone()
            assert inserted is not None
            body_done = True
    except psycopg.OperationalError as exc:
        if body_done:  # the failure hit the COMMIT: it may or may not have been applied
            raise DatabaseUnavailable("commit_unknown", maybe_committed=True) from exc
        raise
    created = inserted[1]
    assert isinstance(created, dt.datetime)
    return Payment(int(inserted[0]), account_id, amount_cents, currency, "settled", created)


def get_payment(conn: Conn, payment_id: int) -> Payment | None:
    """The payment with this id, or None."""
    row = conn.execute(
        "SELECT id, account_id, amount_cents, currency, status, created_at"
        " FROM payments WHERE id = %s",
        (payment_id,),
    ).fetchone()
    if row is None:
        return None
    created = row[5]
    assert isinstance(created, dt.datetime)
    return Payment(int(row[0]), int(row[1]), int(row[2]), str(row[3]), str(row[4]), created)


def get_balance(conn: Conn, account_id: int) -> Balance | None:
    """The balance of this account, or None."""
    row = conn.execute(
        "SELECT id, balance_cents, currency FROM accounts WHERE id = %s", (account_id,)
    ).fetchone()
    if row is None:
        return None
    return Balance(int(row[0]), int(row[1]), str(row[2]))
