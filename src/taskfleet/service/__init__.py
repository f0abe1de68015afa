"""One service surface: what every interface calls, so the interfaces only parse and render.

- ``submit``: the one submit path (job options from settings, validate-and-store);
- ``control``: run a stored job here (run, resume, retry), requeue it for a worker, cancel;
- ``reports``: a job's state and progress, job listings, the store's totals;
- ``job_ids``: a job as people type it (an id, a unique prefix of one, ``last``);
- ``tasks``: reading a job's tasks and their attempts;
- ``results``: the results records and formats;
- ``merge``: the merge point of agent tasks' branches (``git``: its git steps);
- ``worker``: take queued jobs from the store and run them (``worker``, ``serve``);
- ``openai_batches``: the OpenAI Batch API's files and batches.

``worker`` and ``openai_batches`` load the runner and the kinds: import
them by name where needed. May import: ``engine``, ``input``, ``kinds``,
``store``, ``config``, ``limits``, ``model``, ``errors``.
"""

from __future__ import annotations

from taskfleet.service.control import cancel_job, requeue_for_retry, run_job
from taskfleet.service.job_ids import resolve_job_id
from taskfleet.service.merge import MergeReport, merge_job, merge_until_settled
from taskfleet.service.reports import (
    JobReport,
    current_item,
    get_job,
    job_progress,
    job_report,
    list_reports,
    list_reports_in_states,
    list_reports_page,
    progress_block,
    report_progress,
    store_stats,
    usage_dict,
)
from taskfleet.service.submit import (
    JobOverrides,
    TaskRules,
    fail_fast_mode,
    job_options,
    new_job_id,
    submit,
)
from taskfleet.service.tasks import failed_record, iter_tasks, task_changes, task_detail

__all__ = [
    "JobOverrides",
    "JobReport",
    "MergeReport",
    "TaskRules",
    "cancel_job",
    "current_item",
    "fail_fast_mode",
    "failed_record",
    "get_job",
    "iter_tasks",
    "job_options",
    "job_progress",
    "job_report",
    "list_reports",
    "list_reports_in_states",
    "list_reports_page",
    "merge_job",
    "merge_until_settled",
    "new_job_id",
    "progress_block",
    "report_progress",
    "requeue_for_retry",
    "resolve_job_id",
    "run_job",
    "store_stats",
    "submit",
    "task_changes",
    "task_detail",
    "usage_dict",
]
