"""Run one attempt of a task through its kind, turning every ending into an Outcome."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Mapping
from typing import Any

from taskfleet.engine.retry import outcome_from_error
from taskfleet.errors import TaskError
from taskfleet.kinds.base import Kind, RunContext
from taskfleet.model import ErrorClass, Outcome


async def run_attempt(
    kind: Kind, spec: Mapping[str, Any], ctx: RunContext, timeout_s: float | None
) -> Outcome | None:
    """Run the kind once; None means the runner cancelled the attempt.

    A timeout cancels the kind's coroutine, which kills what it started
    (a shell task's whole process group), and counts as a retryable failure.
    """
    try:
        if timeout_s is None:
            return await kind.run(spec, ctx)
        return await asyncio.wait_for(kind.run(spec, ctx), timeout_s)
    except TimeoutError:
        return Outcome.failure(f"timed out after {timeout_s:g}s", error_class=ErrorClass.RETRYABLE)
    except asyncio.CancelledError:
        return None
    except TaskError as exc:
        return outcome_from_error(exc)
    except Exception as exc:
        text = "".join(traceback.format_exception(exc)).rstrip()
        return Outcome.failure(text, error_class=ErrorClass.RETRYABLE)
