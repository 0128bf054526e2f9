"""What README.md tells a reader to run refers to files that are in the tree."""

from __future__ import annotations

import re
from pathlib import Path

from rtchat import service
from rtchat.domain import rules
from rtchat.ports import UNREAD_CAP
from rtchat.service import limits
from rtchat.settings import Settings

ROOT = Path(__file__).parents[2]


def test_the_seed_client_command_serves_a_folder_of_the_tree() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"rtchat serve --static-dir (\S+)", readme)
    assert found is not None
    folder = ROOT / found.group(1)
    assert (folder / "index.html").is_file()
    assert (folder / "client.js").is_file()


def test_the_limits_readme_quotes_are_the_codes() -> None:
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    defaults = Settings()
    quoted = [
        f"{defaults.joins_per_minute:g} joins a minute per address",
        f"{defaults.rooms_per_hour:g} new rooms an hour per account and "
        f"{defaults.rooms_per_hour_per_address:g} per address",
        f"`list-rooms` in pages of {service.ROOMS_PAGE}",
        f"a `sync` reads at most {service.SYNC_BUDGET:,} entries",
        f"lists a room's first {service.MEMBERS_LISTED} members",
        f"at most {limits.JOINS_AT_ONCE} joins and {limits.READS_AT_ONCE} page "
        f"reads at once, {limits.JOINS_AT_ONCE_PER_ADDRESS} and "
        f"{limits.READS_AT_ONCE_PER_ADDRESS} for one address",
        f"`RTCHAT_ACCOUNT_RETENTION_DAYS` (default {defaults.account_retention_days:g})",
        f"`RTCHAT_NAME_GRACE` seconds (default {defaults.name_grace:g})",
        f"counted up to {UNREAD_CAP:,}",
        f"newest first in pages of {service.SEARCH_PAGE}",
        f"{rules.MAX_MESSAGE_LENGTH:,} characters a message",
        f"near the {rules.MAX_MESSAGE_LENGTH:,}-character limit",
    ]
    assert [q for q in quoted if q not in text] == []
