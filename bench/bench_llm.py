"""taskfleet's llm benchmark: the share of a server's allowed request rate it reaches.

One fake OpenAI-compatible server (``tests/fakes/openai_server.py``, in its
own process) enforces a sliding-window request limit and answers 429 with
``retry-after`` / ``retry-after-ms`` above it. Against it, N chat requests go
through, side by side (see bench/README.md):

- ``taskfleet run`` with the limit configured (``requests_per_minute``);
- ``taskfleet run`` with nothing configured (adaptive: AIMD concurrency and a
  learned rate);
- a plain asyncio + semaphore client at the same concurrency that sleeps the
  ``retry-after-ms`` of a 429 and tries again (the usual hand-written loop).

Reported per client: the achieved rate (answers / the server's span from
first to last request), its share of the allowed rate, the 429 count and
share, and the client's wall time. Prints one JSON object, then a table on
stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FAKE_SERVER = ROOT / "tests" / "fakes" / "openai_server.py"
TARGET_CONFIGURED_SHARE = 0.90
TARGET_ADAPTIVE_SHARE = 0.80
TARGET_429_SHARE = 0.05
TASKFLEET_RUN = [sys.executable, "-m", "taskfleet", "run", "tasks.jsonl"]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _post(url: str) -> None:
    request = urllib.request.Request(url, data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable,
        str(FAKE_SERVER),
        "--limit-requests",
        str(args.limit),
        "--limit-window",
        str(args.window),
        "--latency",
        str(args.latency),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    base_url = proc.stdout.readline().strip()
    if not base_url.startswith("http"):
        proc.kill()
        raise SystemExit(f"fake server did not start: {base_url!r}")
    return proc, base_url


def run_taskfleet(args: argparse.Namespace, base_url: str, configured: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-llm-") as work:
        config = f'[endpoints.default]\nbase_url = "{base_url}"\n'
        if configured:
            config += f"requests_per_minute = {args.limit * 60 / args.window:g}\n"
        Path(work, "taskfleet.toml").write_text(config)
        tasks = (
            json.dumps({"id": f"r{i}", "model": "m", "prompt": f"request {i}", "max_tokens": 16})
            for i in range(args.requests)
        )
        Path(work, "tasks.jsonl").write_text("\n".join(tasks) + "\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TASKFLEET_")}
        started = time.perf_counter()
        proc = subprocess.run(
            [*TASKFLEET_RUN, "-j", str(args.jobs), "--json", "--quiet", "--retries", "0"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        wall_s = time.perf_counter() - started
    status = json.loads(proc.stdout) if proc.stdout.strip() else {}
    if proc.returncode != 0 or status.get("succeeded") != args.requests:
        raise SystemExit(f"taskfleet run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return {"wall_s": wall_s}


async def _plain_client(args: argparse.Namespace, base_url: str) -> None:
    import httpx

    semaphore = asyncio.Semaphore(args.jobs)
    limits = httpx.Limits(max_connections=args.jobs, max_keepalive_connections=args.jobs)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        async def one(i: int) -> None:
            body = {"model": "m", "messages": [{"role": "user", "content": f"request {i}"}]}
            async with semaphore:
                while True:
                    response = await client.post("/chat/completions", json=body)
                    if response.status_code != 429:
                        response.raise_for_status()
                        return
                    await asyncio.sleep(float(response.headers["retry-after-ms"]) / 1000)

        await asyncio.gather(*(one(i) for i in range(args.requests)))


def run_plain(args: argparse.Namespace, base_url: str) -> dict[str, Any]:
    started = time.perf_counter()
    asyncio.run(_plain_client(args, base_url))
    return {"wall_s": time.perf_counter() - started}


def measure(args: argparse.Namespace, base_url: str, name: str) -> dict[str, Any]:
    root = base_url.removesuffix("/v1")
    _post(f"{root}/reset")
    time.sleep(args.window)  # an empty window for every client
    if name == "plain asyncio + semaphore":
        found = run_plain(args, base_url)
    else:
        found = run_taskfleet(args, base_url, configured=name == "taskfleet, limit configured")
    stats = _get(f"{root}/stats")
    span_s = stats["last_at"] - stats["first_at"]
    allowed_per_s = args.limit / args.window
    # N answers in a span that holds N - 1 gaps: the rate between first and last.
    achieved = (stats["ok"] - 1) / span_s if span_s > 0 else 0.0
    return {
        "client": name,
        "ok": stats["ok"],
        "rejected_429": stats["rejected_429"],
        "share_429": round(stats["rejected_429"] / max(stats["requests"], 1), 4),
        "server_span_s": round(span_s, 3),
        "achieved_per_s": round(achieved, 2),
        "share_of_allowed": round(achieved / allowed_per_s, 4),
        "wall_s": round(found["wall_s"], 3),
    }


def table(report: dict[str, Any]) -> str:
    lines = [
        "| client | answers | 429s | 429 share | achieved/s | share of allowed | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["results"]:
        lines.append(
            f"| {row['client']} | {row['ok']} | {row['rejected_429']} | "
            f"{row['share_429']:.1%} | {row['achieved_per_s']:.2f} | "
            f"{row['share_of_allowed']:.1%} | {row['wall_s']:.2f} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--limit", type=int, default=20, help="requests per window")
    parser.add_argument("--window", type=float, default=1.0, help="seconds")
    parser.add_argument("--latency", type=float, default=0.2, help="server seconds per answer")
    parser.add_argument("--jobs", type=int, default=16, help="concurrency of every client")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server, base_url = start_server(args)
    try:
        clients = [
            "taskfleet, limit configured",
            "taskfleet, adaptive",
            "plain asyncio + semaphore",
        ]
        results = []
        for name in clients:
            print(f"[bench_llm] {name} ...", file=sys.stderr, flush=True)
            results.append(measure(args, base_url, name))
    finally:
        server.kill()
        server.wait()
    by_name = {row["client"]: row for row in results}
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPUs, {platform.system()}, "
        f"Python {platform.python_version()}",
        "params": vars(args),
        "allowed_per_s": args.limit / args.window,
        "results": results,
        "targets": {
            "configured_share_ge_0.90": by_name["taskfleet, limit configured"]["share_of_allowed"]
            >= TARGET_CONFIGURED_SHARE,
            "adaptive_share_ge_0.80": by_name["taskfleet, adaptive"]["share_of_allowed"]
            >= TARGET_ADAPTIVE_SHARE,
            "taskfleet_429_share_lt_0.05": all(
                by_name[name]["share_429"] < TARGET_429_SHARE for name in clients[:2]
            ),
        },
    }
    print(json.dumps(report, indent=2))
    print(table(report), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
