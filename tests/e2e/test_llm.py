"""llm tasks through the CLI in a subprocess, against the fake OpenAI server."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from fakes.openai_server import FakeOpenAI

from .helpers import Cli, describe, wait_for


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(latency_s=0.02) as fake:
        yield fake


def _config(cli: Cli, server: FakeOpenAI, **limits: Any) -> None:
    lines = ["[endpoints.fake]", f'base_url = "{server.base_url}"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in limits.items()]
    (cli.cwd / "taskfleet.toml").write_text("\n".join(lines) + "\n")


def _prompts(count: int, prefix: str = "p", **extra: Any) -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}{i}", "model": "m", "prompt": f"{prefix}{i}", "endpoint": "fake", **extra}
        for i in range(count)
    ]


@pytest.mark.slow
def test_a_configured_limit_is_met_without_429s(cli: Cli, server: FakeOpenAI) -> None:
    server.limit_requests, server.limit_window_s = 20, 1.0
    _config(cli, server, requests_per_minute=1200)
    cli.write_tasks("t.jsonl", _prompts(200))
    out = cli.run_job("run", "t.jsonl", "-j", "16")
    assert out.code == 0, describe(out.proc)
    stats = server.stats()
    assert stats["ok"] == 200
    assert stats["rejected_429"] <= 8  # typically 0-2; a loaded machine bunches arrivals
    assert 8.5 <= out.status["elapsed_seconds"] <= 15.0, out.status
    assert " req/s, " in out.proc.stderr and " tok/s" in out.proc.stderr  # the progress line


@pytest.mark.slow
def test_without_a_configured_limit_it_backs_off_and_finishes(cli: Cli, server: FakeOpenAI) -> None:
    server.limit_requests, server.limit_window_s = 20, 1.0
    _config(cli, server)
    cli.write_tasks("t.jsonl", _prompts(200))
    out = cli.run_job("run", "t.jsonl", "-j", "16", "--retries", "0")
    assert out.code == 0, describe(out.proc)
    stats = server.stats()
    assert stats["ok"] == 200
    assert stats["rejected_429"] <= 40, stats  # learned, not hammered
    assert out.status["elapsed_seconds"] <= 25.0, out.status


def test_fatal_errors_are_not_retried_transient_ones_are(cli: Cli, server: FakeOpenAI) -> None:
    _config(cli, server)
    tasks = [
        {"id": "bad", "model": "m", "prompt": "FAIL-400", "endpoint": "fake"},
        {"id": "flaky", "model": "m", "prompt": "FAIL-500-ONCE", "endpoint": "fake"},
        {"id": "ok", "model": "m", "prompt": "fine", "endpoint": "fake"},
    ]
    cli.write_tasks("t.jsonl", tasks)
    out = cli.run_job("run", "t.jsonl", "--retries", "3", "--retry-delay", "0.01")
    assert out.code == 1, describe(out.proc)
    assert {k: (r["status"], r["attempts"]) for k, r in out.tasks.items()} == {
        "bad": ("failed", 1),
        "flaky": ("succeeded", 2),
        "ok": ("succeeded", 1),
    }
    assert server.stats()["by_prompt"] == {"FAIL-400": 1, "FAIL-500-ONCE": 2, "fine": 1}
    failed = cli("failed", out.status["job_id"]).stdout
    assert "HTTP 400" in failed


def test_an_auth_failure_stops_the_endpoints_other_tasks(cli: Cli, server: FakeOpenAI) -> None:
    server.api_key = "sk-right"
    _config(cli, server, api_key_env="FAKE_KEY")
    cli.write_tasks("t.jsonl", _prompts(8))
    out = cli.run_job("run", "t.jsonl", "-j", "1", "--retries", "2", env={"FAKE_KEY": "sk-no"})
    assert out.code == 1
    assert {r["status"] for r in out.tasks.values()} == {"failed"}
    assert {r["attempts"] for r in out.tasks.values()} == {1}
    assert len({r["error"] for r in out.tasks.values()}) == 1
    assert "401 invalid_api_key" in out.tasks["p7"]["error"]
    assert server.stats()["requests"] == 1
    assert "sk-no" not in (cli.cwd / ".taskfleet" / "taskfleet.db").read_bytes().decode("latin-1")


def test_openai_batch_input_and_output_in_input_order(cli: Cli, server: FakeOpenAI) -> None:
    _config(cli, server)
    lines = [
        {
            "custom_id": f"req-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "m", "messages": [{"role": "user", "content": content}]},
        }
        for i, content in enumerate(["zero", "FAIL-400", "two"])
    ]
    lines.append({"custom_id": "req-3", "method": "POST", "url": "/v1/embeddings",
                  "body": {"model": "e", "input": "three"}})  # fmt: skip
    (cli.cwd / "batch.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (cli.cwd / "taskfleet.toml").write_text(
        f'[endpoints.default]\nbase_url = "{server.base_url}"\n'
    )
    proc = cli("run", "batch.jsonl", "--id", "b1", "-j", "4", "--quiet")
    assert proc.returncode == 1, describe(proc)
    out = cli.jsonl("results", "b1", "--format", "openai-batch")
    assert [line["custom_id"] for line in out] == ["req-0", "req-1", "req-2", "req-3"]
    assert all(line["id"].startswith("batch_req_") for line in out)
    assert len({line["id"] for line in out}) == 4
    first = out[0]["response"]
    assert first["status_code"] == 200 and first["request_id"].startswith("req_")
    assert first["body"]["choices"][0]["message"]["content"] == "echo: zero"
    assert out[0]["error"] is None
    assert out[1]["response"]["status_code"] == 400
    assert out[1]["response"]["body"]["error"]["type"] == "invalid_request_error"
    assert out[3]["response"]["body"]["object"] == "list"
    plain = {r["id"]: r for r in cli.results("b1")}
    assert plain["req-1"]["result"] is None and "HTTP 400" in plain["req-1"]["error"]
    assert "_response" not in plain["req-0"]["result"]


def test_usage_cost_and_cache_hits(cli: Cli, server: FakeOpenAI) -> None:
    _config(cli, server, input_cost_per_million=1000.0, output_cost_per_million=2000.0)
    tasks = _prompts(4) + [{**task, "id": f"again-{task['id']}"} for task in _prompts(4)]
    cli.write_tasks("t.jsonl", tasks)
    proc = cli("run", "t.jsonl", "--id", "c1", "-j", "1", "--cache")
    assert proc.returncode == 0, describe(proc)
    assert "cache hits 4" in proc.stdout
    usage = cli.status("c1")["usage"]
    # 4 requests of 1 prompt token and 10 completion tokens; the 4 repeats are hits.
    assert usage == {
        "prompt_tokens": 4,
        "completion_tokens": 40,
        "total_tokens": 44,
        "cost": pytest.approx((4 * 1000 + 40 * 2000) / 1e6),
        "cache_hits": 4,
    }
    assert server.stats()["by_prompt"] == {"p0": 1, "p1": 1, "p2": 1, "p3": 1}


def test_an_unknown_endpoint_is_bad_input(cli: Cli, server: FakeOpenAI) -> None:
    _config(cli, server)
    cli.write_tasks("t.jsonl", [{"model": "m", "prompt": "x"}, {"model": "m", "prompt": "y",
                                "endpoint": "nope"}])  # fmt: skip
    proc = cli("run", "t.jsonl")
    assert proc.returncode == 2
    assert "t.jsonl:2: field 'endpoint': unknown endpoint \"nope\" (known: fake)" in proc.stderr
    (cli.cwd / "taskfleet.toml").write_text("[endpoints.fake]\nrpm = 3\n")
    proc = cli("run", "t.jsonl")
    assert proc.returncode == 2 and "endpoints.fake.rpm: unknown key" in proc.stderr


def test_kill_9_then_resume_never_resends_what_succeeded(cli: Cli, server: FakeOpenAI) -> None:
    _config(cli, server, requests_per_minute=900)  # 15 a second: about 4 s for 60
    cli.write_tasks("t.jsonl", _prompts(60))
    runner = cli.start("run", "t.jsonl", "--id", "k1", "-j", "8", "--quiet")
    wait_for(lambda: server.stats()["ok"] >= 20, timeout=30, message="20 answers")
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    succeeded = {r["id"] for r in cli.results("k1", "--status", "succeeded")}
    assert 10 <= len(succeeded) < 60
    out = cli.run_job("resume", "k1")
    assert out.code == 0, describe(out.proc)
    served = server.stats()["served_by_prompt"]
    assert set(served) == {f"p{i}" for i in range(60)}
    assert all(served[task_id] == 1 for task_id in succeeded), served
    # Usage is flushed with each heartbeat: the kill loses at most ~1 s of it (15 requests).
    assert 60 * 10 - 16 * 10 <= out.status["usage"]["completion_tokens"] <= 80 * 10


def test_endpoints_travel_with_the_job_to_a_worker(cli: Cli, server: FakeOpenAI) -> None:
    _config(cli, server, requests_per_minute=6000)
    cli.write_tasks("t.jsonl", _prompts(5))
    job_id = cli.ok("submit", "t.jsonl", "--id", "w1").stdout.strip()
    (cli.cwd / "taskfleet.toml").unlink()  # the worker has no configuration file
    cli.ok("worker", "--once")
    assert cli.status(job_id)["succeeded"] == 5
    assert server.stats()["ok"] == 5
