"""The card rule: finds cards with and without separators, never UUIDs, hex ids or timestamps."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.capture.cards import CARD_CANDIDATE, is_card, luhn_digit, luhn_valid


def cards_in(text: str) -> list[str]:
    return [m.group(0) for m in CARD_CANDIDATE.finditer(text) if is_card(m.group(0))]


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")
    assert luhn_digit("411111111111111") == "1"


@pytest.mark.parametrize(
    "card",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5555 5555 5555 4444",
        "378282246310005",
        "3782 822463 10005",
        "30569309025904",
        "6011111111111117",
        "3530111333300000",
        "2223003122003222",
        "6200000000000005",
        "4222222222222",
        "6759649826438453",
    ],
)
def test_cards_are_found(card: str) -> None:
    for text in (card, f"card {card}.", f'{{"pan":"{card}"}}', f"?c={card}&x=1", f"/cards/{card}"):
        assert cards_in(text) == [card], text


@pytest.mark.parametrize(
    "text",
    [
        "07700406-8385-4321-8abc-0123456789ab",  # digits inside a UUID
        "since=1796402762985",  # epoch ms (Luhn-valid by chance)
        "ts 1700000000000000000",  # epoch ns
        "4111 1111 1111 1111 1111 1",  # too many digits
        "41111111 11111111",  # not in card groups
        "4111-1111 1111-1111",  # mixed separators
        "a4111111111111111",  # inside a hex id
        "4111111111111111f0",
        "0.4111111111111111",  # a decimal
        "+4111111111111111",  # a phone number
        "x-4111111111111111",
        "4111111111111111-abc",
        "9111111111111111",  # no card network
        "1234567890123",
    ],
)
def test_not_cards(text: str) -> None:
    assert cards_in(text) == []


@given(st.uuids())
def test_no_uuid_holds_a_card(value: uuid.UUID) -> None:
    for text in (str(value), str(value).upper(), value.hex):
        assert cards_in(text) == []


@given(st.integers(min_value=946_684_800, max_value=2_000_000_000))
def test_no_epoch_timestamp_is_a_card(seconds: int) -> None:
    for scale in (1, 1000, 1_000_000, 1_000_000_000):
        assert cards_in(f"ts={seconds * scale}") == []


@given(st.from_regex(r"[0-9a-f]{24,64}", fullmatch=True))
def test_no_hex_id_holds_a_card(hex_id: str) -> None:
    if not hex_id.isdigit():
        assert cards_in(f"/orders/{hex_id}") == []
