"""config: settings precedence, the config files, validation and `taskfleet config` rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from taskfleet.config.db_url import mask_password, normalize_db_url
from taskfleet.config.profiles import Profile, parse_template
from taskfleet.config.settings import Settings, describe, load_settings
from taskfleet.errors import ConfigError, UsageError


def load(cwd: Path, env: dict[str, str] | None = None, **flags: Any) -> Settings:
    return load_settings(cwd, env or {}, flags)


def toml(cwd: Path, text: str, name: str = "taskfleet.toml") -> Path:
    path = cwd / name
    path.write_text(text, encoding="utf-8")
    return path


def rows(settings: Settings) -> dict[str, tuple[str, str]]:
    return {key: (value, source) for key, value, source in describe(settings)}


# -- defaults and precedence ----------------------------------------------------------


def test_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings.db == f"sqlite:///{tmp_path}/.taskfleet/taskfleet.db"
    assert settings.db.startswith("sqlite:////")
    assert settings.concurrency == (os.cpu_count() or 1)
    assert (settings.retries, settings.retry_delay, settings.timeout) == (2, 1.0, None)
    assert (settings.log_level, settings.api_token, settings.lease) == ("warning", None, 30.0)
    assert (settings.profiles, settings.resources, settings.endpoints) == ({}, {}, {})
    assert settings.config_file is None
    assert set(settings.sources.values()) == {"default"}


def test_flag_beats_env_beats_file_beats_default(tmp_path: Path) -> None:
    toml(tmp_path, "retries = 3\nconcurrency = 4\ntimeout = 9\n")
    env = {"TASKFLEET_RETRIES": "5", "TASKFLEET_CONCURRENCY": "6"}
    settings = load(tmp_path, env, retries=7, timeout=None)
    assert (settings.retries, settings.concurrency, settings.timeout) == (7, 6, 9.0)
    assert rows(settings)["retries"] == ("7", "flag")
    assert rows(settings)["concurrency"] == ("6", "env TASKFLEET_CONCURRENCY")
    assert rows(settings)["timeout"] == ("9.0", "taskfleet.toml")
    assert rows(settings)["log_level"] == ("warning", "default")

    settings = load(tmp_path, env)
    assert (settings.retries, settings.sources["retries"]) == (5, "env TASKFLEET_RETRIES")
    settings = load(tmp_path)
    assert (settings.retries, settings.sources["retries"]) == (3, "taskfleet.toml")
    (tmp_path / "taskfleet.toml").unlink()
    settings = load(tmp_path)
    assert (settings.retries, settings.sources["retries"]) == (2, "default")


def test_every_documented_env_var(tmp_path: Path) -> None:
    env = {
        "TASKFLEET_DB": "postgresql://u@h/db",
        "TASKFLEET_CONCURRENCY": "3",
        "TASKFLEET_RETRIES": "0",
        "TASKFLEET_TIMEOUT": "2.5",
        "TASKFLEET_LOG_LEVEL": "DEBUG",
        "TASKFLEET_API_TOKEN": "s3cret",
    }
    settings = load(tmp_path, env)
    assert settings.db == "postgresql://u@h/db"
    assert (settings.concurrency, settings.retries, settings.timeout) == (3, 0, 2.5)
    assert (settings.log_level, settings.api_token) == ("debug", "s3cret")
    for key, var in [("db", "TASKFLEET_DB"), ("api_token", "TASKFLEET_API_TOKEN")]:
        assert settings.sources[key] == f"env {var}"


def test_empty_env_values_count_as_unset(tmp_path: Path) -> None:
    settings = load(tmp_path, {"TASKFLEET_TIMEOUT": "", "TASKFLEET_RETRIES": "  "})
    assert (settings.timeout, settings.retries) == (None, 2)


def test_string_flags_are_read_like_env_values(tmp_path: Path) -> None:
    assert load(tmp_path, concurrency="8").concurrency == 8


def test_unknown_flag_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="concurency"):
        load(tmp_path, concurency=3)


def test_describe_masks_secrets(tmp_path: Path) -> None:
    toml(
        tmp_path,
        '[endpoints.openai]\nbase_url = "https://x"\napi_key_env = "K"\n'
        '[profiles.p]\napi_key = "sk-1"\n',
    )
    settings = load(tmp_path, {"TASKFLEET_API_TOKEN": "s3cret"})
    table = rows(settings)
    assert table["api_token"] == ("***", "env TASKFLEET_API_TOKEN")
    assert table["endpoints.openai"] == (
        'base_url="https://x", api_key_env="K"',
        "taskfleet.toml",
    )
    assert "s3cret" not in str(describe(settings)) and "sk-1" not in str(describe(settings))


def test_describe_lists_every_scalar_in_order(tmp_path: Path) -> None:
    keys = [key for key, _, _ in describe(load(tmp_path))]
    assert keys == [
        "db",
        "concurrency",
        "retries",
        "retry_delay",
        "timeout",
        "log_level",
        "api_token",
        "lease",
    ]
    assert rows(load(tmp_path))["timeout"] == ("none", "default")


# -- the database URL --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("runs.db", "sqlite:////work/runs.db"),
        ("./data/../runs.db", "sqlite:////work/runs.db"),
        ("/var/tf.db", "sqlite:////var/tf.db"),
        ("sqlite:///rel/tf.db", "sqlite:////work/rel/tf.db"),
        ("sqlite:////abs/tf.db", "sqlite:////abs/tf.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql://u:p@host:5432/db", "postgresql://u:p@host:5432/db"),
        ("postgresql+psycopg://host/db", "postgresql+psycopg://host/db"),
        ("memory://", "memory://"),
    ],
)
def test_normalize_db_url(value: str, expected: str) -> None:
    assert normalize_db_url(value, Path("/work")) == expected


def test_normalize_db_url_expands_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/me")
    assert normalize_db_url("~/tf.db", Path("/work")) == "sqlite:////home/me/tf.db"


@pytest.mark.parametrize("value", ["", "  ", "mysql://h/db", "sqlite://", "~no-such-user-x/a.db"])
def test_normalize_db_url_rejects(value: str) -> None:
    with pytest.raises(ConfigError):
        normalize_db_url(value, Path("/work"))


@pytest.mark.parametrize(
    ("value", "store_class"),
    [
        ("runs.db", "SqliteStore"),
        ("sqlite:///rel/tf.db", "SqliteStore"),
        ("sqlite:///:memory:", "SqliteStore"),
        ("memory://", "MemoryStore"),
    ],
)
def test_open_store_takes_what_the_normaliser_makes(value: str, store_class: str) -> None:
    from taskfleet.store import open_store

    store = open_store(normalize_db_url(value, Path("/work")))  # made, not opened
    assert type(store).__name__ == store_class


@pytest.mark.parametrize("value", ["runs.db", "memory:", "sqlite://", "sqlite:///", "mysql://h/db"])
def test_open_store_refuses_what_was_not_normalised(value: str) -> None:
    from taskfleet.store import open_store

    with pytest.raises(UsageError, match="bad store URL"):
        open_store(value)


def test_db_from_any_source_resolves_against_cwd(tmp_path: Path) -> None:
    assert load(tmp_path, db="x.db").db == f"sqlite:///{tmp_path}/x.db"
    assert load(tmp_path, {"TASKFLEET_DB": "y.db"}).db == f"sqlite:///{tmp_path}/y.db"
    toml(tmp_path, 'db = "z.db"\n')
    assert load(tmp_path).db == f"sqlite:///{tmp_path}/z.db"


def test_bad_db_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"TASKFLEET_DB.*mysql"):
        load(tmp_path, {"TASKFLEET_DB": "mysql://h/db"})


# -- validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("concurrency = 0", "concurrency: expected an integer ≥ 1, got 0"),
        ('concurrency = "8"', 'concurrency: expected an integer ≥ 1, got "8"'),
        ("concurrency = true", "concurrency: expected an integer ≥ 1, got true"),
        ("retries = -1", "retries: expected an integer ≥ 0"),
        ("retries = 1.5", "retries: expected an integer ≥ 0"),
        ("timeout = 0", "timeout: expected a number of seconds > 0"),
        ("retry_delay = -0.5", "retry_delay: expected a number of seconds ≥ 0"),
        ('log_level = "loud"', "log_level: expected one of debug, info"),
        ("lease = 0", "lease: expected a number of seconds > 0"),
        ('api_token = ""', "api_token: expected a non-empty string"),
        ("db = 5", "db: expected a database URL or path"),
    ],
)
def test_bad_file_values_name_file_and_key(tmp_path: Path, text: str, match: str) -> None:
    path = toml(tmp_path, text + "\n")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    assert str(caught.value).startswith(f"{path}: ")
    assert match in str(caught.value)


@pytest.mark.parametrize(
    ("var", "value", "match"),
    [
        ("TASKFLEET_CONCURRENCY", "abc", 'expected an integer ≥ 1, got "abc"'),
        ("TASKFLEET_CONCURRENCY", "2.5", "expected an integer ≥ 1, got 2.5"),
        ("TASKFLEET_RETRIES", "-2", "expected an integer ≥ 0, got -2"),
        ("TASKFLEET_TIMEOUT", "0", "expected a number of seconds > 0, got 0"),
        ("TASKFLEET_TIMEOUT", "nan", "expected a number of seconds > 0"),
        ("TASKFLEET_LOG_LEVEL", "chatty", "expected one of"),
    ],
)
def test_bad_env_values_name_the_variable(tmp_path: Path, var: str, value: str, match: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, {var: value})
    assert str(caught.value).startswith(f"environment variable {var}: ")
    assert match in str(caught.value)


def test_bad_flag_values_name_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--retry-delay: expected a number"):
        load(tmp_path, retry_delay=-1)
    with pytest.raises(ConfigError, match=r"^--concurrency: "):
        load(tmp_path, concurrency=0)


def test_config_errors_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        load(tmp_path, concurrency=0)


def test_bad_toml_names_file_line_and_column(tmp_path: Path) -> None:
    path = toml(tmp_path, "retries = 2\nconcurrency = = 3\n")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{path}: invalid TOML: ")
    assert "line 2" in message and "column" in message


def test_unknown_top_level_keys_are_listed(tmp_path: Path) -> None:
    path = toml(tmp_path, "concurency = 3\nretires = 1\nretries = 1\n")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{path}: unknown key(s) concurency, retires (known: ")


def test_unreadable_config_file(tmp_path: Path) -> None:
    (tmp_path / "taskfleet.toml").mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path)


# -- pyproject.toml ------------------------------------------------------------------


def test_pyproject_is_used_without_taskfleet_toml(tmp_path: Path) -> None:
    toml(tmp_path, '[project]\nname = "x"\n[tool.taskfleet]\nretries = 4\n', "pyproject.toml")
    settings = load(tmp_path)
    assert (settings.retries, settings.sources["retries"]) == (4, "pyproject.toml")
    assert settings.config_file == tmp_path / "pyproject.toml"


def test_taskfleet_toml_wins_over_pyproject(tmp_path: Path) -> None:
    toml(tmp_path, "[tool.taskfleet]\nretries = 4\nconcurrency = 9\n", "pyproject.toml")
    toml(tmp_path, "retries = 1\n")
    settings = load(tmp_path)
    assert (settings.retries, settings.sources["retries"]) == (1, "taskfleet.toml")
    # the files are not merged: pyproject.toml is not read at all
    assert settings.sources["concurrency"] == "default"


def test_pyproject_without_our_table(tmp_path: Path) -> None:
    toml(tmp_path, '[tool.other]\nx = "taskfleet"\n', "pyproject.toml")
    assert set(load(tmp_path).sources.values()) == {"default"}


def test_broken_pyproject_that_does_not_mention_us_is_ignored(tmp_path: Path) -> None:
    toml(tmp_path, "[project\n", "pyproject.toml")
    assert load(tmp_path).retries == 2


def test_pyproject_errors_name_the_table(tmp_path: Path) -> None:
    toml(tmp_path, "[tool.taskfleet]\nretries = -1\n", "pyproject.toml")
    with pytest.raises(ConfigError, match=r"pyproject.toml \[tool.taskfleet\]: retries"):
        load(tmp_path)


def test_broken_pyproject_with_our_table(tmp_path: Path) -> None:
    toml(tmp_path, "[tool.taskfleet]\nretries = \n", "pyproject.toml")
    with pytest.raises(ConfigError, match=r"pyproject\.toml: invalid TOML"):
        load(tmp_path)


# -- tables ------------------------------------------------------------------------------

EXAMPLE = """
concurrency = 8
retries = 2

