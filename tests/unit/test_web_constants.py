"""The browser client's copies of the server's limits agree with the server's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rtchat.domain.models import QUOTE_LENGTH, REACTION_NAMES
from rtchat.ports import UNREAD_CAP
from rtchat.service.limits import SEARCH_PAGE

WEB = Path(__file__).parents[2] / "src" / "rtchat" / "web"


def js_constant(module: str, name: str) -> int:
    found = re.search(rf"^const {name} = (\d+);", (WEB / module).read_text(), re.MULTILINE)
    assert found, f"{name} in {module}"
    return int(found.group(1))


@pytest.mark.parametrize(
    ("module", "name", "server"),
    [
        ("rooms.js", "UNREAD_CAP", UNREAD_CAP),
        ("timeline.js", "QUOTE_LENGTH", QUOTE_LENGTH),
        ("timeline.js", "REACTION_NAMES", REACTION_NAMES),
        ("search.js", "SEARCH_PAGE", SEARCH_PAGE),
    ],
)
def test_the_page_uses_the_servers_limit(module: str, name: str, server: int) -> None:
    assert js_constant(module, name) == server
