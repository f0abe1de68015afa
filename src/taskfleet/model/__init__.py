"""Plain data: tasks, jobs, attempts, outcomes and their state machines.

No I/O and no clock here. Times are POSIX seconds (floats) inside taskfleet
and are rendered as ISO 8601 UTC only at the interfaces. Everything is
imported from ``taskfleet.model``; the modules split it by concept:
``states`` (the statuses and THE transition tables every store checks its
changes against), ``task`` (a task as parsed and as stored, its attempts,
a kind's outcome), ``job`` (a job, its options and runner, its counts),
``updates`` (the runner's group-commit writes and the store's change log).
May import: ``errors``.

A task has two names, each with one meaning everywhere in the code:

- ``id``: the user's name for the task (a string), unique in its job. It is
  what every interface shows and takes, what ``depends_on`` lists, and what
  records that point at a task call ``task_id`` (``Attempt``, ``TaskChange``,
  the ``task_id`` columns).
- ``seq``: its 1-based position in input order (an int), the key the engine
  and the stores use inside a job (claims, the window, group commits,
  ``list_tasks`` paging) and the tie-breaker of equal priorities. Users
  never see it.
"""

from taskfleet.model.job import (
    WORKER_CLAIMABLE_JOB_STATES,
    WORKER_RUNNER_PREFIX,
    FailFast,
    Job,
    JobOptions,
    RunMode,
    RunnerInfo,
    StatusCounts,
    StoredFile,
)
from taskfleet.model.states import (
    FINAL_TASK_STATES,
    JOB_TRANSITIONS,
    SELECTIVE_RETRY_TASK_STATES,
    TASK_CREATION_STATES,
    TASK_TRANSITIONS,
    JobStatus,
    TaskStatus,
    attempt_may_end,
    check_attempt_end,
    check_job_transition,
    check_task_transition,
    job_may_change,
    task_may_change,
    task_status_at_creation,
)
from taskfleet.model.task import (
    DEFAULT_PRIORITY,
    PRIORITY_NAMES,
    RESPONSE_META,
    Attempt,
    AttemptOutcome,
    ErrorClass,
    Outcome,
    Task,
    TaskSpec,
)
from taskfleet.model.updates import (
    AttemptFinished,
    AttemptStarted,
    TaskChange,
    TaskUpdate,
    check_task_changes,
)

__all__ = [
    "DEFAULT_PRIORITY",
    "FINAL_TASK_STATES",
    "JOB_TRANSITIONS",
    "PRIORITY_NAMES",
    "RESPONSE_META",
    "SELECTIVE_RETRY_TASK_STATES",
    "TASK_CREATION_STATES",
    "TASK_TRANSITIONS",
    "WORKER_CLAIMABLE_JOB_STATES",
    "WORKER_RUNNER_PREFIX",
    "Attempt",
    "AttemptFinished",
    "AttemptOutcome",
    "AttemptStarted",
    "ErrorClass",
    "FailFast",
    "Job",
    "JobOptions",
    "JobStatus",
    "Outcome",
    "RunMode",
    "RunnerInfo",
    "StatusCounts",
    "StoredFile",
    "Task",
    "TaskChange",
    "TaskSpec",
    "TaskStatus",
    "TaskUpdate",
    "attempt_may_end",
    "check_attempt_end",
    "check_job_transition",
    "check_task_changes",
    "check_task_transition",
    "job_may_change",
    "task_may_change",
    "task_status_at_creation",
]
