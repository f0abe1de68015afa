"""Settings and where each value came from.

Precedence: command-line flag > environment variable > ``taskfleet.toml`` in
the working directory (or ``[tool.taskfleet]`` in ``pyproject.toml`` there,
read only when ``taskfleet.toml`` is absent) > default. One :class:`Settings`
is built once by an interface and passed down; only interfaces hand
``os.environ`` to :func:`load_settings`.

Importing this module must stay cheap (every CLI call pays for it): stdlib only.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskfleet.config.db_url import mask_password, normalize_db_url
from taskfleet.config.endpoints import check_endpoint_table
from taskfleet.config.profiles import Profile, parse_profile, show_value
from taskfleet.errors import ConfigError

__all__ = [
    "DEFAULT_DB",
    "Settings",
    "describe",
    "load_settings",
]

DEFAULT_DB = "sqlite:///.taskfleet/taskfleet.db"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_TABLES = ("profiles", "resources", "endpoints", "agents")
_AGENT_KEYS = ("copy_files", "setup_command")
_SECRET_WORDS = ("token", "secret", "password", "api_key")


@dataclass(frozen=True)
class Settings:
    """The effective configuration; ``sources`` says where each key came from."""

    db: str
    concurrency: int
    retries: int = 2
    # Durations are seconds; the names match the keys users write (and the flags).
    retry_delay: float = 1.0
    timeout: float | None = None
    log_level: str = "warning"
    api_token: str | None = None
    lease: float = 30.0
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    resources: Mapping[str, int] = field(default_factory=dict)
    endpoints: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    # [agents]: copy_files (copied into each agent worktree), setup_command (run there first).
    agents: Mapping[str, Any] = field(default_factory=dict)
    config_file: Path | None = None
    # key (as written in taskfleet.toml) -> "flag", "env TASKFLEET_X",
    # "taskfleet.toml", "pyproject.toml" or "default"
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def profile_limits(self) -> dict[str, int]:
        """Concurrency limit of each profile that has one (for JobOptions).

        Keyed as tasks name the profiles: by the mapping's key, which the
        Python API's ``profiles=`` may choose apart from ``Profile.name``.
        """
        return {name: p.concurrency for name, p in self.profiles.items() if p.concurrency}


# -- scalar settings --------------------------------------------------------


def _int_at_least(minimum: int) -> Callable[[Any, Path], int]:
    def check(value: Any, cwd: Path) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"expected an integer ≥ {minimum}, got {show_value(value)}")
        return value

    return check


def _seconds(*, allow_zero: bool) -> Callable[[Any, Path], float]:
    bound = "≥ 0" if allow_zero else "> 0"

    def check(value: Any, cwd: Path) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and math.isfinite(value) and (value > 0 or (allow_zero and value == 0)):
            return float(value)
        raise ValueError(f"expected a number of seconds {bound}, got {show_value(value)}")

    return check


def _log_level(value: Any, cwd: Path) -> str:
    if isinstance(value, str) and value.lower() in LOG_LEVELS:
        return value.lower()
    raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {show_value(value)}")


def _token(value: Any, cwd: Path) -> str:
    if isinstance(value, str) and value:
        return value
    raise ValueError("expected a non-empty string")


def _db(value: Any, cwd: Path) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a database URL or path, got {show_value(value)}")
    try:
        return normalize_db_url(value, cwd)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def _number_from_text(text: str) -> object:
    # Left as text when it is no number, so the check reports "got 'abc'".
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _same_text(text: str) -> object:
    return text


@dataclass(frozen=True, slots=True)
class _Scalar:
    key: str  # the Settings field, as written in taskfleet.toml and in flags
    env: str | None
    check: Callable[[Any, Path], Any]
    from_text: Callable[[str], object]
    default: Any = None  # db and concurrency depend on the machine: see _default


_SCALARS = (
    _Scalar("db", "TASKFLEET_DB", _db, _same_text),
    _Scalar("concurrency", "TASKFLEET_CONCURRENCY", _int_at_least(1), _number_from_text),
    _Scalar("retries", "TASKFLEET_RETRIES", _int_at_least(0), _number_from_text, 2),
    _Scalar("retry_delay", None, _seconds(allow_zero=True), _number_from_text, 1.0),
    _Scalar("timeout", "TASKFLEET_TIMEOUT", _seconds(allow_zero=False), _number_from_text),
    _Scalar("log_level", "TASKFLEET_LOG_LEVEL", _log_level, _same_text, "warning"),
    _Scalar("api_token", "TASKFLEET_API_TOKEN", _token, _same_text),
    _Scalar("lease", None, _seconds(allow_zero=False), _number_from_text, 30.0),
)
_SCALAR_KEYS = frozenset(s.key for s in _SCALARS)
_KNOWN_KEYS = _SCALAR_KEYS | set(_TABLES)


def _default(scalar: _Scalar, cwd: Path) -> Any:
    if scalar.key == "db":
        return normalize_db_url(DEFAULT_DB, cwd)
    if scalar.key == "concurrency":
        return os.cpu_count() or 1
    return scalar.default


# -- the configuration file --------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _find_file_config(cwd: Path) -> tuple[dict[str, Any], Path | None, str]:
    """The file settings, the file they came from and its source label."""
    toml_path = cwd / "taskfleet.toml"
    if toml_path.exists():
        return _read_toml(toml_path), toml_path, "taskfleet.toml"
    pyproject = cwd / "pyproject.toml"
    try:
        raw = pyproject.read_bytes()
    except OSError:
        return {}, None, "default"
    # Skip parsing (and failing on) a pyproject.toml that cannot hold our table.
    if b"taskfleet" not in raw:
        return {}, None, "default"
    tool = _read_toml(pyproject).get("tool")
    table = tool.get("taskfleet") if isinstance(tool, dict) else None
    if table is None:
        return {}, None, "default"
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.taskfleet] must be a table")
    return table, pyproject, "pyproject.toml"


def _parse_tables(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """profiles, resources and endpoints from a file's settings."""
    for table in _TABLES:
        if not isinstance(data.get(table, {}), dict):
            raise ConfigError(f"{where}: [{table}] must be a table")
    profiles = {
        name: parse_profile(name, table, where) for name, table in data.get("profiles", {}).items()
    }
    resources: dict[str, int] = {}
    for key, limit in data.get("resources", {}).items():
        try:
            resources[key] = _int_at_least(1)(limit, Path())
        except ValueError as exc:
            raise ConfigError(f"{where}: resources.{key}: {exc}") from None
    endpoints = {
        name: check_endpoint_table(name, table, where)
        for name, table in data.get("endpoints", {}).items()
    }
    return {
        "profiles": profiles,
        "resources": resources,
        "endpoints": endpoints,
        "agents": _agents_table(data.get("agents", {}), where),
    }


