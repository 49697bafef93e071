"""``edgectl cards`` against files and names from the field: encodings, huge fields, markup."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from tests.access_site import access_site
from tests.cli_helpers import edgectl

ROWS = "person_id,name,role,kind,facility,number\np1,王芳,resident,card,10,1\n"


def _import(tmp_path: Path, data: bytes, *extra: str) -> tuple[int, str, str]:
    access_site(tmp_path)
    (tmp_path / "in.csv").write_bytes(data)
    done = edgectl(
        "cards", "import", str(tmp_path / "in.csv"), "-c", str(tmp_path / "config.toml"), *extra
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, " ".join(done.stderr.split())


def _names(tmp_path: Path) -> list[str]:
    listed = edgectl("cards", "list", "--json", "-c", str(tmp_path / "config.toml"))
    assert listed.returncode == 0, listed.stderr
    return [json.loads(line)["name"] for line in listed.stdout.splitlines()]


@pytest.mark.parametrize(
    ("data", "extra"),
    [
        (codecs.BOM_UTF8 + ROWS.encode(), ()),
        (ROWS.encode(), ()),
        (codecs.BOM_UTF16_LE + ROWS.encode("utf-16-le"), ()),
        (codecs.BOM_UTF16_BE + ROWS.encode("utf-16-be"), ()),
        (ROWS.encode("gb18030"), ("--encoding", "gb18030")),
        (ROWS.encode("gbk"), ("--encoding", "gbk")),
    ],
    ids=["utf-8-bom", "utf-8", "utf-16-le", "utf-16-be", "gb18030", "gbk"],
)
def test_excel_encodings_import(tmp_path: Path, data: bytes, extra: tuple[str, ...]) -> None:
    code, out, err = _import(tmp_path, data, *extra)
    assert code == 0, err
    assert "imported 1 credential(s)" in out
    assert _names(tmp_path) == ["王芳"]


def test_gbk_without_the_option_names_the_line_and_the_fix(tmp_path: Path) -> None:
    code, _, err = _import(tmp_path, ROWS.encode("gbk"))
    assert code == 1
    assert "line 2: byte 0xCD is not UTF-8 text" in err
    assert "--encoding gb18030" in err
    assert _names(tmp_path) == []


def test_binary_garbage_exits_1_naming_the_line(tmp_path: Path) -> None:
    code, _, err = _import(tmp_path, b"person_id,name\np1,ok\n\x00\xff\xfe\x13garbage\n")
    assert code == 1
    assert "line 3: a NUL byte" in err
    assert _names(tmp_path) == []


def test_garbage_is_fatal_even_with_skip_bad(tmp_path: Path) -> None:
    code, _, err = _import(
        tmp_path, ROWS.encode() + b"p2,\xc3\x28,resident,card,10,2\n", "--skip-bad"
    )
    assert code == 1
    assert "line 3: byte 0xC3 is not UTF-8 text" in err
    assert _names(tmp_path) == []


def test_a_field_over_128_kib_is_a_clear_error(tmp_path: Path) -> None:
    huge = b'person_id,name\np1,"' + b"x" * (129 * 1024) + b'"\n'
    code, _, err = _import(tmp_path, huge)
    assert code == 1
    assert "line 2: a field is longer than 128 KiB" in err


def test_names_that_look_like_markup_are_shown_as_they_are(tmp_path: Path) -> None:
    rows = "person_id,name,kind,facility,number\np1,[/],card,10,1\np2,[bold]Wang[/bold],card,10,2\n"
    code, _, err = _import(tmp_path, rows.encode())
    assert code == 0, err
    assert sorted(_names(tmp_path)) == ["[/]", "[bold]Wang[/bold]"]
    table = edgectl("cards", "list", "-c", str(tmp_path / "config.toml"))
    assert table.returncode == 0, table.stderr
    assert "[/]" in table.stdout
    assert "[bold]Wang[/bold]" in table.stdout
