"""A live server for tests: uvicorn running the app on a free loopback port, in a thread."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from taskfleet.server import create_app

from .helpers import wait_for


class LiveServer:
    """uvicorn running ``create_app(...)`` in a background thread."""

    def __init__(self, db_url: str, root: Path, **options: Any) -> None:
        options.setdefault("worker_poll_s", 0.1)
        self.db_url = db_url
        self.root = root
        self.app = create_app(db_url, root=str(root), **options)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def start(self) -> LiveServer:
        self._thread.start()
        wait_for(lambda: self._server.started, 20, "uvicorn to start")
        return self

    def stop(self) -> None:
        self.client.close()
        self._server.should_exit = True
        self._thread.join(30)
        self._sock.close()

    # -- helpers used by many tests --------------------------------------------------

    def submit(self, tasks: list[Any], **options: Any) -> dict[str, Any]:
        response = self.client.post("/jobs", json={"tasks": tasks, **options})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.client.get(f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_ended(self, job_id: str, timeout: float = 30) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            job = self.job(job_id)
            return job if job["status"] in ("completed", "failed", "cancelled") else None

        return wait_for(ended, timeout, f"job {job_id} to end")