[profiles.builder]
kind = "shell"
command = "opencode run --agent builder {prompt}"
concurrency = 3
cwd = "/work"
env = { A = "1" }
timeout = 600

[profiles.plain]
command = "make test"
echo = "{{not a placeholder}}"

[resources]
gpu = 1
"api:openai" = 4

[endpoints.local]
base_url = "http://127.0.0.1:11434/v1"
api_key_env = "OLLAMA_API_KEY"
requests_per_minute = 600
tokens_per_minute = 200000
max_concurrency = 16
"""


def test_the_spec_example(tmp_path: Path) -> None:
    toml(tmp_path, EXAMPLE)
    settings = load(tmp_path)
    assert settings.profiles["builder"] == Profile(
        name="builder",
        kind="shell",
        template={"command": "opencode run --agent builder {prompt}"},
        defaults={"cwd": "/work", "env": {"A": "1"}, "timeout": 600},
        concurrency=3,
    )
    plain = settings.profiles["plain"]
    assert plain.kind is None and plain.concurrency is None
    assert plain.defaults == {"command": "make test"}
    assert plain.template == {"echo": "{{not a placeholder}}"}
    assert settings.resources == {"gpu": 1, "api:openai": 4}
    assert settings.endpoints["local"]["requests_per_minute"] == 600
    assert settings.profile_limits == {"builder": 3}
    table = rows(settings)
    assert table["resources.gpu"] == ("1", "taskfleet.toml")
    assert table["profiles.builder"][0].startswith('kind="shell", concurrency=3, command=')
    assert settings.sources["profiles"] == "taskfleet.toml"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[profiles.b]\nconcurrency = 0\n", "profiles.b.concurrency: expected an integer ≥ 1"),
        ("[profiles.b]\nkind = 3\n", "profiles.b.kind: expected a string"),
        ('[profiles.b]\ncommand = "run {prompt"\n', "profiles.b.command: "),
        ('[profiles.b]\ncommand = "run {p!r}"\n', "must be a plain field name"),
        ('[profiles.b]\ncommand = "run {}"\n', "must be a plain field name"),
        ('[profiles.b]\ncommand = "run {a.b}"\n', "must be a plain field name"),
        ('[profiles.b]\nid = "x"\n', "a profile cannot set 'id'"),
        ("profiles = 3\n", "[profiles] must be a table"),
        ("[profiles]\nb = 3\n", "profiles.b must be a table"),
        ("[resources]\ngpu = 0\n", "resources.gpu: expected an integer ≥ 1, got 0"),
        ('[resources]\ngpu = "one"\n', "resources.gpu: expected an integer ≥ 1"),
        ("[endpoints]\nlocal = 3\n", "endpoints.local must be a table"),
        ("[endpoints.l]\nrpm = 3\n", "endpoints.l.rpm: unknown key"),
        ('[endpoints.l]\nrequests_per_minute = "9"\n', "endpoints.l.requests_per_minute: "),
        ("[endpoints.l]\nmax_concurrency = 1.5\n", "endpoints.l.max_concurrency: expected an"),
        ('[endpoints.l]\nbase_url = "ftp://x"\n', "endpoints.l.base_url: expected an http"),
        ('[endpoints.l]\napi_key = "sk-1"\n', "endpoints.l.api_key: secrets do not go"),
        ("[endpoints.l]\nheaders = {a = 1}\n", "endpoints.l.headers: expected a table"),
        ("[endpoints.l]\ninput_cost_per_million = -1\n", "input_cost_per_million: expected"),
    ],
)
def test_bad_tables(tmp_path: Path, text: str, match: str) -> None:
    path = toml(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    assert str(caught.value).startswith(f"{path}: ")
    assert match in str(caught.value)


def test_parse_template() -> None:
    assert parse_template("run {prompt} {{x}}") == [("run ", "prompt"), (" {", None), ("x}", None)]
    with pytest.raises(ValueError):
        parse_template("run {")


def test_import_is_cheap() -> None:
    code = (
        "import sys, taskfleet.config.settings; "
        "print('rich' in sys.modules, 'click' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


def test_config_masks_a_password_in_the_store_url(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {"TASKFLEET_DB": "postgresql://tf:s3cret@db:5432/tf"}, {})
    rows = {key: text for key, text, _ in describe(settings)}
    assert rows["db"] == "postgresql://tf:***@db:5432/tf"
    assert mask_password("sqlite:///x.db") == "sqlite:///x.db"
    assert mask_password("postgresql://tf@db/tf") == "postgresql://tf@db/tf"
