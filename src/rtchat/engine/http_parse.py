"""HTTP/1.1 requests from bytes, with bounds: no I/O.

`RequestParser` wraps httptools (llhttp) and owns what one connection has parsed so far.
The driver (`http.py`) feeds it what the socket gave and gets complete requests back; it
reads `phase` to time a request that is slow to arrive. The bounds are checked here, as
the bytes come, so that a request that breaks one never costs more than the bound:

- the head (URL and headers) is at most `max_head` bytes; a header still arriving counts
  with every chunk fed, so one trickled without end is stopped too (httptools keeps a
  header's name and value to itself until the header is complete);
- at most `max_headers` headers;
- a body past `max_body` bytes is dropped as it arrives and the request is marked
  `too_big` (the driver answers 413).

A request that breaks the syntax or a head bound raises `HttpError` with the status to
answer (400 or 431); the connection is then closed.
"""

from __future__ import annotations

import httptools

IDLE, HEAD, BODY, UPGRADED = range(4)  # where the request in progress is


class HttpError(Exception):
    """The bytes are not an acceptable request: answer `status` and close."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Request:
    """One complete request. `rest` holds the bytes after an upgrade request's head."""

    __slots__ = (
        "body",
        "continue_wanted",
        "headers",
        "keep_alive",
        "method",
        "rest",
        "too_big",
        "upgrade",
        "url",
    )

    def __init__(self) -> None:
        self.url = b""
        self.method = ""
        self.headers: list[tuple[bytes, bytes]] = []  # names in lower case
        self.body = bytearray()
        self.keep_alive = True
        self.upgrade = False
        self.too_big = False
        self.continue_wanted = False
        self.rest = b""

    def header(self, name: bytes) -> str | None:
        """The first value of header `name` (lower case), as text."""
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None


class RequestParser:
    """Feed it bytes, get complete requests; see the module's docstring for the bounds."""

    __slots__ = (
        "_done",
        "_head",
        "_parser",
        "_partial",
        "_request",
        "begun",
        "max_body",
        "max_head",
        "max_headers",
        "phase",
    )

    def __init__(self, *, max_head: int, max_headers: int, max_body: int) -> None:
        self.max_head = max_head
        self.max_headers = max_headers
        self.max_body = max_body
        self.phase = IDLE
        self.begun = 0  # requests begun so far: a new one restarts the driver's clock
        self._parser = httptools.HttpRequestParser(self)
        self._request: Request | None = None
        self._done: list[Request] = []
        self._head = 0  # bytes of the current request's URL and complete headers
        self._partial = 0  # bytes fed since then into a head still not complete

    def feed(self, data: bytes) -> list[Request]:
        """Parse `data`; returns the requests it completed, in order. After an upgrade
        request (returned last, with the bytes after it in `rest`) nothing more is parsed."""
        if self.phase == UPGRADED:
            return []
        in_head = self.phase == HEAD
        begun = self.begun
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            request, self._request = self._request, None
            if request is not None:
                request.rest = data[upgrade.args[0] :]
                self._done.append(request)
            self.phase = UPGRADED
        except httptools.HttpParserCallbackError as error:
            if isinstance(error.__context__, HttpError):
                raise error.__context__ from None
            raise HttpError(400, "Bad Request") from None
        except httptools.HttpParserError:
            raise HttpError(400, "Bad Request") from None
        if self.phase == HEAD and in_head and self.begun == begun:
            # All of `data` went into a head that is still not complete; httptools keeps
            # a header's parts to itself until its end, so this is how a header trickled
            # without end is stopped.
            self._partial += len(data)
            if self._partial > self.max_head:
                raise HttpError(431, "Request Header Fields Too Large")
        done, self._done = self._done, []
        return done

    def wants_continue(self) -> bool:
        """Whether the request whose body is arriving asked for `100 Continue` and has not
        had it yet (True once per request)."""
        request = self._request
        if self.phase != BODY or request is None or not request.continue_wanted:
            return False
        request.continue_wanted = False
        return True

    # --- httptools callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._request = Request()
        self.phase = HEAD
        self.begun += 1
        self._head = 0
        self._partial = 0

    def on_url(self, url: bytes) -> None:
        assert self._request is not None
        self._request.url += url
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self._request
        assert request is not None
        request.headers.append((name.lower(), value))
        if len(request.headers) > self.max_headers:
            raise HttpError(431, "Request Header Fields Too Large")
        self._count(len(name) + len(value))

    def _count(self, size: int) -> None:
        self._head += size
        if self._head > self.max_head:
            raise HttpError(431, "Request Header Fields Too Large")

    def on_headers_complete(self) -> None:
        request = self._request
        assert request is not None
        parser = self._parser
        request.method = parser.get_method().decode("ascii", "replace")
        request.upgrade = bool(parser.should_upgrade())
        request.keep_alive = bool(parser.should_keep_alive())
        request.continue_wanted = (request.header(b"expect") or "").lower() == "100-continue"
        self.phase = BODY

    def on_body(self, body: bytes) -> None:
        request = self._request
        assert request is not None
        if request.too_big:
            return
        if len(request.body) + len(body) > self.max_body:
            request.too_big = True
            request.body = bytearray()
        else:
            request.body += body

    def on_message_complete(self) -> None:
        request = self._request
        if request is None or request.upgrade:
            return  # an upgrade request is returned when the parser stops at it
        self._request = None
        self.phase = IDLE
        self._done.append(request)
