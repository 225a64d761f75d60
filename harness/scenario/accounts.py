"""The accounts a staging login uses: a CSV file with a header row, or environment variables.

Read when the stack file is loaded (errors name the file and line, exit 3) and again by every
replay worker; the passwords they hold are never written anywhere by the harness.

>>> fill_account({"user": {"email": "{account.email}"}}, {"email": "a@b.org"})
{'user': {'email': 'a@b.org'}}
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from harness.scenario.auth import CapturedLoginSpec, LoginSpec, fill_account

__all__ = ["env_account", "fill_account", "load_accounts", "read_accounts"]

#: the most accounts a file may hold (a file is read whole, by every worker)
MAX_ACCOUNTS = 1_000_000


def read_accounts(path: Path, columns: set[str]) -> list[dict[str, str]]:
    """The accounts of a CSV file with a header row; ``ValueError`` naming the line if bad."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise ValueError(f"{path}:1: no header row (e.g. user,password)")
        names = [h.strip() for h in header]
        missing = sorted(columns - set(names))
        if missing:
            raise ValueError(
                f"{path}:1: no column {missing[0]!r} (the login uses {{account.{missing[0]}}}; "
                f"columns: {', '.join(names)})"
            )
        accounts = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                raise ValueError(
                    f"{path}:{reader.line_num}: {len(row)} fields, the header has {len(names)}"
                )
            accounts.append(dict(zip(names, row, strict=True)))
            if len(accounts) > MAX_ACCOUNTS:
                raise ValueError(f"{path}: more than {MAX_ACCOUNTS} accounts")
    except csv.Error as exc:
        raise ValueError(f"{path}:{reader.line_num}: not CSV: {exc}") from None
    if not accounts:
        raise ValueError(f"{path}: no accounts after the header row")
    return accounts


def env_account(
    spec: LoginSpec | CapturedLoginSpec, environ: dict[str, str] | None = None
) -> dict[str, str]:
    """The one account of ``accounts_env``; ``ValueError`` naming an unset variable."""
    env = os.environ if environ is None else environ
    assert spec.accounts_env is not None
    account = {}
    for column, variable in spec.accounts_env.items():
        if variable not in env:
            raise ValueError(f"environment variable {variable} is not set ({column} of the login)")
        account[column] = env[variable]
    return account


def load_accounts(spec: LoginSpec | CapturedLoginSpec, stack_dir: Path) -> list[dict[str, str]]:
    """The accounts of a login (file or environment); ``ValueError`` naming what is wrong."""
    if spec.accounts is not None:
        path = spec.accounts if spec.accounts.is_absolute() else stack_dir / spec.accounts
        return read_accounts(path, spec.placeholders())
    return [env_account(spec)]
