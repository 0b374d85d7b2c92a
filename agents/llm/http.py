"""A minimal asyncio HTTP/1.1 client for JSON POSTs (stdlib only).

Annotators talk to chat-completion servers through this instead of a third-party client so
that the suite needs no extra dependency. One connection per request (``Connection:
close``), which is negligible next to an LLM call, and the whole exchange — connect,
send, read — runs under one deadline, so a server that hangs or drips bytes is cut off
exactly at ``timeout`` and the awaiting task is cancelled cleanly.

Header values (the API key among them) never appear in exceptions raised here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

#: Largest response body read; anything longer is a protocol error (a chat answer is small).
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class HTTPError(Exception):
    """Transport failure or malformed HTTP (never carries request headers)."""


@dataclass(frozen=True)
class Response:
    """Status code and raw body of an HTTP response."""

    status: int
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not)."""
        return json.loads(self.body.decode("utf-8"))


async def post_json(
    url: str, payload: Any, headers: dict[str, str] | None = None, timeout: float = 30.0
) -> Response:
    """POST ``payload`` as JSON to ``url``; the whole exchange must finish within ``timeout`` s.

    Raises :class:`HTTPError` on connection or protocol errors and ``TimeoutError`` when the
    deadline passes. Non-2xx statuses are returned, not raised.
    """
    return await asyncio.wait_for(_post_json(url, payload, headers or {}), timeout)


async def _post_json(url: str, payload: Any, headers: dict[str, str]) -> Response:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HTTPError(f"unsupported URL {parts.scheme}://{parts.hostname}{parts.path}")
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    body = json.dumps(payload).encode("utf-8")
    host_header = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host_header}",
        "Content-Type: application/json",
        "Accept: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        "User-Agent: explore-llm/1",
    ]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    try:
        reader, writer = await asyncio.open_connection(
            parts.hostname, port, ssl=ssl.create_default_context() if secure else None
        )
    except OSError as err:
        raise HTTPError(
            f"cannot connect to {parts.hostname}:{port}: {err.strerror or err}"
        ) from None
    try:
        writer.write(request)
        await writer.drain()
        return await _read_response(reader)
    except (ConnectionError, asyncio.IncompleteReadError) as err:
        raise HTTPError(
            f"connection to {parts.hostname}:{port} broke: {type(err).__name__}"
        ) from None
    finally:
        writer.close()
        # Bounded: a TLS peer that never acknowledges the close must not extend the deadline.
        with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)


async def _read_response(reader: asyncio.StreamReader) -> Response:
    status_line = await reader.readline()
    fields = status_line.decode("latin-1").split(None, 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise HTTPError(f"malformed status line {status_line[:80]!r}")
    status = int(fields[1])
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        key, _, value = line.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
        if len(headers) > 200:
            raise HTTPError("too many response headers")

    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size_line = await reader.readline()
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise HTTPError("malformed chunk size") from None
            if size == 0:
                break
            if len(body) + size > MAX_RESPONSE_BYTES:
                raise HTTPError("response too large")
            body += await reader.readexactly(size)
            await reader.readexactly(2)  # CRLF after each chunk
        return Response(status, bytes(body))
    if "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise HTTPError("malformed Content-Length") from None
        if length > MAX_RESPONSE_BYTES:
            raise HTTPError("response too large")
        return Response(status, await reader.readexactly(length))
    chunks: list[bytes] = []
    total = 0
    while chunk := await reader.read(65536):  # no length given: the body ends at EOF
        total += len(chunk)
        if total > MAX_RESPONSE_BYTES:
            raise HTTPError("response too large")
        chunks.append(chunk)
    return Response(status, b"".join(chunks))
