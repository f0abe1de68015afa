"""Which fields a task may give, and what to say about one it may not.

A task may give the common fields, its kind's own (``Kind.fields``) and the
fields its profile's templates name (``{prompt}``); an OpenAI Batch API line
gives the fields of such a line. Anything else is a misspelling or data put in
the wrong place: it is refused with the nearest known name, since a field
that is silently ignored (``retires``, ``dependson``) changes what runs. A
kind that declares no fields (the llm kind, whose other fields are sent on as
chat-completions parameters; a plug-in written before ``fields``) takes any,
except a near miss of a common field (``retires``, ``dependson``): no
provider's parameter is that close to one, and sending it on would silently
drop the retries or the dependency the user meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

from taskfleet.config.profiles import Profile, parse_template
from taskfleet.input.fields import COMMON_FIELDS
from taskfleet.kinds import Kind, available_kinds, get_kind
from taskfleet.kinds.base import declared_fields
from taskfleet.kinds.llm.request import BATCH_LINE_FIELDS

__all__ = ["FieldNames", "template_fields"]

# (kind name, profile name, is a batch line): what such a task may give (None: anything)
_Key = tuple[str, str | None, bool]
# How close a name must be to a common field to count as its misspelling where a
# kind takes any field: every typo of the issue's examples is above it, and none
# of the chat-completions parameters of OpenAI, Ollama or vLLM reaches it.
_NEAR_MISS_CUTOFF = 0.8


def template_fields(profile: Profile) -> frozenset[str]:
    """The fields a profile's templates fill in (``{prompt}`` -> ``prompt``)."""
    names: set[str] = set()
    for text in profile.template.values():
        try:
            parts = parse_template(text)
        except ValueError:  # a bad template is reported where templates are filled
            continue
        names.update(name for _, name in parts if name)
    return frozenset(names)


class FieldNames:
    """The known fields of each kind (with its profile), worked out once per pair."""

    def __init__(self) -> None:
        self._known: dict[_Key, frozenset[str] | None] = {}
        self._own: dict[_Key, frozenset[str]] = {}  # the kind's and profile's, for messages
        self._near_misses: dict[str, str | None] = {}

    def known(
        self, kind_name: str, kind: Kind, profile: Profile | None, batch_line: bool
    ) -> frozenset[str] | None:
        """Every field such a task may give, common ones included; None: any field."""
        key = (kind_name, None if profile is None else profile.name, batch_line)
        if key not in self._known:
            own = BATCH_LINE_FIELDS if batch_line else declared_fields(kind)
            if own is not None and profile is not None:
                own = own | template_fields(profile)
            self._own[key] = own or frozenset()
            self._known[key] = None if own is None else own | COMMON_FIELDS
        return self._known[key]

    def near_miss(self, name: str) -> str | None:
        """The common field ``name`` misspells, for a kind that takes any field; else None."""
        if name not in self._near_misses:
            nearest = (
                []
                if name in COMMON_FIELDS
                else difflib.get_close_matches(
                    name, sorted(COMMON_FIELDS), n=1, cutoff=_NEAR_MISS_CUTOFF
                )
            )
            self._near_misses[name] = nearest[0] if nearest else None
        return self._near_misses[name]

    def report_near_misses(
        self, given: Iterable[str], line: int, add_issue: Callable[[int, str, str], None]
    ) -> bool:
        """Report each of ``given`` that misspells a common field; True if none does."""
        ok = True
        for name in given:
            meant = self.near_miss(name)
            if meant is not None:
                add_issue(line, name, f"unknown field (did you mean '{meant}'?)")
                ok = False
        return ok

    def message(self, name: str, kind_name: str, profile: Profile | None, batch_line: bool) -> str:
        """Why ``name`` is refused, with the nearest known name or the list of them."""
        key = (kind_name, None if profile is None else profile.name, batch_line)
        own = self._own.get(key, frozenset())
        owners = [other for other in _owners_of(name) if other != kind_name]
        if owners and not batch_line:  # {"command": ..., "duration": 1}: two kinds in one
            kinds = " or ".join(f"'{other}'" for other in owners)
            return f"a field of kind {kinds}, not of kind '{kind_name}'"
        nearest = difflib.get_close_matches(name, sorted(own | COMMON_FIELDS), n=1)
        if nearest:
            return f"unknown field (did you mean '{nearest[0]}'?)"
        what = "an OpenAI batch line" if batch_line else f"kind '{kind_name}'"
        takes = ", ".join(sorted(own)) or "no fields"
        return (
            f"unknown field: {what} takes {takes} besides the common fields; "
            "put data of your own in 'meta'"
        )


def _owners_of(name: str) -> list[str]:
    """The registered kinds that declare the field ``name`` (for messages only)."""
    owners = []
    for kind_name in available_kinds():
        try:
            fields = declared_fields(get_kind(kind_name))
        except Exception:  # a plug-in that fails to load says nothing here
            continue
        if fields is not None and name in fields:
            owners.append(kind_name)
    return owners
