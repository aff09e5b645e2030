"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from carebridge.kernel.db import Database
from carebridge.kernel.migrate import current_revision

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get("/readyz", summary="Readiness: database reachable and migrations current")
def readyz(request: Request) -> JSONResponse:
    db: Database = request.app.state.database
    expected: str | None = request.app.state.migration_head
    checks: dict[str, str] = {}
    ready = True
    try:
        with db.sessions() as session:
            conn = session.connection()
            conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            current = current_revision(conn)
        if current == expected:
            checks["migrations"] = "current"
        else:
            checks["migrations"] = f"at {current}, expected {expected}: run `carebridge migrate`"
            ready = False
    except Exception as exc:  # any driver error means not ready, never a 500
        checks["database"] = f"unreachable: {type(exc).__name__}"
        ready = False
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
