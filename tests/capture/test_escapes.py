"""Values in their place: decoding and writing back keeps the original escaping."""

from __future__ import annotations

import json
from urllib.parse import quote, unquote, unquote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.capture.escapes import decode, encode_like


@given(st.text(max_size=30))
def test_url_round_trip(value: str) -> None:
    text = quote(value, safe="")
    decoded, tokens = decode("url", text)
    assert decoded == unquote(text)
    assert encode_like("url", decoded, tokens, decoded) == text


@given(st.text(max_size=30))
def test_json_round_trip(value: str) -> None:
    text = json.dumps(value)[1:-1]
    decoded, tokens = decode("json", text)
    assert decoded == value
    assert encode_like("json", decoded, tokens, decoded) == text


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_form_decoding_matches_the_standard_library(value: str) -> None:
    text = quote(value, safe=" ").replace(" ", "+")
    assert decode("form", text)[0] == unquote_plus(text)


def test_changed_letters_keep_the_escapes_around_them() -> None:
    value, tokens = decode("url", "ann%2Blee%40acme.io")
    assert encode_like("url", value, tokens, "qex+hwm@mzkj.zq.example.com") == (
        "qex%2Bhwm%40mzkj.zq.example.com"
    )
    value, tokens = decode("xml", "p&amp;w&#233;")
    assert encode_like("xml", value, tokens, "q&xé") == "q&amp;x&#233;"
    value, tokens = decode("json", 'a\\"b\\u00e9')
    assert encode_like("json", value, tokens, 'c"dé') == 'c\\"d\\u00e9'


@pytest.mark.parametrize(
    ("codec", "new", "written"),
    [("url", "a b", "a%20b"), ("form", "a b", "a+b"), ("json", 'a"', 'a\\"'), ("xml", "<", "&lt;")],
)
def test_new_characters_are_escaped(codec: str, new: str, written: str) -> None:
    assert encode_like(codec, "", None, new) == written  # type: ignore[arg-type]


def test_broken_escapes_stay_text() -> None:
    assert decode("url", "100%")[0] == "100%"
    assert decode("url", "%e9t%e9")[0] == "\xe9t\xe9"  # not UTF-8: bytes as latin-1
    assert decode("json", "\\ud800x")[0] == "\\ud800x"  # a lone surrogate is no character
    assert decode("xml", "&bogus;&#xZZ;")[0] == "&bogus;&#xZZ;"
