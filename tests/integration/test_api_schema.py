"""schemathesis against a live `rtchat serve`: requests made from the OpenAPI document
(valid and invalid ones), every answer checked against the same document: no 500, the
documented status codes, content types, headers and bodies.

The server is a subprocess (schemathesis's client is synchronous), on a free port of
127.0.0.1 with its own SQLite file; message and room rate limits are off so the examples
reach the stores rather than stop at `rate_limited`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from tests.support import listening_url

KEY = "schemathesis-key-0123456789"
BEARER = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    env = {
        **os.environ,
        "RTCHAT_DATABASE_URL": f"sqlite:///{folder}/rtchat.db",
        "RTCHAT_API_KEYS": f"schemabot:{KEY}",
        "RTCHAT_RATE_LIMIT": "0",
        "RTCHAT_ROOMS_PER_HOUR": "0",
        "RTCHAT_ROOMS_PER_HOUR_PER_ADDRESS": "0",
    }
    with subprocess.Popen(
        [sys.executable, "-m", "rtchat", "serve", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    ) as process:
        try:
            yield listening_url(process)
        finally:
            process.kill()


@pytest.fixture(scope="module")
def api_schema(served: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(served + "/api/v1/openapi.json")


# Every check of the answers runs (no 5xx, documented status, content type, headers and
# body). Left out: whether the server takes exactly what the schema allows and refuses all
# else. Its rules (Unicode categories, trimming, case folding) are not JSON Schema, so the
# document's patterns describe what is sure to be taken, and the server takes more.
_NOT_CHECKED = [checks.positive_data_acceptance, checks.negative_data_rejection]


def _operations(schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in schema.get_all_operations()]


# schemathesis's own pytest plugin (`from_fixture`) does not run under pytest 9 (it reads
# a private `_nodeid`), so each operation's strategy is driven by hypothesis directly.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_to_its_document(
    api_schema: schemathesis.BaseSchema, served: str, mode: GenerationMode
) -> None:
    operations = _operations(api_schema)
    # schemathesis leaves out the path it loaded the document from (`/openapi.json`).
    assert {op.label for op in operations} == {
        "GET /online",
        "POST /rooms",
        "GET /rooms/{room}/messages",
        "POST /rooms/{room}/messages",
        "PATCH /rooms/{room}/messages/{id}",
        "DELETE /rooms/{room}/messages/{id}",
        "POST /rooms/{room}/messages/{id}/reactions",
        "GET /rooms/{room}/search",
        "PUT /rooms/{room}/read-marker",
    }
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=40,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def keeps_to_it(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=served + "/api/v1", headers=BEARER, excluded_checks=_NOT_CHECKED
            )

        keeps_to_it()
