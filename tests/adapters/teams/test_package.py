"""The Teams app package: the zip's contents, manifest.json against the published Teams manifest
schema, the icons as Teams requires them (read back with an independent PNG decoder), and the
`policybot teams-package` command."""
from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from adapters.teams import package
from adapters import cli
from bot.decide.answer import URGENT
from bot.decide.scope import in_scope

SCHEMA = Path(__file__).resolve().parents[2] / "data" / "schemas" / "MicrosoftTeams.schema.v1.29.json"
APP_ID = "6f1c2a7e-1b2c-4d5e-8f90-123456789abc"
HOST = "policybot.school.example"


@pytest.fixture(scope="module")
def manifest_validator() -> Draft7Validator:
    """The schema says draft-04 but uses `const` and `if`/`then`, which only draft-06/07 validators
    apply; Draft 7 makes those checks run (see tests/data/schemas/README.md). It is checked against
    the metaschema without format checking: one pattern in the Office add-in part uses `\\p{L}`
    (ECMAScript), which Python's `re` cannot compile and which nothing in our manifest reaches."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert not list(Draft7Validator(Draft7Validator.META_SCHEMA).iter_errors(schema))
    return Draft7Validator(schema)


def assert_valid(validator: Draft7Validator, manifest: dict) -> None:
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        return {name: zf.read(name) for name in zf.namelist()}


def decode_png(data: bytes) -> tuple[int, int, int, list[list[tuple[int, ...]]]]:
    """(width, height, colour type, rows of pixel tuples): an independent reader for 8-bit RGB /
    RGBA PNGs, checking the signature and every chunk's CRC and undoing all five row filters."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
        if kind == b"IEND":
            break
    assert header is not None and pos == len(data)
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0
    bpp = 4 if colour == 6 else 3
    raw, stride = zlib.decompress(idat), width * bpp
    assert len(raw) == height * (stride + 1)
    prev, rows = bytearray(stride), []
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
            else:
                assert ftype == 0
        rows.append([tuple(line[x * bpp:(x + 1) * bpp]) for x in range(width)])
        prev = line
    return width, height, colour, rows


@pytest.fixture(scope="module")
def built() -> dict[str, bytes]:
    return unzip(package.build_package(package.PackageOptions(app_id=APP_ID, host=HOST)))


def test_zip_holds_exactly_the_manifest_and_two_icons_at_its_root(built):
    assert sorted(built) == ["color.png", "manifest.json", "outline.png"]


def test_manifest_is_valid_against_the_published_schema(built, manifest_validator):
    manifest = json.loads(built["manifest.json"])
    assert_valid(manifest_validator, manifest)
    schema_version = manifest_validator.schema["properties"]["manifestVersion"]["const"]
    assert manifest["manifestVersion"] == package.MANIFEST_VERSION == schema_version
    assert manifest["$schema"] == f"https://developer.microsoft.com/json-schemas/teams/v{schema_version}/MicrosoftTeams.schema.json"


def test_manifest_describes_the_bot(built):
    manifest = json.loads(built["manifest.json"])
    assert manifest["id"] == APP_ID
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID
    assert sorted(bot["scopes"]) == ["groupChat", "personal", "team"]
    assert bot["supportsFiles"] is False and bot["isNotificationOnly"] is False
    [commands] = bot["commandLists"]
    assert sorted(commands["scopes"]) == ["groupChat", "personal", "team"]
    assert [c["title"] for c in commands["commands"]] == [q for q, _ in package.EXAMPLE_QUESTIONS]
    assert manifest["validDomains"] == [HOST]
    assert manifest["developer"]["websiteUrl"] == f"https://{HOST}/"
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}


def test_example_questions_are_real_policy_questions(bundled_bot):
    """The command menu sends these as questions: none is urgent or off-topic at any school, and
    every one is answered from policy at some school."""
    for question, _ in package.EXAMPLE_QUESTIONS:
        assert in_scope(question)
        answers = [bundled_bot.answer(school, question) for school in sorted(bundled_bot.kb.schools)]
        assert all(a.decision != URGENT and a.reason != "out_of_scope" for a in answers), question
        assert any(a.decision == "answer" for a in answers), question


