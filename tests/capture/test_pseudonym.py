"""Pseudonyms: one to one, the same everywhere, the form a server validates kept (per class)."""

from __future__ import annotations

import base64
import json
import re
import string

import pytest
from email_validator import validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capture.cards import is_card, luhn_digit, luhn_valid
from harness.capture.pseudonym import KEPT_CLAIMS, UUID, Pseudonymiser, PseudonymKey
from harness.errors import UsageError

KEY = PseudonymKey(b"k" * 32, "test")
P = Pseudonymiser(KEY)
OTHER = Pseudonymiser(PseudonymKey(b"o" * 32, "test"))

letters_digits = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=40)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unb64(segment: str) -> object:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_key_never_shows() -> None:
    assert "6b6b" not in repr(KEY) and "kkkk" not in repr(KEY)
    assert "kkkk" not in repr(P) and "kkkk" not in str(P)


def test_key_from_env() -> None:
    key = PseudonymKey.from_env("K", {"K": "a" * 16})
    assert key.source == "environment variable K"
    again = PseudonymKey.from_env("K", {"K": "a" * 16})
    assert Pseudonymiser(key).pseudonym("secret-value") == Pseudonymiser(again).pseudonym(
        "secret-value"
    )
    with pytest.raises(UsageError, match="not set"):
        PseudonymKey.from_env("K", {})
    with pytest.raises(UsageError, match="5 characters, at least 16") as info:
        PseudonymKey.from_env("K", {"K": "short"})
    assert "short" not in str(info.value)


def test_generated_keys_differ() -> None:
    one = Pseudonymiser(PseudonymKey.generate())
    two = Pseudonymiser(PseudonymKey.generate())
    assert one.pseudonym("Pa55w0rd-SEEDED-value") != two.pseudonym("Pa55w0rd-SEEDED-value")


@given(st.text(min_size=1, max_size=80))
def test_any_value_is_deterministic_and_changes(raw: str) -> None:
    assert P.pseudonym(raw) == P.pseudonym(raw) == Pseudonymiser(KEY).pseudonym(raw)
    if sum(ch.isalnum() for ch in raw) >= 8:
        assert P.pseudonym(raw) != raw


@given(st.lists(letters_digits, min_size=2, max_size=30, unique=True))
def test_distinct_values_get_distinct_pseudonyms(raws: list[str]) -> None:
    assert len({P.pseudonym(r) for r in raws}) == len(raws)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_digits_are_a_permutation(n: int) -> None:
    every = [str(i).zfill(n) for i in range(10**n)]
    images = [P.digits(v) for v in every]
    assert sorted(images) == every  # one to one onto the same set
    for raw, new in zip(every, images, strict=True):
        assert (raw[0] == "0") == (new[0] == "0")


@given(st.from_regex(r"[0-9]{1,40}", fullmatch=True))
def test_digits_keep_length_and_leading_digit_kind(raw: str) -> None:
    new = P.pseudonym(raw)
    assert new.isdigit() and len(new) == len(raw)
    assert (raw[0] == "0") == (new[0] == "0")


@given(st.from_regex(r"[a-zA-Z0-9._+-]{1,30}", fullmatch=True), st.sampled_from(
    ["gmail.com", "acme-corp.co.uk", "x.io", "mail.example.org", "b2b.shop"]
))  # fmt: skip
def test_email_stays_valid_and_unique_per_local_part(local: str, domain: str) -> None:
    local = re.sub(r"\.{2,}", ".", local).strip(".") or "a"  # a valid local part to start from
    raw = f"{local}@{domain}"
    new = P.pseudonym(raw)
    assert validate_email(new, check_deliverability=False).normalized
    assert new.endswith(".example.com") and new != raw
    new_local, _, new_domain = new.rpartition("@")
    assert len(new_local) == len(local)
    assert new_domain == P.pseudonym(f"x@{domain}").rpartition("@")[2]  # domain by itself


def test_email_case_insensitive_equality_survives() -> None:
    upper, lower = P.pseudonym("Ann.Lee@Acme.IO"), P.pseudonym("ann.lee@acme.io")
    assert upper != lower and upper.lower() == lower.lower()


def _card(prefix: str, length: int, draw: str) -> str:
    body = (prefix + draw)[: length - 1]
    return body + luhn_digit(body)


@given(
    st.sampled_from([("4", 16), ("4", 13), ("51", 16), ("2221", 16), ("37", 15), ("6011", 16)]),
    st.from_regex(r"[0-9]{18}", fullmatch=True),
    st.sampled_from(["", " ", "-"]),
)
def test_card_stays_luhn_valid_with_length_and_separators(
    kind: tuple[str, int], draw: str, sep: str
) -> None:
    digits = _card(kind[0], kind[1], draw)
    if sep and len(digits) == 16:
        raw = sep.join(digits[i : i + 4] for i in range(0, 16, 4))
    else:
        raw = digits
    assert is_card(raw)
    new = P.pseudonym(raw)
    assert len(new) == len(raw)
    assert [i for i, c in enumerate(new) if not c.isdigit()] == [
        i for i, c in enumerate(raw) if not c.isdigit()
    ]
    new_digits = new.replace(" ", "").replace("-", "")
    assert luhn_valid(new_digits) and new_digits[:6] == digits[:6]
    # the same card with or without separators has the same digits
    assert P.pseudonym(digits) == new_digits


