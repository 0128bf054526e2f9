"""What README.md tells a reader to run refers to files that are in the tree."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_the_seed_client_command_serves_a_folder_of_the_tree() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"rtchat serve --static-dir (\S+)", readme)
    assert found is not None
    folder = ROOT / found.group(1)
    assert (folder / "index.html").is_file()
    assert (folder / "client.js").is_file()
