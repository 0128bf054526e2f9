from __future__ import annotations

from pathlib import Path

import pytest

from rtchat.settings import Settings, SettingsError, setting_help


def test_defaults() -> None:
    settings = Settings.from_sources({})
    assert settings.port == 3000
    assert settings.rate_limit == 10
    assert settings.joins_per_minute == 30
    assert (settings.rooms_per_hour, settings.rooms_per_hour_per_address) == (10, 30)
    assert settings.account_retention_days == 30


def test_every_abuse_limit_may_be_turned_off() -> None:
    off = dict.fromkeys(
        (
            "RTCHAT_JOINS_PER_MINUTE",
            "RTCHAT_ROOMS_PER_HOUR",
            "RTCHAT_ROOMS_PER_HOUR_PER_ADDRESS",
            "RTCHAT_ACCOUNT_RETENTION_DAYS",
        ),
        "0",
    )
    settings = Settings.from_sources(off)
    assert settings.joins_per_minute == settings.account_retention_days == 0


def test_port_from_seed_variable_then_prefixed_then_flag() -> None:
    assert Settings.from_sources({"PORT": "4000"}).port == 4000
    assert Settings.from_sources({"PORT": "4000", "RTCHAT_PORT": "5000"}).port == 5000
    assert Settings.from_sources({"RTCHAT_PORT": "5000"}, {"port": 6000}).port == 6000


def test_moderators_are_usernames() -> None:
    settings = Settings.from_sources({"RTCHAT_MODERATORS": " Boss , ,Ann "})
    assert settings.moderator_names() == ["Boss", "Ann"]
    assert Settings().moderator_names() == []


def test_types_are_parsed(tmp_path: Path) -> None:
    settings = Settings.from_sources(
        {"RTCHAT_RATE_LIMIT": "0", "RTCHAT_STATIC_DIR": str(tmp_path), "RTCHAT_HOST": "::1"}
    )
    assert settings.rate_limit == 0.0
    assert settings.static_dir == tmp_path
    assert settings.host == "::1"


@pytest.mark.parametrize(
    ("environ", "words"),
    [
        ({"PORT": "http"}, "PORT='http'"),
        ({"RTCHAT_PORT": "70000"}, "port must be"),
        ({"RTCHAT_RATE_LIMIT": "-1"}, "rate_limit"),
        ({"RTCHAT_STATIC_DIR": "/no/such/dir"}, "not a folder"),
        ({"RTCHAT_SOCKETIO_CLIENT_DIR": "/no/such/dir"}, "socketio_client_dir"),
        ({"RTCHAT_SOCKETIO_CLIENT_DIR": "."}, "has no socket.io.js"),
        ({"RTCHAT_LOG_LEVEL": "loud"}, "log_level"),
        ({"RTCHAT_LOG_FORMAT": "xml"}, "log_format must be text or json"),
        ({"RTCHAT_METRICS": "2"}, "metrics must be 1"),
        ({"RTCHAT_METRICS": "on"}, "RTCHAT_METRICS='on'"),
        ({"RTCHAT_SHUTDOWN_TIMEOUT": "0"}, "shutdown_timeout"),
        ({"RTCHAT_JOINS_PER_MINUTE": "-1"}, "joins_per_minute"),
        ({"RTCHAT_JOINS_PER_MINUTE": "many"}, "RTCHAT_JOINS_PER_MINUTE='many'"),
        ({"RTCHAT_ROOMS_PER_HOUR": "-5"}, "rooms_per_hour"),
        ({"RTCHAT_ROOMS_PER_HOUR_PER_ADDRESS": "-5"}, "rooms_per_hour_per_address"),
        ({"RTCHAT_ACCOUNT_RETENTION_DAYS": "-1"}, "account_retention_days"),
        ({"RTCHAT_MODERATORS": "boss,\u0430dmin"}, "moderators: '\u0430dmin'"),  # mixed scripts
    ],
)
def test_bad_values_name_the_setting(environ: dict[str, str], words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        Settings.from_sources(environ)


def test_a_socketio_client_folder_with_the_script_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "socket.io.js").write_text("// npm's client")
    assert Settings.from_sources({"RTCHAT_SOCKETIO_CLIENT_DIR": str(tmp_path)}).socketio_client_dir
    assert Settings.from_sources({}).socketio_client_dir is None  # found at start instead


def test_every_setting_has_help_and_is_in_the_readme() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for name, text in setting_help().items():
        assert text
        assert f"RTCHAT_{name.upper()}" in readme, f"README does not document {name}"
