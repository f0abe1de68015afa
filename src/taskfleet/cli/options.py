"""Options spelled the same on every command: numbers, concurrency, formats, states, --db.

A flag that means one thing is declared once here, so that ``-j`` works
wherever ``--concurrency`` does, every listing takes ``--format`` (``--json``
its alias), ``--status`` takes several values everywhere, and a bad number
says what it needs in words. Kept light: imported by every command module.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, TypeVar

import click

from taskfleet.cli.common import CliState

F = TypeVar("F", bound=Callable[..., Any])
E = TypeVar("E", bound=enum.Enum)


class WholeNumber(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.3
    """An integer in a range; a bad one names the flag: "-j needs a whole number of at least 1"."""

    name = "whole number"

    def __init__(self, minimum: int, maximum: int | None = None) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """The number, or a usage error naming the flag and the range."""
        try:
            number = int(str(value).strip())
        except ValueError:
            number = None
        too_big = self.maximum is not None and number is not None and number > self.maximum
        if number is None or number < self.minimum or too_big:
            needed = (
                f"a whole number of at least {self.minimum}"
                if self.maximum is None
                else f"a whole number from {self.minimum} to {self.maximum}"
            )
            raise click.UsageError(f"{_flag(param)} needs {needed}, not '{value}'", ctx)
        return number


class Number(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.3
    """A number (of seconds, of MB) above a bound; a bad one names the flag and the bound."""

    name = "number"

    def __init__(self, minimum: float, *, above: bool = False, unit: str = "") -> None:
        self.minimum = minimum
        self.above = above  # the minimum itself is not allowed
        self.unit = unit

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        """The number, or a usage error naming the flag and the bound."""
        try:
            number = float(str(value).strip())
        except ValueError:
            number = None
        if number is None or number < self.minimum or (self.above and number == self.minimum):
            bound = f"{'greater than' if self.above else 'at least'} {self.minimum:g}"
            what = f"a number of {self.unit}" if self.unit else "a number"
            raise click.UsageError(f"{_flag(param)} needs {what} {bound}, not '{value}'", ctx)
        return number


class DescribedDefault(click.Option):
    """An option whose ``show_default`` text describes a default set elsewhere (settings).

    Click writes such a text in parentheses, "[default: (2)]"; this writes it as
    it writes a value, "[default: 2]", so every default reads the same.
    """

    def get_help_extra(self, ctx: click.Context) -> Any:
        """Click's extra help items, the default as written in ``show_default``."""
        extra = super().get_help_extra(ctx)
        if isinstance(self.show_default, str) and "default" in extra:
            extra["default"] = self.show_default
        return extra


def _flag(param: click.Parameter | None) -> str:
    # The first spelling declared: -j for -j/-c/--concurrency.
    if param is None or not param.opts:
        return "the value"
    return param.opts[0]


def concurrency_option(help_text: str, default_text: str) -> Callable[[F], F]:
    """``-j``, ``-c`` and ``--concurrency``: one option, the same on every command."""
    return click.option(
        "-j",
        "-c",
        "--concurrency",
        "concurrency",
        type=WholeNumber(1),
        metavar="N",
        default=None,
        show_default=default_text,
        help=help_text,
        cls=DescribedDefault,
    )


def format_options(choices: list[str], default: str, help_text: str) -> Callable[[F], F]:
    """``--format`` with ``choices`` (``json`` among them) and ``--json``, its alias."""
    format_option = click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=None,
        show_default=default,
        help=help_text,
        cls=DescribedDefault,
    )
    json_option = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")

    def decorate(func: F) -> F:
        return format_option(json_option(func))

    return decorate


def chosen_format(fmt: str | None, as_json: bool, default: str) -> str:
    """The format ``--format`` and ``--json`` ask for together."""
    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json means --format json; it cannot go with --format {fmt}")
    return "json" if as_json else fmt or default


def states_option(states: type[enum.Enum], help_text: str) -> Callable[[F], F]:
    """``--status``: several states, repeated or comma-separated."""
    names = ", ".join(str(state.value) for state in states)
    return click.option(
        "--status",
        "status",
        multiple=True,
        metavar="STATUS",
        help=f"{help_text} ({names}; repeat or comma-separate).",
    )


def chosen_states(values: tuple[str, ...], states: type[E]) -> list[E] | None:
    """The states ``--status`` names, in order, once each; None when none was given."""
    known = {str(state.value): state for state in states}
    chosen: list[E] = []
    for name in (part.strip() for value in values for part in value.split(",")):
        if not name:
            continue
        if name not in known:
            raise click.BadParameter(
                f"'{name}' is not one of {', '.join(known)}", param_hint="--status"
            )
        if known[name] not in chosen:
            chosen.append(known[name])
    return chosen or None


def add_db_option(command: click.Command) -> None:
    """Let ``command`` take ``--db`` after its name too (``taskfleet status JOB --db URL``)."""

    def remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        state = ctx.find_object(CliState)  # made by the root group before any command
        if value is not None and state is not None:
            state.db_flag = value

    command.params.append(
        click.Option(
            ["--db"],
            metavar="URL",
            default=None,
            expose_value=False,
            callback=remember,
            help="Store, as taskfleet --db URL (which it overrides).",
        )
    )
