"""The seeded-secrets corpus in GoReplay, mitmproxy and HAR form: no secret survives anywhere,
and what replaces them still forms valid requests (issue 10, items 1 and 2)."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from email_validator import validate_email

from harness.capture.config import CaptureConfig, RedactionConfig, RedactionPattern
from harness.capture.contentcoding import codings_of, decode_body
from harness.capture.ingest import import_capture
from harness.capture.pseudonym import Pseudonymiser, PseudonymKey
from harness.capture.store import read_capture
from harness.cli.main import main
from tests.capture.secrets import (
    BASIC_PASSWORD,
    JWT,
    SECRETS,
    decoded_cells,
    variants,
    write_seeded,
)

KEY = PseudonymKey(b"seeded-corpus-key-0123456789abcd", "test")
REPO = Path(__file__).resolve().parents[2]
CONFIG = CaptureConfig(
    redaction=RedactionConfig(
        headers=["X-Internal-Signature"],
        patterns=[RedactionPattern(name="employee-id", pattern=r"EMP-\d{6}")],
    )
)
#: rules every format must fire on the corpus
RULES = {
    "authorization", "cookie", "api-key", "header-entropy", "jwt", "email", "card",
    "secret-field", "employee-id", "aws-key", "private-key", "path-token", "userinfo",
}  # fmt: skip


def _leaks(data: bytes) -> list[str]:
    return [s for s in SECRETS if any(v.encode() in data for v in variants(s))]


def _rows(path: Path) -> list[dict[str, object]]:
    return read_capture(path).to_pylist()  # type: ignore[no-any-return]


def _header(row: dict[str, object], name: str) -> str | None:
    for h in row["headers"]:  # type: ignore[attr-defined]
        if h["name"].lower() == name.lower():
            return str(h["value"])
    return None


def _body(row: dict[str, object]) -> bytes:
    body = row["body"] or b""
    assert isinstance(body, bytes)
    coding = _header(row, "content-encoding")
    return decode_body(body, codings_of(coding))[0] if coding and body else body


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_seeded(tmp_path_factory.mktemp("seeded"))


@pytest.mark.parametrize("mode", ["pseudonym", "mask"])
@pytest.mark.parametrize("index", [0, 1, 2], ids=["gor", "mitm", "har"])
def test_no_seeded_secret_survives(
    sources: list[Path], tmp_path: Path, mode: str, index: int
) -> None:
    source = sources[index]
    raw = source.read_bytes()
    assert not {"SEEDEDgzipPW", "SEEDEDsetHeaderTok"} & set(_leaks(raw))  # compressed / not there
    out = tmp_path / "seeded.capture.parquet"
    meta = import_capture(
        [source],
        out,
        config=CONFIG,
        redact_mode=mode,
        pseudonym_key=KEY,  # type: ignore[arg-type]
    )
    assert meta.counts.written == 14
    assert _leaks(decoded_cells(out)) == []
    assert set(meta.redaction.rules) >= RULES, RULES - set(meta.redaction.rules)
    assert meta.redaction.mode == mode


def test_the_check_can_fail(sources: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "raw.capture.parquet"
    import_capture(sources, out, redact=False)
    leaked = set(_leaks(decoded_cells(out)))
    # every other secret is really there (route templates never show an e-mail address)
    assert set(SECRETS) - leaked == {"SEEDEDsetHeaderTok", "seed.loc@example.com"}


def test_inspect_and_metadata_show_no_secret(
    sources: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "capture.yaml"
    config.write_text(
        "redaction:\n  headers: [X-Internal-Signature]\n"
        "  patterns: [{name: employee-id, pattern: 'EMP-[0-9]{6}'}]\n"
    )
    out = tmp_path / "s.capture.parquet"
    args = ["capture", "import", *map(str, sources), "-o", str(out), "--config", str(config)]
    args += ["--set-header", "Authorization=Bearer SEEDEDsetHeaderTok"]
    assert main(args) == 0
    assert main(["capture", "inspect", str(out)]) == 0
    text = capsys.readouterr()
    assert main(["capture", "inspect", str(out), "--json", "--top", "100"]) == 0
    printed = capsys.readouterr()
    assert _leaks((text.out + text.err + printed.out + printed.err).encode()) == []
    assert _leaks(decoded_cells(out)) == []
    doc = json.loads(printed.out)
    routes = {r["route"] for r in doc["routes"]}
    assert {"/users/{id}/profile", "/magic/{id}", "/password-reset/{id}/{id}"} <= routes


def test_pseudonyms_are_consistent_across_places_and_formats(
    sources: list[Path], tmp_path: Path
) -> None:
    p = Pseudonymiser(KEY)
    email = p.pseudonym("seed.user@example.com")
    token = p.pseudonym(JWT)
    seen: list[str] = []
    for i, source in enumerate(sources):
        out = tmp_path / f"{i}.capture.parquet"
        import_capture([source], out, config=CONFIG, pseudonym_key=KEY)
        rows = _rows(out)
        first = rows[0]
        assert _header(first, "authorization") == f"Bearer {token}"
        assert json.loads(_body(first))["session_jwt"] == token
        assert _header(first, "x-contact") == email
        query = parse_qs(str(first["path"]).partition("?")[2])
        assert query["email"] == [email]
        assert parse_qs(_body(rows[1]).decode())["user"] == [email]
        seen.append(str(first["path"]))
    assert len(set(seen)) == 1  # the same request, the same pseudonyms, in every format


def test_pseudonymised_requests_stay_valid(sources: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "v.capture.parquet"
    import_capture(sources[:1], out, config=CONFIG, pseudonym_key=KEY)
    rows = _rows(out)
    for row in rows:
        body = row["body"]
        assert isinstance(body, bytes)
        length = _header(row, "content-length")
        if body:
            assert length == str(len(body)), row["path"]
    by_path = {str(r["path"]).partition("?")[0]: r for r in rows}
    data = json.loads(_body(rows[0]))
    validate_email(data["email"], check_deliverability=False)
    assert data["credentials"]["n"] != 7 and isinstance(data["credentials"]["n"], int)
    assert len(data["tokens"]) == 2 and data["private_key_pem"].startswith("-----BEGIN RSA")
    digits = data["card_number"].replace(" ", "")
    assert len(data["card_number"]) == 19 and digits.isdigit()
    # Basic credentials are still base64 of user:password, with both replaced
    basic = str(_header(rows[1], "authorization")).removeprefix("Basic ")
    user, _, password = base64.b64decode(basic).decode().partition(":")
    assert user and password and password != BASIC_PASSWORD and len(password) == len(BASIC_PASSWORD)
    # compressed bodies: decoded, redacted, encoded again with the same coding
    for path in ("/gz", "/br", "/zstd"):
        assert set(json.loads(_body(by_path[path]))) >= {"password"}
    assert parse_qs(_body(by_path["/deflate"]).decode())["keep"] == ["1"]
    # multipart keeps its boundary and fields, XML stays well-formed
    multipart = _body(by_path["/upload"]).decode()
    assert multipart.count("--SeedBoundary7MA4YWxkTrZu0gW") == 5 and "quarterly report" in multipart
    root = ET.fromstring(_body(by_path["/soap"]))
    assert root.find(".//password") is not None
    # the host column lost the password, kept the host
    host = str(by_path["/x"]["host"])
    assert host.endswith("@pay.example") and ":" in host


@pytest.mark.parametrize("name", ["notes-demo.mitm", "notes-demo.gor"])
def test_no_secret_of_a_real_stateful_recording_survives(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the notes recordings (real mitmdump / GoReplay): registrations, logins, JWTs, session
    # cookies, CSRF tokens, passwords, e-mail addresses, session links between them
    from harness.capture import ingest
    from harness.capture.redact import Redactor

    found: set[str] = set()

    class Recording(Redactor):
        def _replace(self, rule: str, raw: str) -> str:
            found.add(raw)
            return super()._replace(rule, raw)

        def line(
            self, name: str, value: str, colon: bool = True
        ) -> tuple[str, str, tuple[str, ...]]:
            result = super().line(name, value, colon)
            if result[1] != value:
                found.update(part.partition("=")[2] or part for part in value.split(";"))
                found.add(value.partition(" ")[2] or value)
            return result

    monkeypatch.setattr(ingest, "Redactor", Recording)
    out = tmp_path / "notes.capture.parquet"
    meta = ingest.import_capture([REPO / "captures" / name], out)
    secrets = {s.strip() for s in found if len(s.strip()) >= 8}
    assert len(secrets) >= 40  # tokens, session ids, CSRF tokens, passwords, addresses
    assert meta.links is not None and meta.links.links > 500  # links hold pseudonyms only
    cells = decoded_cells(out)
    assert [s for s in secrets if s.encode() in cells] == []
