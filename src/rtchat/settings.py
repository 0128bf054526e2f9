"""One frozen `Settings`, read from `RTCHAT_*` variables (and `PORT`, as the seed reads it).

Precedence: command-line flags, then the environment, then the defaults here. The
environment is passed in as a mapping, so tests never touch `os.environ`. Every
field carries its help text, which feeds `rtchat serve --help` and the README.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtchat.domain import rules
from rtchat.domain.errors import ChatError

ENV_PREFIX = "RTCHAT_"


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the setting."""


def _setting(default: Any, help: str, *, env: str | None = None) -> Any:
    return field(default=default, metadata={"help": help, "env": env})


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = _setting("127.0.0.1", "Interface to listen on (0.0.0.0 for every interface).")
    port: int = _setting(
        3000, "TCP port to listen on; `PORT` is honoured too, as in the seed. 0 picks a free port."
    )
    static_dir: Path | None = _setting(
        None, "Folder of browser files to serve at `/` instead of rtchat's own client."
    )
    socketio_client_dir: Path | None = _setting(
        None,
        "Folder holding npm's `socket.io-client/dist` files, served at `/socket.io/`. "
        "Default: `node_modules/socket.io-client/dist` in the working folder or the checkout.",
    )
    database_url: str = _setting(
        "sqlite:///data/rtchat.db",
        "Where messages, users and rooms live: `sqlite:///relative/path.db`, "
        "`sqlite:////absolute/path.db`, `postgresql://user@host:port/db` (what several "
        "nodes share), or `memory://` (nothing kept after a stop).",
    )
    redis_url: str = _setting(
        "",
        "Redis for running several nodes as one chat (`redis://host:port/db`): fan-out, "
        "presence, typing, name holds and rate limits. Empty: everything stays in this process.",
    )
    redis_prefix: str = _setting(
        "rtchat", "Prefix of every Redis key and channel, so several chats can share one Redis."
    )
    node_id: str = _setting(
        "", "This node's name in logs, `/healthz` and Redis. Empty: generated at start."
    )
    workers: int = _setting(
        1,
        "Processes serving the port, each a node of the cluster (one per core); more than 1 "
        "needs `RTCHAT_REDIS_URL` and a shared database (SQLite or PostgreSQL).",
    )
    internal_host: str = _setting(
        "",
        "Address the other nodes reach this one at, for requests of its long-polling "
        "sessions that reached them (no sticky sessions needed). Empty: `RTCHAT_HOST`, or "
        "this machine's address when that listens on every interface.",
    )
    internal_port: int = _setting(
        0, "Port of that internal address; 0 picks a free one (what `--workers` needs)."
    )
    presence_ttl: float = _setting(
        30.0,
        "Seconds after which the users of a node that stopped refreshing its presence "
        "(it crashed) go offline for everyone.",
    )
    name_grace: float = _setting(
        60.0,
        "Seconds a username stays reserved for its owner after their last connection "
        "closes (or after a server start), so reloads and restarts keep it.",
    )
    rate_limit: float = _setting(
        10.0,
        "Messages per second one user may send, over all their connections on every node "
        "(a token bucket); other events are limited to five times this rate per "
        "connection. 0 turns both off.",
    )
    rate_burst: float = _setting(20.0, "Messages one user may send in a burst.")
    joins_per_minute: float = _setting(
        30.0,
        "Joins (`user-joined` under a new name) one address may make a minute, on every "
        "node together, in bursts of as many; an address is an IPv4 address or an IPv6 /64. "
        "0: no limit. Behind a proxy every client has the proxy's address.",
    )
    rooms_per_hour: float = _setting(
        10.0, "Rooms one account may create an hour, in bursts of as many; 0: no limit."
    )
    rooms_per_hour_per_address: float = _setting(
        30.0, "Rooms the accounts of one address may create an hour together; 0: no limit."
    )
    account_retention_days: float = _setting(
        30.0,
        "Days after which an account nobody connected with is removed (its name freed, its "
        "messages kept); 0 keeps every account.",
    )
    edit_window: float = _setting(
        900.0,
        "Seconds after posting during which its author may edit a message (deleting has no "
        "limit); 0: no limit.",
    )
    max_payload_bytes: int = _setting(
        65536, "Largest Socket.IO packet a client may send; a larger one closes its connection."
    )
    cors_origins: str = _setting(
        "", "Comma-separated origins allowed to connect from other sites; empty: same origin only."
    )
    api_keys: str = _setting(
        "",
        "Keys of the HTTP API at `/api/v1/`, comma-separated `name:key` pairs: a request "
        "with `Authorization: Bearer <key>` acts as the bot `name` (its username in the "
        "messages it posts). Keys are at least 16 characters. Empty (and no JWT key): the "
        "API answers 404 everywhere.",
    )
    moderators: str = _setting(
        "",
        "Comma-separated usernames of the site moderators: the accounts holding these names "
        "moderate every room, `general` included (set roles, kick, ban, mute, delete "
        "messages), and outrank room owners. Give names that are not free to claim (with "
        "site JWTs, the site's names; otherwise accounts that exist). Empty: none.",
    )
    jwt_secret: str = _setting(
        "",
        "Shared secret (at least 32 characters) of the site's HS256 JWTs: users sign in "
        "with `auth: {token}` holding a JWT with `sub`, `name` and `exp` instead of "
        "`user-joined`. Empty: today's session tokens.",
    )
    jwt_public_key: str = _setting(
        "",
        "The site's public key for RS256 (RSA) or ES256 (EC P-256) JWTs, as PEM text or "
        "the path of a PEM file; the key's kind fixes the one algorithm accepted. Not with "
        "`RTCHAT_JWT_SECRET`.",
    )
    log_level: str = _setting("info", "Logging level: debug, info, warning or error.")
    log_format: str = _setting(
        "text",
        "`text` (one readable line per record) or `json` (one JSON object per line: time, "
        "level, logger, message, node and the event's own fields).",
    )
    metrics: int = _setting(
        1, "1 serves Prometheus metrics at `/metrics`; 0 turns them off (`/metrics` is 404)."
    )
    shutdown_timeout: float = _setting(
        10.0,
        "Seconds a stop (SIGTERM, Ctrl-C) may take: connections are told to reconnect "
        "elsewhere as soon as what they sent is answered, and whatever is left then is closed.",
    )
    # Limits on what one client can hold of the server (docs/ENGINE.md, "Limits").
    request_head_timeout: float = _setting(
        10.0,
        "Seconds a client has to send a whole request head (request line and headers, a "
        "WebSocket handshake included) once it starts one; then 408 and the connection closes.",
    )
    request_body_timeout: float = _setting(
        30.0, "Seconds a client has to send a whole request body once its head is in; then 408."
    )
    upgrade_timeout: float = _setting(
        10.0,
        "Seconds a WebSocket opened to upgrade a long-polling session has to finish the "
        "upgrade; then it is closed and the session carries on over long-polling.",
    )
    max_header_bytes: int = _setting(
        16384, "Largest request head (URL and headers), in bytes; a larger one is answered 431."
    )
    max_headers: int = _setting(100, "Most headers one request may have; more is answered 431.")
    max_connections_per_ip: int = _setting(
        256,
        "Open connections one IPv4 address (or IPv6 /64) may have; more are answered 429. "
        "0: no limit (behind a reverse proxy every client has the proxy's address).",
    )
    max_buffered_bytes: int = _setting(
        4 * 1024 * 1024,
        "Unsent bytes one connection may have before it is dropped as a slow consumer.",
    )
    output_budget_bytes: int = _setting(
        64 * 1024 * 1024,
        "Unsent bytes all connections together may have; past it the connections "
        "furthest behind are dropped first.",
    )

    @classmethod
    def from_sources(
        cls, environ: Mapping[str, str], overrides: Mapping[str, object] | None = None
    ) -> Settings:
        """Build settings from an environment mapping and (already typed) flag overrides."""
        values: dict[str, Any] = {}
        if "PORT" in environ:
            values["port"] = _parse_field("port", environ["PORT"], "PORT")
        for f in dataclasses.fields(cls):
            name = ENV_PREFIX + f.name.upper()
            if name in environ:
                values[f.name] = _parse_field(f.name, environ[name], name)
        for key, value in (overrides or {}).items():
            if value is not None:
                values[key] = value
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be between 0 and 65535, not {self.port}")
        if self.rate_limit < 0 or self.rate_burst < 1:
            raise SettingsError("rate_limit must be >= 0 and rate_burst >= 1")
        if self.name_grace < 0:
            raise SettingsError("name_grace must be >= 0")
        for name in (
            "joins_per_minute",
            "rooms_per_hour",
            "rooms_per_hour_per_address",
            "account_retention_days",
            "edit_window",
        ):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name} must be >= 0 (0 turns it off)")
        if not self.database_url.startswith(_DATABASE_SCHEMES):
            raise SettingsError(
                f"database_url {self.database_url!r} must start with sqlite:///, "
                "postgresql://, postgres:// or memory://"
            )
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(
                f"redis_url {self.redis_url!r} must start with redis://, rediss:// or unix://"
            )
        if not self.redis_prefix or not self.redis_prefix.isascii() or ":" in self.redis_prefix:
            raise SettingsError("redis_prefix must be non-empty ASCII without ':'")
        if self.node_id and not _NODE_ID.fullmatch(self.node_id):
            raise SettingsError(
                f"node_id {self.node_id[:80]!r} must be 1-64 letters, digits, '.', '_' or '-'"
            )
        if not 0 <= self.internal_port <= 65535:
            raise SettingsError(
                f"internal_port must be between 0 and 65535, not {self.internal_port}"
            )
        if not 1 <= self.workers <= 64:
            raise SettingsError(f"workers must be between 1 and 64, not {self.workers}")
        if self.workers > 1 and not self.redis_url:
            raise SettingsError(
                f"workers={self.workers} needs RTCHAT_REDIS_URL: the workers are nodes of one "
                "chat and share fan-out, presence and name holds through Redis"
            )
        if self.workers > 1 and self.database_url == "memory://":
            raise SettingsError(
                "workers > 1 needs a database the workers share (SQLite or PostgreSQL): with "
                "memory:// every worker would keep its own messages"
            )
        if self.presence_ttl < 3:
            raise SettingsError("presence_ttl must be at least 3 seconds")
        if self.max_payload_bytes < 1024:
            raise SettingsError("max_payload_bytes must be at least 1024")
        if self.static_dir is not None and not self.static_dir.is_dir():
            raise SettingsError(f"static_dir {self.static_dir} is not a folder")
        if self.socketio_client_dir and not (self.socketio_client_dir / "socket.io.js").is_file():
            raise SettingsError(
                f"socketio_client_dir {self.socketio_client_dir} has no socket.io.js"
            )
        for name in ("request_head_timeout", "request_body_timeout", "upgrade_timeout"):
            if not getattr(self, name) > 0:
                raise SettingsError(f"{name} must be more than 0 seconds")
        if self.max_header_bytes < 1024 or self.max_headers < 8:
            raise SettingsError("max_header_bytes must be at least 1024 and max_headers at least 8")
        if self.max_connections_per_ip < 0:
            raise SettingsError("max_connections_per_ip must be >= 0 (0: no limit)")
        if self.max_buffered_bytes < 65536:
            raise SettingsError("max_buffered_bytes must be at least 65536")
        if self.output_budget_bytes < self.max_buffered_bytes:
            raise SettingsError("output_budget_bytes must be at least max_buffered_bytes")
        if self.jwt_secret and self.jwt_public_key:
            raise SettingsError("set jwt_secret or jwt_public_key, not both")
        if self.jwt_secret and len(self.jwt_secret) < MIN_JWT_SECRET:
            raise SettingsError(f"jwt_secret must be at least {MIN_JWT_SECRET} characters")
        self.api_key_pairs()  # raises on a malformed list
        self.moderator_names()
        if self.log_format not in {"text", "json"}:
            raise SettingsError(f"log_format must be text or json, not {self.log_format!r}")
        if self.metrics not in (0, 1):
            raise SettingsError(f"metrics must be 1 (on) or 0 (off), not {self.metrics}")
        if not self.shutdown_timeout > 0:
            raise SettingsError("shutdown_timeout must be more than 0 seconds")
        if self.log_level.lower() not in {"debug", "info", "warning", "error"}:
            raise SettingsError(
                f"log_level must be debug, info, warning or error, not {self.log_level!r}"
            )

    def api_key_pairs(self) -> list[tuple[str, str]]:
        """`api_keys` as (bot name, key) pairs."""
        pairs: list[tuple[str, str]] = []
        for number, item in enumerate(self.api_keys.split(","), 1):
            if not item.strip():
                continue
            name, colon, key = item.strip().partition(":")
            if not colon or not name.strip() or len(key.strip()) < MIN_API_KEY:
                raise SettingsError(
                    f"api_keys takes comma-separated name:key pairs, keys of at least "
                    f"{MIN_API_KEY} characters; item {number} is not"
                )
            try:
                bot = rules.clean_username(name)
            except ChatError as error:
                raise SettingsError(
                    f"api_keys: bot name {name.strip()[:40]!r}: {error.message}"
                ) from None
            pairs.append((bot, key.strip()))
        return pairs

    def moderator_names(self) -> list[str]:
        """`moderators` as usernames."""
        names: list[str] = []
        for item in self.moderators.split(","):
            if not item.strip():
                continue
            try:
                names.append(rules.clean_username(item))
            except ChatError as error:
                raise SettingsError(f"moderators: {item.strip()[:40]!r}: {error.message}") from None
        return names

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


MIN_API_KEY = 16
MIN_JWT_SECRET = 32  # 256 bits of HS256 key, as RFC 7518 asks
_NODE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_DATABASE_SCHEMES = ("sqlite:///", "postgresql://", "postgres://", "memory://")


def _parse_field(name: str, raw: str, source: str) -> object:
    parser = _PARSERS[_field_types()[name]]
    try:
        return parser(raw)
    except ValueError:
        raise SettingsError(f"{source}={raw!r} is not a valid value for {name}") from None


_PARSERS: dict[str, Callable[[str], object]] = {
    "str": str,
    "int": int,
    "float": float,
    "Path | None": lambda raw: Path(raw) if raw else None,
}


def _field_types() -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(Settings)}


def setting_help() -> dict[str, str]:
    """Each setting's help text, by field name (feeds the CLI and the docs)."""
    return {f.name: f.metadata["help"] for f in dataclasses.fields(Settings)}
