"""Which digit runs are payment card numbers: the ``card`` rule and its guards against ids.

A run of 13 to 19 digits is a card number when all of these hold:

- it stands alone: no letter, digit, underscore, ``+`` (phone numbers) or decimal point right
  before it (nor a letter or digit and a ``-``, ``.`` or blank), and no letter or digit (or a
  separator followed by one) right after it, so the digits inside a UUID
  (``07700406-8385-4321-...``), a hex id, a decimal or a longer run are never read;
- it is written the way cards are: no separator, or one kind of separator (a space or a dash)
  between groups of four (``4111 1111 1111 1111``, the last group may be shorter), or the
  4-6-5 / 4-6-4 groups of American Express and Diners cards;
- its issuer prefix is a card network's (ISO/IEC 7812 major industry identifiers 2-6: Visa,
  Mastercard, American Express, Diners, JCB, Discover, UnionPay, Maestro): epoch timestamps in
  seconds, milliseconds, micro- or nanoseconds up to the year 2033 start with ``1``, so they are
  never cards;
- it passes the Luhn check.

The cost is that airline (UATP, prefix 1) cards are not found; ``docs/capture.md`` lists the
false positives measured on every capture of the repository.
"""

from __future__ import annotations

import re

#: Candidates: 13-19 digits with optional single spaces or dashes, standing alone.
CARD_CANDIDATE = re.compile(
    r"(?<![0-9A-Za-z_+.])(?<![0-9A-Za-z_+][-.])(?<![0-9] )[0-9](?:[ -]?[0-9]){12,18}"
    r"(?![0-9A-Za-z_])(?![-.][0-9A-Za-z])(?! [0-9])"
)
_GROUPED = re.compile(
    r"[0-9]{4}(?P<sep>[ -])[0-9]{4}(?:(?P=sep)[0-9]{4}){1,2}(?:(?P=sep)[0-9]{1,4})?"
)
_AMEX_DINERS = re.compile(r"[0-9]{4}(?P<sep>[ -])[0-9]{6}(?P=sep)[0-9]{4,5}")


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_digit(partial: str) -> str:
    """The check digit that makes ``partial + digit`` pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = ord(ch) - 48
        if i % 2 == 0:  # doubled: the check digit will sit right of it
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str(-total % 10)


def network_prefix(digits: str) -> bool:
    """Whether ``digits`` (13-19 of them) start like a card of a payment network."""
    n = len(digits)
    first = digits[0]
    if first == "4":  # Visa
        return True
    if first == "5":  # Mastercard 51-55, Maestro 50, 56-59
        return n == 16 or digits[1] in "06789"
    if first == "6":  # Discover, UnionPay, Maestro, RuPay
        return True
    if first == "3":
        two = digits[:2]
        if two in ("34", "37"):  # American Express
            return n == 15
        if two in ("30", "36", "38", "39"):  # Diners Club
            return 14 <= n <= 16
        return two == "35"  # JCB
    if first == "2":  # Mastercard 2221-2720, Mir 2200-2204
        four = int(digits[:4])
        return (2221 <= four <= 2720 and n == 16) or 2200 <= four <= 2204
    return False


def well_grouped(text: str) -> bool:
    """Whether the separators of a candidate sit where card numbers put them."""
    if text.isdigit():
        return True
    return bool(_GROUPED.fullmatch(text) or _AMEX_DINERS.fullmatch(text))


def is_card(text: str) -> bool:
    """Whether ``text`` (one candidate, separators included) is a card number."""
    if not well_grouped(text):
        return False
    digits = text.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and network_prefix(digits) and luhn_valid(digits)
