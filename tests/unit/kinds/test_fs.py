"""The fs kind: operations inside a root, and every way out of it refused."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from taskfleet.errors import FatalError, FieldError
from taskfleet.kinds import RunContext, get_kind
from taskfleet.kinds.fs import FsKind, resolve_inside


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "root"
    base.mkdir()
    (base / "a.txt").write_text("hello")
    (base / "sub").mkdir()
    return base


async def run(root: Path, **fields: Any) -> Any:
    kind = FsKind()
    outcome = await kind.run(kind.parse(fields), RunContext("job", "t1", 1, cwd=str(root)))
    return outcome


def test_registered_as_fs() -> None:
    assert isinstance(get_kind("fs"), FsKind)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"op": "delete", "path": "x"}, "op"),
        ({"op": "read"}, "path"),
        ({"op": "read", "path": ""}, "path"),
        ({"op": "write", "path": "x"}, "content"),
        ({"op": "write", "path": "x", "content": 3}, "content"),
        ({"op": "command"}, "command"),
    ],
)
def test_bad_fields(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(FieldError) as info:
        FsKind().parse(fields)
    assert info.value.field == field


async def test_read_write_list(root: Path) -> None:
    read = await run(root, op="read", path="a.txt")
    assert read.ok and read.result["content"] == "hello"
    wrote = await run(root, op="write", path="sub/new/b.txt", content="data")
    assert wrote.ok and wrote.result["bytes"] == 4
    assert (root / "sub/new/b.txt").read_text() == "data"
    listed = await run(root, op="list")
    assert [e["name"] for e in listed.result["entries"]] == ["a.txt", "sub"]
    assert listed.result["entries"][0] == {"name": "a.txt", "type": "file", "size": 5}


async def test_command_runs_in_the_path(root: Path) -> None:
    outcome = await run(root, op="command", path="sub", command="pwd")
    assert outcome.ok
    assert outcome.result["stdout"].strip() == os.path.realpath(root / "sub")


async def test_missing_file_is_fatal(root: Path) -> None:
    with pytest.raises(FatalError, match=r"nope\.txt"):
        await run(root, op="read", path="nope.txt")


@pytest.mark.parametrize("path", ["../outside.txt", "sub/../../outside.txt", "/etc/passwd"])
async def test_escapes_are_refused(root: Path, path: str) -> None:
    (root.parent / "outside.txt").write_text("secret")
    for op in ("read", "list"):
        with pytest.raises(FatalError, match="outside the root"):
            await run(root, op=op, path=path)
    with pytest.raises(FatalError, match="outside the root"):
        await run(root, op="write", path=path, content="x")
    with pytest.raises(FatalError, match="outside the root"):
        await run(root, op="command", path=path, command="true")
    assert (root.parent / "outside.txt").read_text() == "secret"


async def test_symlinks_pointing_out_are_refused(root: Path) -> None:
    (root.parent / "outside").mkdir()
    (root / "link").symlink_to(root.parent / "outside")
    (root / "file_link").symlink_to(root.parent / "outside.txt")
    with pytest.raises(FatalError, match=r"'link/x\.txt' is outside"):
        await run(root, op="write", path="link/x.txt", content="x")
    with pytest.raises(FatalError, match="outside"):
        await run(root, op="read", path="file_link")
    assert not (root.parent / "outside" / "x.txt").exists()


def test_inside_paths_resolve(root: Path) -> None:
    real = os.path.realpath(root)
    assert resolve_inside(str(root), "sub/../a.txt") == os.path.join(real, "a.txt")
    assert resolve_inside(str(root), str(root / "a.txt")) == os.path.join(real, "a.txt")
    assert resolve_inside(str(root), ".") == real
