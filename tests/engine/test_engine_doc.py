"""docs/ENGINE.md's table of limits quotes the code: every default there is the constant
or the `EngineOptions` default it names."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from rtchat.engine import EngineOptions
from rtchat.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "ENGINE.md"


def _limit_rows() -> list[tuple[str, str]]:
    text = DOC.read_text()
    table = text.split("## Limits", 1)[1].split("\n\n", 3)[2]
    rows = []
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        where = cells[2].strip("`")
        if re.fullmatch(r"\w+\.\w+", where):  # a constant (one row names a function)
            rows.append((cells[1], where))
    return rows


def test_the_table_is_there() -> None:
    assert len(_limit_rows()) >= 15


def _value(where: str) -> object:
    module, name = where.split(".", 1)
    if module == "EngineOptions":
        return getattr(EngineOptions(), name)
    return getattr(importlib.import_module(f"rtchat.engine.{module}"), name)


@pytest.mark.parametrize(("default", "where"), _limit_rows())
def test_each_limit_in_the_doc_is_the_codes(default: str, where: str) -> None:
    number = re.match(r"[\d.]+", default)
    assert number is not None, default
    assert float(number.group()) == _value(where)
    if chat := re.search(r"the chat: (\d+)", default):
        assert int(chat.group(1)) == Settings().max_payload_bytes


def test_the_forwarding_figures_are_the_codes() -> None:
    from rtchat import peers
    from rtchat.engine import forward

    text = " ".join(DOC.read_text().split())
    assert f"cached for {peers.CACHE_FOR:g} s" in text
    assert f"at most {forward.IDLE_PER_PEER} idle connections per peer" in text


def test_the_later_wait_is_the_codes() -> None:
    from rtchat.engine import outbuf

    text = " ".join(DOC.read_text().split())
    assert f"`outbuf.LATER_S` ({round(outbuf.LATER_S * 1000)} ms)" in text
    assert f"a write per {round(outbuf.LATER_S * 1000)} ms" in text
