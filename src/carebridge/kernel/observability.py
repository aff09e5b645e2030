"""Request ids, structured JSON logs, Prometheus metrics and the body-size limit in one ASGI layer.

A single pure-ASGI middleware instead of several BaseHTTPMiddleware layers: each layer of the latter
costs a task and a copy per request, which shows in the read benchmark.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from carebridge.kernel.errors import PROBLEM_BASE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_VALID_RID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    _RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            out["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in self._RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(level: str = "INFO", *, json_logs: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("carebridge")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "carebridge_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "carebridge_http_request_seconds", "HTTP request latency", ["method", "route"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )


_TOO_LARGE = json.dumps({
    "type": PROBLEM_BASE + "payload-too-large", "title": "Payload too large", "status": 413,
    "detail": "the request body is larger than this server accepts",
}).encode()


class _BodyTooLarge(Exception):
    pass


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int, log_requests: bool = True,
                 path_body_limits: dict[str, int] | None = None,
                 path_pattern_limits: list[tuple[re.Pattern[str], int]] | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body_bytes
        # the few upload routes allowed a larger body (each still enforces its own limit)
        self.path_limits = path_body_limits or {}
        # the same for upload routes with ids in their path (matched with `fullmatch`)
        self.pattern_limits = path_pattern_limits or []
        self.log_requests = log_requests
        self.log = logging.getLogger("carebridge.request")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        max_body = self.path_limits.get(scope.get("path", ""), self.max_body)
        for pattern, limit in self.pattern_limits:
            if pattern.fullmatch(scope.get("path", "")):
                max_body = limit
                break
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _VALID_RID.match(candidate):
                    rid = candidate
            elif name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > max_body:
                    await self._reject(send, rid)
                    return
        rid = rid or secrets.token_hex(8)
        token = request_id_var.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status_holder = [500]
        seen = [0]
        header_rid = rid.encode()

        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > max_body:
                    raise _BodyTooLarge
            return message

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", header_rid))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except _BodyTooLarge:
            status_holder[0] = 413
            await self._reject(send, rid)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route_path, str(status_holder[0])).inc()
            self.metrics.latency.labels(method, route_path).observe(elapsed)
            if self.log_requests:
                self.log.info(
                    "request",
                    extra={"method": method, "path": scope.get("path"), "status": status_holder[0],
                           "ms": round(elapsed * 1000, 2)},
                )
            request_id_var.reset(token)

    async def _reject(self, send: Send, rid: str | None) -> None:
        headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(_TOO_LARGE)).encode())]
        if rid:
            headers.append((b"x-request-id", rid.encode()))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": _TOO_LARGE})
