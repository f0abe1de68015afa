"""The one submit path: every source form, the rules of TaskRules, nothing stored if bad."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskfleet import service
from taskfleet.config.settings import Settings
from taskfleet.errors import TaskfileError, TaskfileIssue, UsageError
from taskfleet.kinds import Kind, get_kind
from taskfleet.model import JobStatus, TaskSpec
from taskfleet.service.submit import TaskRules, job_options, submit
from taskfleet.store.memory.store import MemoryStore


async def test_objects_are_stored_queued_with_their_options(
    store: MemoryStore, settings: Settings
) -> None:
    options = job_options(settings, "/w")
    job = await submit(
        store,
        [{"id": "a", "duration": 0}, {"id": "b", "profile": "build", "depends_on": ["a"]}],
        options,
        TaskRules(profiles=settings.profiles),
        job_id="j",
        name="first",
        metadata={"origin": "test"},
    )
    assert (job.job_id, job.name, job.status, job.total) == ("j", "first", JobStatus.QUEUED, 2)
    stored = await store.get_job("j")
    assert stored.options == options
    assert stored.metadata == {"origin": "test"}
    task = await store.get_task("j", "b")
    assert (task.kind, task.profile, task.depends_on) == ("simulate", "build", ("a",))


async def test_not_queued_is_kept_from_workers(store: MemoryStore, settings: Settings) -> None:
    job = await submit(store, [{"duration": 0}], job_options(settings, "/w"), queued=False)
    assert job.status is JobStatus.INTERRUPTED
    assert job.job_id.startswith("job-")


async def test_a_file_and_a_stream_are_sources_too(
    store: MemoryStore, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text('{"id": "f", "duration": 0}\n')
    options = job_options(settings, "/w")
    from_file = await submit(store, str(path), options, job_id="file")
    stream = io.StringIO('{"id": "s", "duration": 0}\n{"id": "t", "duration": 0}\n')
    from_stream = await submit(store, stream, options, job_id="stream")
    assert (from_file.total, from_stream.total) == (1, 2)


async def test_bad_input_stores_nothing_and_names_the_source(
    store: MemoryStore, settings: Settings
) -> None:
    with pytest.raises(TaskfileError) as caught:
        await submit(
            store,
            [{"id": "a", "duration": 0}, {"id": "b", "kind": "nope"}],
            job_options(settings, "/w"),
            source_name="<body>",
        )
    issue = caught.value.issues[0]
    assert (issue.source, issue.line, issue.field) == ("<body>", 2, "kind")
    assert await store.list_jobs() == []


async def test_profiles_resolve_only_when_given(store: MemoryStore, settings: Settings) -> None:
    options = job_options(settings, "/w")
    with pytest.raises(TaskfileError, match="unknown profile"):
        await submit(store, [{"profile": "build", "duration": 0}], options)
    job = await submit(
        store, [{"profile": "build", "duration": 0}], options, TaskRules(settings.profiles)
    )
    assert job.total == 1


async def test_resources_must_be_configured_unless_the_rules_say_otherwise(
    store: MemoryStore, settings: Settings
) -> None:
    options = job_options(settings, "/w")
    task = {"duration": 0, "resources": ["tpu"]}
    with pytest.raises(TaskfileError, match="unknown resource 'tpu'"):
        await submit(store, [task], options)
    job = await submit(store, [task], options, TaskRules(known_resources_only=False))
    assert job.total == 1


async def test_the_rules_choose_the_kinds(store: MemoryStore, settings: Settings) -> None:
    def simulate_only(name: str) -> Kind:
        if name != "simulate":
            raise UsageError(f"kind '{name}' is turned off here")
        return get_kind(name)

    options = job_options(settings, "/w")
    with pytest.raises(TaskfileError, match="turned off here"):
        await submit(store, [{"command": "true"}], options, TaskRules(kinds=simulate_only))
    assert await store.list_jobs() == []


async def test_a_last_check_sees_every_task_and_may_refuse(
    store: MemoryStore, settings: Settings
) -> None:
    seen: list[str] = []

    def no_b(tasks: Iterator[TaskSpec]) -> Iterator[TaskSpec]:
        for task in tasks:
            seen.append(task.id)
            if task.id == "b":
                raise TaskfileError([TaskfileIssue("<x>", task.seq, "id", "no b")])
            yield task

    tasks = [{"id": "a", "duration": 0}, {"id": "b", "duration": 0}]
    with pytest.raises(TaskfileError, match="no b"):
        await submit(store, tasks, job_options(settings, "/w"), TaskRules(last_check=no_b))
    assert seen == ["a", "b"]
    assert await store.list_jobs() == []


def test_the_package_exports_the_submit_path() -> None:
    assert service.submit is submit
    assert set(service.__all__) >= {"submit", "job_options", "JobOverrides", "TaskRules"}
    for name in service.__all__:
        assert getattr(service, name) is not None
