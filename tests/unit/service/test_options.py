"""The one builder of JobOptions: settings, per-submission overrides, and every interface alike."""

from __future__ import annotations

import dataclasses

import pytest

from taskfleet import service
from taskfleet.api import keyword_options
from taskfleet.config.settings import Settings
from taskfleet.model import FailFast, JobOptions
from taskfleet.server.models import JobCreate
from taskfleet.service.submit import JobOverrides, fail_fast_mode, job_options


def test_the_settings_alone_make_the_options(settings: Settings) -> None:
    options = job_options(settings, "/jobs/here")
    assert options == JobOptions(
        concurrency=6,
        retries=3,
        retry_delay_s=0.0,
        timeout_s=9.0,
        fail_fast=FailFast.OFF,
        validate_cmd=None,
        validate_rounds=2,
        profile_limits={"build": 2},
        resource_limits={"gpu": 1},
        cwd="/jobs/here",
        endpoints={"default": {"base_url": "http://127.0.0.1:1", "max_concurrency": 4}},
        cache=False,
    )
    # Copies: a job's options never share a table with the settings.
    assert options.endpoints["default"] is not settings.endpoints["default"]


def test_overrides_win_and_none_keeps_the_setting(settings: Settings) -> None:
    given = JobOverrides(
        concurrency=1,
        retries=0,
        retry_delay_s=2.5,
        timeout_s=None,
        fail_fast=FailFast.NOW,
        validate_cmd="make check",
        validate_rounds=0,
        cache=True,
    )
    options = job_options(settings, "/x", given)
    assert (options.concurrency, options.retries, options.retry_delay_s) == (1, 0, 2.5)
    assert options.timeout_s == 9.0
    assert options.fail_fast is FailFast.NOW
    assert (options.validate_cmd, options.validate_rounds, options.cache) == ("make check", 0, True)


@pytest.mark.parametrize(
    ("value", "mode"),
    [(False, FailFast.OFF), (True, FailFast.GRACEFUL), ("now", FailFast.NOW), ("no", FailFast.OFF)],
)
def test_fail_fast_mode(value: bool | str, mode: FailFast) -> None:
    assert fail_fast_mode(value) is mode


def test_a_rest_body_and_python_keywords_give_the_same_options(settings: Settings) -> None:
    body = JobCreate.model_validate(
        {
            "tasks": [{"duration": 0}],
            "concurrency": 3,
            "retries": 1,
            "retry_delay": 0.5,
            "timeout": 2.0,
            "fail_fast": "now",
            "validate": "true",
            "validate_rounds": 1,
        }
    )
    from_rest = job_options(settings, "/root", body.overrides())
    bare = dataclasses.replace(settings, profiles={}, resources={}, endpoints={})
    _, from_python = keyword_options(
        bare,
        concurrency=3,
        retries=1,
        retry_delay=0.5,
        timeout=2.0,
        fail_fast="now",
        validate="true",
        validate_rounds=1,
        profiles={"build": {"kind": "simulate", "concurrency": 2}, "free": {"kind": "simulate"}},
        resources={"gpu": 1},
        cwd="/root",
        endpoints={"default": {"base_url": "http://127.0.0.1:1", "max_concurrency": 4}},
    )
    assert from_python == from_rest


def test_python_keywords_default_as_they_always_did() -> None:
    base = Settings(db="memory://", concurrency=5)
    settings, options = keyword_options(base, cwd="/w")
    assert settings.lease == 30.0
    assert options == JobOptions(concurrency=5, retries=2, retry_delay_s=1.0, cwd="/w")


def test_profile_limits_are_keyed_as_tasks_name_the_profiles() -> None:
    from taskfleet.config.profiles import Profile

    named_apart = {"fast": Profile("quick", concurrency=2)}
    settings = Settings(db="memory://", concurrency=1, profiles=named_apart)
    assert settings.profile_limits == {"fast": 2}
    assert service.job_options(settings, "/").profile_limits == {"fast": 2}