@given(st.uuids())
def test_uuid_stays_uuid_of_same_version(value: object) -> None:
    raw = str(value)
    new = P.pseudonym(raw)
    assert UUID.fullmatch(new) and new != raw
    assert new[14] == raw[14]  # version
    assert int(new[19], 16) >> 2 == int(raw[19], 16) >> 2  # variant
    assert P.pseudonym(raw.upper()) == new.upper() or P.pseudonym(raw.upper()).isupper()


@given(
    st.from_regex(r"[0-9a-f]{8,48}", fullmatch=True).filter(
        lambda s: not s.isdigit() and not s.isalpha()
    )
)
def test_hex_stays_hex(raw: str) -> None:
    new = P.pseudonym(raw)
    assert re.fullmatch(r"[0-9a-f]+", new) and len(new) == len(raw)


@given(st.from_regex(r"[A-Za-z0-9!#%&*+,./:;=?@^_~ -]{1,60}", fullmatch=True))
def test_text_keeps_its_shape(raw: str) -> None:
    new = P.text(raw)
    assert len(new) == len(raw)
    for old, ch in zip(raw, new, strict=True):
        if old.isalpha():
            assert ch.isalpha() and ch.isascii() and ch.isupper() == old.isupper()
        elif old.isdigit():
            assert ch.isdigit()
        elif any(c.isalnum() for c in raw):
            assert ch == old


def test_text_without_letters_or_digits_keeps_nothing() -> None:
    assert P.pseudonym("!!!!!!") != "!!!!!!"
    assert P.pseudonym("   ") == "   "


@given(st.text(min_size=1, max_size=30).filter(lambda s: not s.isascii()))
def test_non_ascii_values_become_printable(raw: str) -> None:
    new = P.pseudonym(raw)
    assert len(new) == len(raw)
    assert all(ch == old or ch.isascii() for ch, old in zip(new, raw, strict=True))


def test_aws_key_keeps_prefix() -> None:
    new = P.pseudonym("AKIAIOSFODNN7EXAMPLE")
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", new) and new != "AKIAIOSFODNN7EXAMPLE"


def test_pem_keeps_markers_and_line_breaks() -> None:
    body = "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu"
    for nl in ("\n", "\\n", "\r\n", "%0A"):
        raw = f"-----BEGIN RSA PRIVATE KEY-----{nl}{body}{nl}-----END RSA PRIVATE KEY-----"
        new = P.pseudonym(raw)
        assert body not in new
        lines = new.split(nl)
        assert lines[0] == "-----BEGIN RSA PRIVATE KEY-----"
        assert lines[2] == "-----END RSA PRIVATE KEY-----"
        assert len(lines[1]) == len(body)
        assert lines[1] == P.pseudonym(body)  # line by line: the same whatever the escaping


@given(
    st.fixed_dictionaries(
        {
            "sub": st.from_regex(r"[a-z0-9-]{3,20}", fullmatch=True),
            "email": st.just("ann@acme.io"),
            "uid": st.integers(min_value=0, max_value=10**12),
            "admin": st.booleans(),
            "exp": st.integers(min_value=1_700_000_000, max_value=1_900_000_000),
            "groups": st.lists(st.sampled_from(["ops", "dev"]), max_size=3),
        }
    )
)
@settings(max_examples=50)
def test_jwt_keeps_segments_claim_names_and_types(claims: dict[str, object]) -> None:
    head = _b64({"alg": "HS256", "typ": "JWT"})
    raw = f"{head}.{_b64(claims)}.c2lnbmF0dXJlLXNlY3JldC12YWx1ZQ"
    new = P.pseudonym(raw)
    new_head, new_payload, new_sig = new.split(".")
    assert new_head == head
    assert re.fullmatch(r"[A-Za-z0-9_-]+", new_payload + new_sig)
    assert len(new_sig) == len("c2lnbmF0dXJlLXNlY3JldC12YWx1ZQ") and "c2lnbmF0dXJl" not in new
    out = _unb64(new_payload)
    assert isinstance(out, dict) and list(out) == list(claims)
    for name, value in claims.items():
        assert type(out[name]) is type(value)
        if name in KEPT_CLAIMS or isinstance(value, bool):
            assert out[name] == value
    assert out["email"] == P.pseudonym("ann@acme.io")
    assert len(str(out["uid"])) == len(str(claims["uid"]))


def test_jwt_that_is_not_json_inside_stays_three_segments() -> None:
    raw = "eyJnotjson.eyJalsonot.sig"
    new = P.pseudonym(raw)
    assert new.count(".") == 2 and new != raw


def test_keys_give_different_pseudonyms() -> None:
    for raw in ("ann@acme.io", "4111111111111111", "hunter2", "0123"):
        assert P.pseudonym(raw) != OTHER.pseudonym(raw)
