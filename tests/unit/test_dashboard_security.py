"""Dashboard access rules (DESIGN.md §9), CSRF, escaping of untrusted store values, and a store that is down."""
from __future__ import annotations

import base64
import json

import pytest

from app.Horizon.Auth import COOKIE, AccessPolicy
from app.Queue.Database.tables import failed_jobs
from config import env as env_mod
from tests.conftest import TEST_KEY
from tests.dashboard_support import client, csrf
from tests.support import artisan

EVIL = "<script>alert('x')</script>"


@pytest.mark.parametrize(("app_env", "host", "open_"), [
    ("local", "127.0.0.1", True), ("local", "::1", True), ("local", "localhost", True),
    ("local", "0.0.0.0", False), ("local", "192.168.1.10", False), ("production", "127.0.0.1", False),
    ("testing", "127.0.0.1", False),
])
def test_open_without_credentials_only_when_local_and_on_loopback(monkeypatch, app_env: str, host: str, open_: bool):
    monkeypatch.setenv("APP_ENV", app_env)
    env_mod.reload()
    assert AccessPolicy.from_env(host).open is open_


def test_an_open_dashboard_refuses_other_host_names(monkeypatch):
    monkeypatch.setenv("APP_ENV", "local")
    env_mod.reload()
    c = client(AccessPolicy.from_env("127.0.0.1"))
    assert c.get("http://127.0.0.1:8000/horizon/api/stats").status_code == 200
    assert c.get("http://localhost:8000/horizon/api/stats").status_code == 200
    assert c.get("http://evil.example:8000/horizon/api/stats").status_code == 403  # DNS rebinding


def test_a_token_is_required_off_loopback_and_the_cookie_never_holds_it():
    c = client(AccessPolicy(False, "t0ken-abc", None))
    for url in ("/horizon", "/horizon/api/stats", "/metrics", "/horizon/jobs/failed"):
        assert c.get(url).status_code == 401, url
    assert c.get("/horizon/api/stats", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/horizon/api/stats", headers={"Authorization": "Bearer t0ken-abc"}).status_code == 200
    first = c.get("/horizon?token=t0ken-abc", follow_redirects=False)
    assert first.status_code == 303 and "token" not in first.headers["location"]
    cookie = first.cookies.get(COOKIE)
    assert cookie and "t0ken-abc" not in cookie and "httponly" in first.headers["set-cookie"].lower()
    assert c.get("/horizon").status_code == 200  # the cookie now opens it
    assert c.get("/metrics").status_code == 200


def test_basic_auth_opens_it_and_a_wrong_password_does_not():
    c = client(AccessPolicy(False, None, ("ops", "s3cret")))
    good = base64.b64encode(b"ops:s3cret").decode()
    bad = base64.b64encode(b"ops:nope").decode()
    refused = c.get("/horizon", headers={"Authorization": f"Basic {bad}"})
    assert refused.status_code == 401 and "Basic" in refused.headers["www-authenticate"]
    assert c.get("/horizon", headers={"Authorization": f"Basic {good}"}).status_code == 200


def test_posts_need_the_csrf_token_and_pages_carry_it():
    c = client()
    assert c.post("/horizon/api/monitoring", json={"tag": "a"}).status_code == 403
    assert c.post("/horizon/api/monitoring", json={"tag": "a"}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    token = csrf(c)["X-CSRF-Token"]
    assert f'name="csrf-token" content="{token}"' in c.get("/horizon").text
    assert c.post("/horizon/api/monitoring", json={"tag": "a"}, headers={"X-CSRF-Token": token}).status_code == 200


def _evil_failed_job(qm) -> str:
    """A failed job whose every string is hostile, as a compromised store could hold."""
    payload = json.dumps({"uuid": "evil-1", "displayName": EVIL, "job": EVIL, "queue": EVIL, "tags": [EVIL, "<img src=x onerror=alert(1)>"],
                          "createdAt": 1.0, "data": {"html": EVIL}})
    with qm.engine().begin() as conn:
        conn.execute(failed_jobs.insert().values(uuid="evil-1", connection="database", queue=EVIL, payload=payload,
                                                 exception=f"RuntimeError: {EVIL}\nTraceback...", failed_at=1))
    return "evil-1"


def test_hostile_strings_from_the_store_render_as_text(queue_env):
    c = client()
    ident = _evil_failed_job(queue_env)
    c.post("/horizon/api/monitoring", json={"tag": EVIL}, headers=csrf(c))
    for url in ("/horizon/jobs/failed", f"/horizon/jobs/{ident}", "/horizon/monitoring", f"/horizon/monitoring?tag={EVIL}",
                "/horizon/workload", "/horizon"):
        body = c.get(url).text
        assert "<script>alert" not in body and "<img src=x" not in body, url
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in c.get(f"/horizon/jobs/{ident}").text
    assert c.get(f"/horizon/api/jobs/{ident}").json()["name"] == EVIL  # JSON carries the text unchanged


def test_pages_send_a_strict_content_security_policy_and_never_show_app_key():
    c = client()
    response = c.get("/horizon")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    key = TEST_KEY.split(":", 1)[1]
    for url in ("/horizon", "/horizon/api/stats", "/horizon/supervisors", "/metrics", "/horizon/api/masters"):
        assert key not in c.get(url).text


def test_a_store_without_tables_gives_a_banner_and_503_never_a_trace(queue_env, tmp_path, monkeypatch):
    monkeypatch.setenv("DB_DATABASE", str(tmp_path / "not-migrated.sqlite"))
    env_mod.reload()
    queue_env.reset()
    c = client()
    for url in ("/horizon/api/stats", "/horizon/api/jobs/failed", "/horizon/api/jobs/completed", "/horizon/api/batches"):
        response = c.get(url)
        assert response.status_code == 503 and "migrate" in response.json()["error"], url
    page = c.get("/horizon")
    assert page.status_code == 503 and 'id="banner"' in page.text and "migrate" in page.text
    assert "Traceback" not in page.text and "File \"" not in page.text
    assert c.get("/metrics").status_code == 503


def test_an_unreachable_redis_gives_503_with_the_reason(queue_env, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    monkeypatch.setenv("QUEUE_CONNECTION", "redis")
    monkeypatch.setenv("REDIS_PORT", str(port))
    env_mod.reload()
    queue_env.reset()
    response = client().get("/horizon/api/workload")
    assert response.status_code == 503 and "unavailable" in response.json()["error"]
    page = client().get("/horizon/jobs/pending")
    assert page.status_code == 503 and "Traceback" not in page.text
    assert page.headers["x-dashboard-error"]


def test_the_command_refuses_to_serve_an_open_dashboard_off_loopback():
    result = artisan("queue:dashboard", "--host=0.0.0.0", env={"APP_ENV": "production"})
    assert result.returncode == 1 and "QUEUE_DASHBOARD_TOKEN" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    bad_port = artisan("queue:dashboard", "--port=http", env={"APP_ENV": "local"})
    assert bad_port.returncode == 1 and "--port" in bad_port.stdout + bad_port.stderr
