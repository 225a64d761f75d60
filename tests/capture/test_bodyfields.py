"""Values under secret names in JSON, form, multipart and XML text, found where they stand."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from harness.capture.bodyfields import FieldFinder
from harness.capture.secretnames import SecretNames

FINDER = FieldFinder(SecretNames(["iban"]), ["iban"])


def spans(text: str, hits: list[tuple[int, int, str, str]]) -> list[str]:
    return [text[s:e] for s, e, _, _ in hits]


def test_json_strings_numbers_objects_and_arrays() -> None:
    text = json.dumps(
        {
            "user": {"password": "hunter2", "name": "ann"},
            "pin": 1234,
            "credentials": {"user": "bob", "otp": "999", "n": 7, "ok": True, "x": None},
            "tokens": ["t1", "t2"],
            "access_token": "",
            "iban": "DE89370400440532013000",
        }
    )
    assert spans(text, FINDER.json(text)) == [
        "hunter2", "1234", "bob", "999", "7", "t1", "t2", "DE89370400440532013000",
    ]  # fmt: skip


def test_json_escaped_keys_and_values() -> None:
    text = '{"pass\\u0077ord": "a\\"b", "note": "\\"password\\": \\"no\\""}'
    assert spans(text, FINDER.json(text)) == ['a\\"b']


def test_truncated_json_object_is_covered_to_the_end() -> None:
    text = '{"secret": {"a": "x", "b": [1, "y"'
    assert spans(text, FINDER.json(text)) == ["x", "1", "y"]


@given(st.recursive(st.text(max_size=5) | st.integers(), lambda c: st.lists(c, max_size=3)))
def test_every_leaf_under_a_secret_key_is_found(value: object) -> None:
    text = json.dumps({"a": 1, "secret": value, "z": "keep"})
    found = spans(text, FINDER.json(text))
    leaves: list[str] = []

    def walk(v: object) -> None:
        if isinstance(v, list):
            for item in v:
                walk(item)
        elif isinstance(v, str):
            if v:
                leaves.append(json.dumps(v)[1:-1])
        else:
            leaves.append(json.dumps(v))

    walk(value)
    assert found == leaves


def test_form_and_query_pairs() -> None:
    text = "user=ann&password=p%40ss&user%5Bpassword%5D=x;pin=&remember=1"
    assert spans(text, FINDER.form(text)) == ["p%40ss", "x"]
    loose = "hello password=abc next, token=xyz&q"
    assert spans(loose, FINDER.form(loose, strict=False)) == ["abc", "xyz"]


def test_multipart_fields_and_json_parts() -> None:
    text = (
        '--b1\r\nContent-Disposition: form-data; name="password"\r\n\r\nmp-secret\r\n'
        "--b1\r\nContent-Disposition: form-data; name=title\r\n\r\nhello\r\n"
        '--b1\r\nContent-Disposition: form-data; name="meta"\r\nContent-Type: application/json'
        '\r\n\r\n{"api_key": "k1"}\r\n--b1--\r\n'
    )
    assert spans(text, FINDER.multipart(text, "b1")) == ["mp-secret", "k1"]


def test_xml_elements_nested_text_cdata_and_attributes() -> None:
    text = (
        '<a><wsse:Password Type="t">pw1</wsse:Password><login apiKey="k2" user="u">'
        "<credentials><user> bob </user><![CDATA[cd]]></credentials><name>x</name></login></a>"
    )
    assert spans(text, FINDER.xml(text)) == ["pw1", "k2", "bob", "cd"]


def test_hint_skips_text_without_secret_names() -> None:
    assert not FINDER.may_hold('{"name": "ann", "amount": 5}')
    assert FINDER.may_hold('{"Password": 1}')