def _agents_table(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The checked ``[agents]`` table."""
    unknown = sorted(set(table) - set(_AGENT_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: agents: unknown key(s) {', '.join(unknown)} "
            f"(known: {', '.join(_AGENT_KEYS)})"
        )
    agents: dict[str, Any] = {}
    files = table.get("copy_files")
    if files is not None:
        if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
            raise ConfigError(
                f"{where}: agents.copy_files: expected a list of paths, got {show_value(files)}"
            )
        if any(Path(f).is_absolute() or ".." in Path(f).parts for f in files):
            raise ConfigError(f"{where}: agents.copy_files: paths must stay inside the repository")
        agents["copy_files"] = list(files)
    setup = table.get("setup_command")
    if setup is not None:
        if not isinstance(setup, str) or not setup.strip():
            raise ConfigError(
                f"{where}: agents.setup_command: expected a command, got {show_value(setup)}"
            )
        agents["setup_command"] = setup
    return agents


# -- putting it together -----------------------------------------------------


def _flag_name(key: str) -> str:
    return "--" + key.replace("_", "-")


def _resolve(
    scalar: _Scalar,
    cwd: Path,
    env: Mapping[str, str],
    flags: Mapping[str, Any],
    file_data: Mapping[str, Any],
    file_where: tuple[str, str],
) -> tuple[Any, str]:
    """The value of one scalar setting and its source, checked."""
    flag = flags.get(scalar.key)
    env_text = env.get(scalar.env, "") if scalar.env else ""
    if flag is not None:
        value = scalar.from_text(flag) if isinstance(flag, str) else flag
        where, source = _flag_name(scalar.key), "flag"
    elif env_text.strip():
        value = scalar.from_text(env_text.strip())
        where, source = f"environment variable {scalar.env}", f"env {scalar.env}"
    elif scalar.key in file_data:
        value = file_data[scalar.key]
        where, source = f"{file_where[0]}: {scalar.key}", file_where[1]
    else:
        return _default(scalar, cwd), "default"
    try:
        return scalar.check(value, cwd), source
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_settings(cwd: Path, env: Mapping[str, str], flags: Mapping[str, Any]) -> Settings:
    """Build the settings from flags, environment, config file and defaults.

    ``flags`` maps setting keys (``db``, ``concurrency``, ``retries``,
    ``retry_delay``, ``timeout``, ``log_level``, ``api_token``, ``lease``) to
    values; None means "not given". Raises ConfigError naming the bad source.
    """
    unknown_flags = set(flags) - _SCALAR_KEYS
    if unknown_flags:
        raise TypeError(f"unknown setting(s) in flags: {', '.join(sorted(unknown_flags))}")
    data, config_file, file_source = _find_file_config(cwd)
    where = str(config_file)
    if file_source == "pyproject.toml":
        where += " [tool.taskfleet]"
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(_KNOWN_KEYS))})"
        )
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for scalar in _SCALARS:
        values[scalar.key], sources[scalar.key] = _resolve(
            scalar, cwd, env, flags, data, (where, file_source)
        )
    values.update(_parse_tables(data, where))
    for table in _TABLES:
        sources[table] = file_source if data.get(table) else "default"
    return Settings(**values, config_file=config_file, sources=sources)


def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return not lowered.endswith("_env") and any(word in lowered for word in _SECRET_WORDS)


def _table_text(table: Mapping[str, Any]) -> str:
    shown = ("***" if _is_secret(k) else show_value(v) for k, v in table.items())
    return ", ".join(f"{k}={text}" for k, text in zip(table, shown, strict=True))


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """Rows of (key, value as text, source) for `taskfleet config`; secrets masked."""
    rows: list[tuple[str, str, str]] = []
    for scalar in _SCALARS:
        value = getattr(settings, scalar.key)
        if value is None:
            text = "none"
        elif scalar.key == "api_token":
            text = "***"
        elif scalar.key == "db":
            text = mask_password(str(value))
        else:
            text = str(value)
        rows.append((scalar.key, text, settings.sources.get(scalar.key, "default")))
    for name, profile in settings.profiles.items():
        fields: dict[str, Any] = {}
        if profile.kind is not None:
            fields["kind"] = profile.kind
        if profile.concurrency is not None:
            fields["concurrency"] = profile.concurrency
        fields.update(profile.template)
        fields.update(profile.defaults)
        rows.append(
            (f"profiles.{name}", _table_text(fields), settings.sources.get("profiles", "default"))
        )
    for key, limit in settings.resources.items():
        rows.append((f"resources.{key}", str(limit), settings.sources.get("resources", "default")))
    for name, endpoint in settings.endpoints.items():
        rows.append(
            (
                f"endpoints.{name}",
                _table_text(endpoint),
                settings.sources.get("endpoints", "default"),
            )
        )
    for key, value in settings.agents.items():
        rows.append((f"agents.{key}", show_value(value), settings.sources.get("agents", "default")))
    return rows
