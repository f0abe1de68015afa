"""Which fields a task may give, and what to say about one it may not.

A task may give the common fields, its kind's own (``Kind.fields``) and the
fields its profile's templates name (``{prompt}``); an OpenAI Batch API line
gives the fields of such a line. Anything else is a misspelling or data put in
the wrong place: it is refused with the nearest known name, since a field
that is silently ignored (``retires``, ``dependson``) changes what runs. A
kind that declares no fields (the llm kind, whose other fields are sent on as
chat-completions parameters; a plug-in written before ``fields``) takes any.
"""

from __future__ import annotations

import difflib

from taskfleet.config.profiles import Profile, parse_template
from taskfleet.input.fields import COMMON_FIELDS
from taskfleet.kinds import Kind, available_kinds, get_kind
from taskfleet.kinds.base import declared_fields
from taskfleet.kinds.llm.request import BATCH_LINE_FIELDS

__all__ = ["FieldNames", "template_fields"]

# (kind name, profile name, is a batch line): what such a task may give (None: anything)
_Key = tuple[str, str | None, bool]


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