def test_color_icon_is_192_full_colour_and_not_blank(built):
    width, height, colour, rows = decode_png(built["color.png"])
    assert (width, height) == (192, 192)
    pixels = [p[:3] for row in rows for p in row]
    if colour == 6:
        assert all(p[3] == 255 for row in rows for p in row)  # full colour: nothing see-through
    background = rows[0][0][:3]
    assert background == package.ACCENT and rows[-1][-1][:3] == background
    white = sum(p == (255, 255, 255) for p in pixels) / len(pixels)
    assert 0.2 < white < 0.6  # a shape, neither a blank square nor a filled one
    assert rows[40][96][:3] == (255, 255, 255)  # the shield, near its top
    assert rows[118][87][:3] == package.ACCENT  # the tick's corner, cut out of the shield
    assert len(set(pixels)) >= 5  # anti-aliased edges: shades between the two colours


def test_outline_icon_is_32_white_on_transparent(built):
    width, height, colour, rows = decode_png(built["outline.png"])
    assert (width, height) == (32, 32) and colour == 6
    pixels = [p for row in rows for p in row]
    assert all(p[:3] == (255, 255, 255) for p in pixels if p[3] > 0)  # white only
    transparent = sum(p[3] == 0 for p in pixels)
    opaque = sum(p[3] == 255 for p in pixels)
    assert rows[0][0][3] == rows[0][-1][3] == rows[-1][0][3] == 0  # transparent corners
    assert transparent > len(pixels) * 0.4 and 0.1 * len(pixels) < opaque < 0.5 * len(pixels)
    assert rows[4][16][3] == 255 and rows[16][5][3] > 0  # the shield's top edge and left side


def test_same_options_build_the_same_bytes():
    options = package.PackageOptions(app_id=APP_ID, version="1.2.3")
    assert package.build_package(options) == package.build_package(options)
    assert json.loads(unzip(package.build_package(options))["manifest.json"])["version"] == "1.2.3"


@pytest.mark.parametrize("changes,message", [
    ({"app_id": "not-a-guid"}, "not a GUID"),
    ({"name": "x" * 31}, "--name must be 1 to 30 characters"),
    ({"host": "https://policybot.school.example/api"}, "is not a host name"),
    ({"privacy_url": "http://insecure.example/privacy"}, "--privacy-url must be an https:// URL"),
    ({"version": "latest"}, "not semver"),
])
def test_bad_options_are_refused_with_the_option_named(changes, message):
    options = package.PackageOptions(**{"app_id": APP_ID, **changes})
    with pytest.raises(package.PackageError, match=message):
        package.build_package(options)


def test_cli_builds_the_package_from_the_environment(tmp_path, monkeypatch, capsys, manifest_validator):
    monkeypatch.setenv("MICROSOFT_APP_ID", APP_ID.upper())
    monkeypatch.setenv("MICROSOFT_APP_PASSWORD", "test-secret")
    out = tmp_path / "dist" / "policybot-teams.zip"
    assert cli.main(["teams-package", "--out", str(out), "--host", HOST, "--name", "Kingsmead policy"]) == 0
    stdout = capsys.readouterr().out
    assert str(out) in stdout and f"https://{HOST}/api/messages" in stdout and "Upload" in stdout
    files = unzip(out.read_bytes())
    manifest = json.loads(files["manifest.json"])
    assert_valid(manifest_validator, manifest)
    assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID  # normalised to lower case
    assert manifest["name"]["short"] == "Kingsmead policy"
    assert "test-secret" not in files["manifest.json"].decode()


def test_cli_app_id_flag_wins_over_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MICROSOFT_APP_ID", APP_ID)
    other = "00000000-1111-2222-3333-444444444444"
    out = tmp_path / "t.zip"
    assert cli.main(["teams-package", "--out", str(out), "--app-id", other, "--privacy-url",
                     "https://school.example/privacy"]) == 0
    manifest = json.loads(unzip(out.read_bytes())["manifest.json"])
    assert manifest["bots"][0]["botId"] == other
    assert manifest["developer"]["privacyUrl"] == "https://school.example/privacy"
    stdout = capsys.readouterr().out
    assert "--website-url, --terms-url not given" in stdout


def test_cli_refuses_without_an_app_id(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MICROSOFT_APP_ID", raising=False)
    out = tmp_path / "t.zip"
    assert cli.main(["teams-package", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "policybot teams-package: no bot app id" in err and "MICROSOFT_APP_ID" in err and "--app-id" in err
    assert not out.exists()


def test_cli_refuses_a_malformed_app_id(tmp_path, capsys):
    out = tmp_path / "t.zip"
    assert cli.main(["teams-package", "--out", str(out), "--app-id", "my-bot"]) == 2
    assert "is not a GUID" in capsys.readouterr().err and not out.exists()
