"""Operations endpoints and the error contract every client relies on."""

from fastapi.testclient import TestClient


def test_healthz_answers_ok(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert r.headers["x-request-id"]


def test_readyz_reports_database_and_migrations(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"database": "ok", "migrations": "current"}


def test_unknown_route_is_problem_json(client: TestClient) -> None:
    r = client.get("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 404 and body["type"].endswith("/not-found") and body["detail"]


def test_request_id_is_echoed_when_valid(client: TestClient) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces"


def test_oversized_body_is_refused_with_413(client: TestClient) -> None:
    r = client.post("/api/v1/no-such-thing", content=b"x" * 2_000_000, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["type"].endswith("/payload-too-large")


def test_metrics_exposes_request_counters(client: TestClient) -> None:
    client.get("/healthz")
    r = client.get("/metrics")
    assert r.status_code == 200
    assert "carebridge_http_requests_total" in r.text


def test_facility_import_route_accepts_bodies_above_the_general_limit(client: TestClient) -> None:
    body = b"x" * 1_500_000  # above CAREBRIDGE_MAX_BODY_BYTES (1 MiB), below the import limit
    r = client.post("/api/v1/facilities/import", content=body, headers={"content-type": "application/octet-stream"})
    assert r.status_code == 401  # reached the route (which wants a signed-in admin), not refused with 413
    r = client.post("/api/v1/patients", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413
