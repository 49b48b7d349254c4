"""The local host over real HTTP on loopback: /health, problem responses, cron, faults."""

import json

import httpx

from tests.conftest import DEV_VARS, TENANT_A, auth

ADMIN = {"Authorization": f"Bearer {DEV_VARS['ADMIN_API_SECRET']}"}
MIGRATIONS = len(list((__import__("pathlib").Path(__file__).resolve().parent.parent / "migrations").glob("*.sql")))


def test_health_tells_the_public_only_ok_or_degraded(http_host):
    r = httpx.get(f"{http_host.url}/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["cache-control"] == "no-store"


def test_health_detail_needs_the_admin_secret(http_host):
    r = httpx.get(f"{http_host.url}/health", headers=ADMIN)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["migrations"]["applied"] == MIGRATIONS
    expected = {"D1_PRIMARY", "D1_DEDICATED_A", "LTI_PLATFORMS", "KEY_SETS", "PROFILE_CACHE", "EXPORTS",
                "OIDC_STATE", "STRUGGLE_DETECTOR", "CHAT_CONVERSATIONS", "GRADE_SYNC", "AI"}
    assert set(body["bindings"]) == expected
    assert all(b["status"] == "ok" for b in body["bindings"].values())


def test_unknown_route_is_a_problem_json_404(http_host):
    r = httpx.get(f"{http_host.url}/no/such/route")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404 and r.json()["correlation_id"] == r.headers["x-correlation-id"]


def test_health_reports_a_down_binding_as_degraded(http_host):
    httpx.post(f"{http_host.url}/__devhost/faults", json={"binding": "KEY_SETS", "mode": "unavailable"})
    assert httpx.get(f"{http_host.url}/health").json() == {"status": "degraded"}
    r = httpx.get(f"{http_host.url}/health", headers=ADMIN)
    assert r.status_code == 503
    assert r.json()["bindings"]["KEY_SETS"]["status"] == "down"
    assert r.json()["bindings"]["D1_PRIMARY"]["status"] == "ok"
    httpx.delete(f"{http_host.url}/__devhost/faults")
    assert httpx.get(f"{http_host.url}/health").status_code == 200


def test_d1_error_inside_a_request_is_a_5xx_problem_without_a_stack_trace(http_host):
    host = http_host.host
    httpx.post(f"{http_host.url}/__devhost/faults", json={"binding": "D1_PRIMARY", "mode": "error"})
    r = httpx.get(f"{http_host.url}/api/profile", headers=auth(host, tenant=TENANT_A))
    assert r.status_code == 503
    body = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert body["correlation_id"] and "Traceback" not in r.text and "D1_ERROR" not in r.text


def test_bad_fault_spec_is_refused(http_host):
    r = httpx.post(f"{http_host.url}/__devhost/faults", json={"binding": "NOPE", "mode": "unavailable"})
    assert r.status_code == 400


def test_oversize_body_is_refused_before_it_is_read(http_host):
    r = httpx.patch(f"{http_host.url}/api/profile", content=b"x" * (64 * 1024 + 1),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert json.loads(r.text)["title"] == "Content Too Large"
