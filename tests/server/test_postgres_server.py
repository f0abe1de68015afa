"""The REST API and its worker on a PostgreSQL store: the same tests as on SQLite, a few of each."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fakes.openai_server import FakeOpenAI

from . import test_events, test_jobs_api, test_openai_batch_api
from .conftest import LiveServer

# Tests that take a ``server`` and cover the store's part of the API.
REUSED: list[Callable[[LiveServer], Any]] = [
    test_jobs_api.test_submit_runs_and_reports_progress,
    test_jobs_api.test_list_jobs_filters_and_pages,
    test_jobs_api.test_tasks_filter_search_and_page,
    test_jobs_api.test_results_in_every_format,
    test_jobs_api.test_cancel_a_running_job,
    test_jobs_api.test_retry_queues_the_failed_again,
    test_events.test_stream_of_a_job_from_start_to_end,
    test_events.test_last_event_id_resumes_exactly,
]


@pytest.fixture
def pg_live_server(tmp_path: Path, pg_url: str) -> Iterator[LiveServer]:
    root = tmp_path / "root"
    root.mkdir()
    server = LiveServer(pg_url, root).start()
    yield server
    server.stop()


@pytest.mark.parametrize("reused", REUSED, ids=lambda test: test.__name__)
def test_api_on_postgres(pg_live_server: LiveServer, reused: Callable[[LiveServer], Any]) -> None:
    reused(pg_live_server)


@pytest.fixture
def fake_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
        yield server


def test_openai_batch_api_on_postgres(fake_openai: FakeOpenAI, tmp_path: Path, pg_url: str) -> None:
    """Uploaded files (BYTEA) and job metadata, through the official SDK."""
    root = tmp_path / "root"
    root.mkdir()
    server = LiveServer(pg_url, root).start()
    try:
        test_openai_batch_api.test_sdk_runs_a_batch_end_to_end(server, fake_openai)
    finally:
        server.stop()
