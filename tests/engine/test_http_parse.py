"""The HTTP request parser with no sockets: bytes in, requests (or the status to answer) out."""

from __future__ import annotations

import pytest

from rtchat.engine.http_parse import BODY, HEAD, IDLE, UPGRADED, HttpError, RequestParser


def parser(**bounds: int) -> RequestParser:
    return RequestParser(
        max_head=bounds.get("max_head", 4096),
        max_headers=bounds.get("max_headers", 20),
        max_body=bounds.get("max_body", 1000),
    )


def test_pipelined_requests_come_out_in_order_with_their_bodies() -> None:
    p = parser()
    data = (
        b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    )
    requests = [r for i in range(0, len(data), 7) for r in p.feed(data[i : i + 7])]
    assert [(r.method, r.url, bytes(r.body), r.keep_alive) for r in requests] == [
        ("POST", b"/a?x=1", b"hello", True),
        ("GET", b"/b", b"", False),
    ]
    assert requests[0].header(b"host") == "h"
    assert p.phase == IDLE
    assert p.begun == 2


def test_phases_follow_the_request() -> None:
    p = parser()
    assert p.feed(b"POST / HTTP/1.1\r\nContent-Le") == []
    assert p.phase == HEAD
    assert p.feed(b"ngth: 4\r\n\r\nab") == []
    assert p.phase == BODY
    assert len(p.feed(b"cd")) == 1
    assert p.phase == IDLE


def test_too_many_headers_is_431() -> None:
    with pytest.raises(HttpError) as error:
        parser(max_headers=3).feed(b"GET / HTTP/1.1\r\n" + b"a: b\r\n" * 4 + b"\r\n")
    assert error.value.status == 431


def test_head_over_its_bound_is_431_even_while_it_trickles() -> None:
    p = parser(max_head=1000)
    p.feed(b"GET / HTTP/1.1\r\nX-Long: ")
    for _ in range(99):  # one header, never ended: 990 bytes of it so far
        p.feed(b"y" * 10)
    with pytest.raises(HttpError) as error:
        p.feed(b"y" * 20)
    assert error.value.status == 431
    with pytest.raises(HttpError) as whole:
        parser(max_head=1000).feed(b"GET / HTTP/1.1\r\nX: " + b"y" * 1001 + b"\r\n\r\n")
    assert whole.value.status == 431


def test_empty_headers_count_against_the_header_bound() -> None:
    with pytest.raises(HttpError) as error:
        parser(max_headers=100).feed(b"GET / HTTP/1.1\r\n" + b"a:\r\n" * 20_000 + b"\r\n")
    assert error.value.status == 431


def test_body_over_its_bound_is_dropped_and_marked() -> None:
    p = parser(max_body=10)
    (request,) = p.feed(b"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n" + b"z" * 11)
    assert request.too_big
    assert request.body == b""


def test_upgrade_request_stops_the_parser_with_the_rest() -> None:
    p = parser()
    (request,) = p.feed(
        b"GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x80frame"
    )
    assert request.upgrade
    assert request.rest == b"\x81\x80frame"
    assert p.phase == UPGRADED
    assert p.feed(b"GET / HTTP/1.1\r\n\r\n") == []


def test_expect_100_continue_is_reported_once_while_the_body_is_due() -> None:
    p = parser()
    p.feed(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
    assert p.wants_continue()
    assert not p.wants_continue()
    assert len(p.feed(b"abc")) == 1


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"\x00\x01\x02 / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_malformed_requests_are_400(data: bytes) -> None:
    with pytest.raises(HttpError) as error:
        parser().feed(data)
    assert error.value.status == 400
