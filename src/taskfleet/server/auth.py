"""The bearer-token check and the request body cap, as one ASGI middleware.

With a token set, every path but ``/healthz`` needs ``Authorization: Bearer
<token>``. A browser cannot add that header to a page load or an
EventSource, so the dashboard gets the token once as ``/?token=...``, which
answers with an HttpOnly, SameSite=Strict cookie holding it and a redirect
to ``/``; the cookie is accepted in place of the header. The events route
also accepts ``?token=``.

Writes (any method but GET, HEAD, OPTIONS) that a browser sends from a page
of another origin answer 403, so a web page cannot post to a server on
127.0.0.1 that has no token.

Bodies over the cap answer 413 before the app sees them: by Content-Length
when given, else by counting a chunked body as it arrives.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "taskfleet_token"
_EVENTS_PATH = re.compile(r"/jobs/[^/]+/events")
OPEN_PATHS = frozenset({"/healthz"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LOGIN_PAGE = """<!doctype html><meta charset="utf-8"><title>taskfleet</title>
<p>This taskfleet server needs its API token. Open <code>/?token=YOUR_TOKEN</code> once
(the value of <code>TASKFLEET_API_TOKEN</code>); the browser then keeps it in a cookie.</p>"""


def _headers(scope: Scope) -> dict[str, str]:
    return {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}


class AuthAndBodyLimitMiddleware:
    """Token check and body cap in front of the app."""

    def __init__(self, app: ASGIApp, *, token: str | None, body_limit_bytes: int) -> None:
        self.app = app
        self.token = token
        self.body_limit_bytes = body_limit_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        refusal = _check_origin(scope, headers) or self._check_token(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.body_limit_bytes:
            await self._too_large()(scope, receive, send)
            return
        if length is None and scope["method"] in ("POST", "PUT", "PATCH"):
            replay = await self._buffered(receive)
            if replay is None:
                await self._too_large()(scope, receive_nothing, send)
                return
            receive = replay
        await self.app(scope, receive, send)

    def _check_token(self, scope: Scope, headers: dict[str, str]) -> Response | None:
        path: str = scope["path"]
        if self.token is None or path in OPEN_PATHS:
            return None
        given = _bearer(headers) or _cookie(headers)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        from_query = (query.get("token") or [None])[0]
        if _EVENTS_PATH.fullmatch(path) and given is None:
            given = from_query
        if given is not None and hmac.compare_digest(given.encode(), self.token.encode()):
            return None
        token = self.token.encode()
        if (
            path == "/"
            and from_query is not None
            and hmac.compare_digest(from_query.encode(), token)
        ):
            return self._login()
        if path == "/":
            return HTMLResponse(_LOGIN_PAGE, status_code=401)
        return JSONResponse(
            {"detail": "missing or wrong API token: send Authorization: Bearer <token>"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    def _login(self) -> Response:
        response = RedirectResponse("/", status_code=303)
        assert self.token is not None
        response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/")
        return response

    def _too_large(self) -> Response:
        limit_mb = self.body_limit_bytes / 1_000_000
        return JSONResponse(
            {"detail": f"request body is larger than the limit of {limit_mb:g} MB"},
            status_code=413,
        )

    async def _buffered(self, receive: Receive) -> Receive | None:
        """Read a body of unknown length up to the cap; None when it is over."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.body_limit_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay


async def receive_nothing() -> Message:
    """A receive for a response sent without reading the request."""
    return {"type": "http.disconnect"}


def _check_origin(scope: Scope, headers: dict[str, str]) -> Response | None:
    """Refuse writes from pages of other sites (a form posted to a loopback server)."""
    origin = headers.get("origin")
    if scope["method"] in SAFE_METHODS or origin is None:
        return None
    if urlsplit(origin).netloc == headers.get("host"):
        return None
    return JSONResponse({"detail": f"cross-origin request from {origin} refused"}, 403)


def _bearer(headers: dict[str, str]) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _cookie(headers: dict[str, str]) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    morsel = SimpleCookie(raw).get(COOKIE)
    return morsel.value if morsel is not None else None
