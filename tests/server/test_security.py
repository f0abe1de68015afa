"""The token check, the body cap, --no-shell and fs escapes, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from .conftest import LiveServer, ServerFactory
from .helpers import read_events

TOKEN = "s3cret-token"


def test_every_route_but_healthz_needs_the_token(start_server: ServerFactory) -> None:
    server = start_server(token=TOKEN)
    client = server.client
    assert client.get("/healthz").status_code == 200
    for method, path in [
        ("GET", "/jobs"),
        ("POST", "/jobs"),
        ("GET", "/jobs/x"),
        ("GET", "/jobs/x/events"),
        ("GET", "/stats"),
        ("GET", "/openapi.json"),
        ("GET", "/batch/jobs"),
        ("POST", "/batch/validation"),
        ("GET", "/"),
        ("GET", "/static/app.js"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 401, (method, path)
        wrong = client.request(method, path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401, (method, path)
    good = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/jobs", headers=good).status_code == 200
    created = client.post("/jobs", json={"tasks": [{"duration": 0}], "id": "j"}, headers=good)
    assert created.status_code == 201
    assert client.get("/openapi.json", headers=good).status_code == 200


def test_the_dashboard_and_events_take_the_token_without_a_header(
    start_server: ServerFactory,
) -> None:
    server = start_server(token=TOKEN)
    good = {"Authorization": f"Bearer {TOKEN}"}
    server.client.post("/jobs", json={"tasks": [{"duration": 0}], "id": "j"}, headers=good)
    events = read_events(server.client, f"/jobs/j/events?token={TOKEN}")
    assert events[-1]["event"] == "end"
    assert server.client.get(f"/jobs?token={TOKEN}").status_code == 401  # events route only
    assert server.client.get(f"/jobs/j/tasks/events?token={TOKEN}").status_code == 401
    with httpx.Client(base_url=server.url, follow_redirects=True) as browser:
        login = browser.get(f"/?token={TOKEN}")
        assert login.status_code == 200  # redirected to / with the cookie set
        assert "taskfleet_token" in browser.cookies
        assert browser.get("/jobs").status_code == 200
        assert browser.get("/static/app.js").status_code == 200
    with httpx.Client(base_url=server.url) as stranger:
        assert stranger.get("/?token=wrong").status_code == 401


def test_bodies_over_the_cap_are_413(start_server: ServerFactory) -> None:
    server = start_server(body_limit_bytes=2000)
    small = {"tasks": [{"command": "true"}]}
    assert server.client.post("/jobs", json=small).status_code == 201
    big = {"tasks": [{"command": "echo " + "x" * 3000}]}
    response = server.client.post("/jobs", json=big)
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"tasks": [{"command": "echo '
        for _ in range(10):
            yield b"x" * 500
        yield b'"}]}'

    chunked = server.client.post(
        "/jobs", content=chunks(), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 413
    assert server.client.get("/jobs").json()["total"] == 1


def test_no_shell_refuses_commands(start_server: ServerFactory) -> None:
    server = start_server(no_shell=True)
    client = server.client
    cases = [
        {"tasks": [{"command": "true"}]},
        {"tasks": [{"kind": "shell", "command": ["true"]}]},
        {"tasks": [{"kind": "fs", "op": "command", "command": "true"}]},
        {"tasks": [{"function": "os:system", "args": ["true"]}]},
        {"tasks": [{"duration": 0}], "validate": "true"},
    ]
    for body in cases:
        response = client.post("/jobs", json=body)
        assert response.status_code == 422, body
        assert "--no-shell" in response.text
    validation = {"targets": [{"path": "a"}], "check_command": "true"}
    assert client.post("/batch/validation", json=validation).status_code == 422
    assert client.get("/jobs").json()["total"] == 0
    allowed = {"tasks": [{"duration": 0}, {"kind": "fs", "op": "list"}]}
    assert client.post("/jobs", json=allowed).status_code == 201


def test_fs_escapes_fail_with_the_path(start_server: ServerFactory) -> None:
    server = start_server()
    outside = server.root.parent / "outside"
    outside.mkdir()
    (server.root / "link").symlink_to(outside)
    tasks = [
        {"id": "dotdot", "kind": "fs", "op": "write", "path": "../x.txt", "content": "x"},
        {"id": "absolute", "kind": "fs", "op": "read", "path": "/etc/hostname"},
        {"id": "symlink", "kind": "fs", "op": "write", "path": "link/y.txt", "content": "y"},
        {"id": "inside", "kind": "fs", "op": "write", "path": "sub/z.txt", "content": "z"},
    ]
    server.submit(tasks, id="j")
    job = server.wait_ended("j")
    assert job["failed"] == 3
    rows = {t["id"]: t for t in server.client.get("/jobs/j/tasks").json()["tasks"]}
    assert "'../x.txt' is outside the root" in rows["dotdot"]["error"]
    assert "'/etc/hostname' is outside the root" in rows["absolute"]["error"]
    assert "'link/y.txt' is outside the root" in rows["symlink"]["error"]
    assert rows["inside"]["status"] == "succeeded"
    assert not (server.root.parent / "x.txt").exists()
    assert not (outside / "y.txt").exists()


def test_writes_from_other_sites_are_refused(server: LiveServer) -> None:
    server.submit([{"duration": 30}], id="j")
    evil = {"Origin": "http://evil.example"}
    assert server.client.post("/jobs/j/cancel", headers=evil).status_code == 403
    assert (
        server.client.post("/jobs", json={"tasks": [{"duration": 0}]}, headers=evil).status_code
        == 403
    )
    assert server.client.get("/jobs/j", headers=evil).status_code == 200
    same = {"Origin": server.url}
    assert server.client.post("/jobs/j/cancel", headers=same).status_code == 200
