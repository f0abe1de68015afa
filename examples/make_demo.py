"""Print a demo batch (JSONL): simulated work, shell commands, retries, a dependency chain."""

import json

tasks = []
for i in range(1, 201):
    task = {
        "id": f"sim-{i:03d}",
        "duration": 0.02 + (i % 7) * 0.01,
        "description": "simulated work",
    }
    if i % 25 == 0:
        task["fail_times"] = 1  # fails once, then succeeds on its retry
    if i % 97 == 0:
        task["fail_rate"] = 1.0  # always fails: shows up in `taskfleet failed`
        task["retries"] = 1
    tasks.append(task)
tasks.append({"id": "build", "command": "echo building && sleep 0.2", "priority": "high"})
tasks.append({"id": "test", "command": "echo testing", "depends_on": ["build"]})
tasks.append({"id": "report", "command": ["echo", "report ready"], "depends_on": ["test"]})
for task in tasks:
    print(json.dumps(task))
