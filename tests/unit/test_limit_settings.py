"""The engine's limits as settings: validated, and with the engine's own defaults."""

from __future__ import annotations

import pytest

from rtchat.engine import EngineOptions
from rtchat.settings import Settings, SettingsError

# Setting -> the EngineOptions field it is carried into (app.py, create_server).
CARRIED = {
    "request_head_timeout": "head_timeout",
    "request_body_timeout": "body_timeout",
    "upgrade_timeout": "upgrade_timeout",
    "max_header_bytes": "max_header_bytes",
    "max_headers": "max_headers",
    "max_connections_per_ip": "max_connections_per_ip",
    "max_buffered_bytes": "max_buffered",
    "output_budget_bytes": "output_budget",
}


@pytest.mark.parametrize(("setting", "option"), CARRIED.items())
def test_defaults_are_the_engines(setting: str, option: str) -> None:
    assert getattr(Settings(), setting) == getattr(EngineOptions(), option)


@pytest.mark.parametrize(
    ("environ", "words"),
    [
        ({"RTCHAT_REQUEST_HEAD_TIMEOUT": "0"}, "request_head_timeout"),
        ({"RTCHAT_REQUEST_BODY_TIMEOUT": "-1"}, "request_body_timeout"),
        ({"RTCHAT_UPGRADE_TIMEOUT": "0"}, "upgrade_timeout"),
        ({"RTCHAT_MAX_HEADER_BYTES": "100"}, "max_header_bytes"),
        ({"RTCHAT_MAX_HEADERS": "2"}, "max_headers"),
        ({"RTCHAT_MAX_CONNECTIONS_PER_IP": "-1"}, "max_connections_per_ip"),
        ({"RTCHAT_MAX_BUFFERED_BYTES": "1000"}, "max_buffered_bytes"),
        ({"RTCHAT_OUTPUT_BUDGET_BYTES": "70000"}, "output_budget_bytes"),
        ({"RTCHAT_MAX_HEADERS": "many"}, "RTCHAT_MAX_HEADERS='many'"),
    ],
)
def test_bad_limits_name_the_setting(environ: dict[str, str], words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        Settings.from_sources(environ)


def test_no_cap_on_connections_per_ip() -> None:
    assert Settings.from_sources({"RTCHAT_MAX_CONNECTIONS_PER_IP": "0"}).max_connections_per_ip == 0
