"""Check the relative links of Markdown files: every linked file exists (``make docs``).

Usage: ``python examples/check_links.py README.md docs``. Prints each broken
link as ``file:line: target`` and exits 1 if there is one; web links
(``http``, ``https``, ``mailto``) and in-page anchors are not followed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

# [text](target) and ![alt](target); the target ends at a space (a title) or ')'.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
EXTERNAL = ("http://", "https://", "mailto:", "#")


def markdown_files(paths: list[str]) -> Iterator[Path]:
    """The Markdown files named, and those under the directories named."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from sorted(path.rglob("*.md"))
        else:
            yield path


def broken_links(path: Path) -> Iterator[str]:
    """``file:line: target`` for each relative link of ``path`` whose file is missing."""
    in_code = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.lstrip().startswith("```"):
            in_code = not in_code  # links inside code blocks are code, not links
            continue
        if in_code:
            continue
        for target in LINK.findall(line):
            if target.startswith(EXTERNAL):
                continue
            if not (path.parent / target.split("#", 1)[0]).exists():
                yield f"{path}:{number}: {target}"


def main(paths: list[str]) -> int:
    """Check every file; the exit code: 0 all links resolve, 1 some do not, 2 no file given."""
    if not paths:
        print("usage: check_links.py FILE_OR_DIR...", file=sys.stderr)
        return 2
    files = list(markdown_files(paths))
    missing = [name for name in files if not name.is_file()]
    broken = [f"{name}: no such file" for name in missing]
    for path in files:
        if path.is_file():
            broken.extend(broken_links(path))
    for problem in broken:
        print(problem)
    print(f"{len(files)} files checked, {len(broken)} broken links", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
