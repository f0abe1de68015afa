"""The OpenAI-compatible Batch API under /v1, driven by the official ``openai`` package.

taskfleet serves the batch; the requests go to the fake OpenAI-compatible
server (the default endpoint, from OPENAI_BASE_URL as the SDK would take it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from fakes.openai_server import FakeOpenAI
from taskfleet.service import openai_batches
from taskfleet.store import open_store

from .conftest import LiveServer, ServerFactory
from .helpers import wait_for

ENDED = ("completed", "failed", "cancelled", "expired")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        # The server's llm tasks use the default endpoint: OPENAI_BASE_URL, as the SDK does.
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
        yield server


@pytest.fixture
def live(fake: FakeOpenAI, start_server: ServerFactory) -> LiveServer:
    return start_server()


def client_for(live: LiveServer, api_key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live.url}/v1", api_key=api_key, max_retries=0)


def batch_line(custom_id: str, prompt: str, url: str = "/v1/chat/completions") -> str:
    body = {"model": "fake-model", "messages": [{"role": "user", "content": prompt}]}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": body})


def upload(client: openai.OpenAI, lines: list[str]) -> Any:
    content = ("\n".join(lines) + "\n").encode()
    return client.files.create(file=("requests.jsonl", content), purpose="batch")


def jsonl(client: openai.OpenAI, file_id: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


def wait_batch(client: openai.OpenAI, batch_id: str) -> Any:
    def ended() -> Any:
        batch = client.batches.retrieve(batch_id)
        return batch if batch.status in ENDED else None

    return wait_for(ended, 60, f"batch {batch_id} to end")


def test_sdk_runs_a_batch_end_to_end(live: LiveServer, fake: FakeOpenAI) -> None:
    client = client_for(live)
    lines = [batch_line(f"req-{i}", f"question {i}") for i in range(1, 6)]
    lines.append(batch_line("bad-one", "please FAIL-400"))
    uploaded = upload(client, lines)
    assert (uploaded.purpose, uploaded.filename) == ("batch", "requests.jsonl")
    assert client.files.retrieve(uploaded.id).bytes == uploaded.bytes

    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"team": "qa"},
    )
    assert batch.status in ("validating", "in_progress")
    assert batch.metadata == {"team": "qa"}

    done = wait_batch(client, batch.id)
    assert done.status == "completed"
    counts = done.request_counts
    assert (counts.total, counts.completed, counts.failed) == (6, 5, 1)
    assert done.output_file_id and done.error_file_id

    output = [
        json.loads(line) for line in client.files.content(done.output_file_id).text.splitlines()
    ]
    # Input order, one line per answered request, with OpenAI's fields.
    assert [record["custom_id"] for record in output] == [f"req-{i}" for i in range(1, 6)]
    first = output[0]
    assert first["id"].startswith("batch_req_") and first["error"] is None
    assert first["response"]["status_code"] == 200
    assert first["response"]["body"]["choices"][0]["message"]["content"] == "echo: question 1"
    errors = [
        json.loads(line) for line in client.files.content(done.error_file_id).text.splitlines()
    ]
    assert [record["custom_id"] for record in errors] == ["bad-one"]
    assert errors[0]["response"]["status_code"] == 400
    # Every request reached the provider once: the 400 was not retried.
    assert fake.stats()["requests"] == 6

    listed = client.batches.list(limit=10)
    assert [b.id for b in listed.data] == [batch.id]


def test_bad_line_rejects_the_batch_and_stores_nothing(live: LiveServer) -> None:
    client = client_for(live)
    uploaded = upload(client, [batch_line("a", "fine"), '{"custom_id": "b", "body": 7}'])
    with pytest.raises(openai.BadRequestError) as caught:
        client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    assert "requests.jsonl:2" in str(caught.value)
    assert client.batches.list().data == []
    assert live.client.get("/jobs").json()["total"] == 0


def test_line_for_another_endpoint_is_rejected(live: LiveServer) -> None:
    client = client_for(live)
    uploaded = upload(client, [batch_line("a", "x", url="/v1/embeddings")])
    with pytest.raises(openai.BadRequestError, match="url"):
        client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )


def test_unknown_ids_are_404(live: LiveServer) -> None:
    client = client_for(live)
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve("file-nope")
    with pytest.raises(openai.NotFoundError):
        client.batches.create(
            input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h"
        )
    # An ordinary job is not a batch.
    job = live.submit([{"id": "t", "duration": 0}])
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve(job["job_id"])


def test_cancel_a_batch(start_server: ServerFactory, fake: FakeOpenAI) -> None:
    live = start_server(run_worker=False)  # nothing runs: the batch stays queued
    client = client_for(live)
    uploaded = upload(client, [batch_line(f"r{i}", f"q {i}") for i in range(3)])
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    cancelled = client.batches.cancel(batch.id)
    assert cancelled.status == "cancelled"
    assert cancelled.request_counts.failed == 3
    assert cancelled.output_file_id is None and cancelled.error_file_id
    assert fake.stats()["requests"] == 0


def test_token_is_the_api_key(start_server: ServerFactory, fake: FakeOpenAI) -> None:
    live = start_server(token="s3cret")
    with pytest.raises(openai.AuthenticationError):
        client_for(live, api_key="wrong").batches.list()
    assert client_for(live, api_key="s3cret").batches.list().data == []


async def test_a_batch_runs_as_wide_as_its_endpoint_allows(
    start_server: ServerFactory, fake: FakeOpenAI
) -> None:
    # The Batch API has no concurrency field: the default endpoint's max_concurrency
    # (64 unless configured) caps the batch, not the CPU count.
    live = start_server(run_worker=False)
    client = client_for(live)
    uploaded = upload(client, [batch_line("r1", "q")])
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    store = open_store(live.db_url)
    await store.open()
    try:
        assert (await store.get_job(batch.id)).options.concurrency == 64
    finally:
        await store.close()
    assert openai_batches.batch_concurrency({"default": {"max_concurrency": 8}}, 2) == 8
    assert openai_batches.batch_concurrency({}, 96) == 96
