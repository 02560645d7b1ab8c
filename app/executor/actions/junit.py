"""Test reports: JUnit XML files in the workspace, counted into one summary.

Parsed with the standard library's ElementTree: it never fetches external entities,
and expat (2.4.1 and later) refuses entity-expansion bombs.
"""

from __future__ import annotations

import glob
import hashlib
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from app.executor.actions.errors import StepFailed

MAX_FAILING = 100
MAX_REPORT_BYTES = 64 * 1024 * 1024
ROOTS = ("testsuites", "testsuite")


@dataclass(frozen=True)
class TestSummary:
    """Counts over every matched report, the first failing test names, and the reports' digest."""

    __test__ = False  # not a pytest test class, despite its name

    passed: int
    failed: int
    skipped: int
    failing: tuple[str, ...]
    report_sha256: str
    files: tuple[str, ...]

    def as_event_fields(self) -> dict[str, Any]:
        """Keyword arguments for `TestsReported` (add `step`)."""
        return {
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "failing": self.failing,
            "report_sha256": self.report_sha256,
        }


def report_files(workspace: Path, patterns: Sequence[str]) -> list[tuple[str, Path]]:
    """(relative posix path, path) of the regular files the globs match, sorted by path.

    `**` matches across directories. A pattern or a match (through a symlink) that
    leads outside the workspace raises StepFailed.
    """
    root = workspace.resolve()
    found: dict[str, Path] = {}
    for pattern in patterns:
        if PurePosixPath(pattern).is_absolute() or ".." in PurePosixPath(pattern).parts:
            raise StepFailed(f"report pattern {pattern!r} must stay inside the workspace")
        for match in glob.glob(pattern, root_dir=root, recursive=True):
            path = (root / match).resolve()
            if not path.is_relative_to(root):
                raise StepFailed(f"report {match} leads outside the workspace")
            if path.is_file():
                found[Path(match).as_posix()] = path
    return sorted(found.items())


def read_reports(workspace: Path, patterns: Sequence[str]) -> TestSummary | None:
    """Summarize the JUnit XML reports the globs match; None when none matches."""
    files = report_files(workspace, patterns)
    if not files:
        return None
    digest = hashlib.sha256()
    passed = failed = skipped = 0
    failing: list[str] = []
    for name, path in files:
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise StepFailed(f"report {name} is larger than {MAX_REPORT_BYTES} bytes")
        data = path.read_bytes()
        digest.update(data)
        try:
            root = ElementTree.fromstring(data)
        except ElementTree.ParseError as exc:
            line, column = exc.position
            raise StepFailed(
                f"report {name} is not well-formed XML: line {line}, column {column + 1}: "
                f"{str(exc).split(':')[0]}"
            ) from None
        if root.tag not in ROOTS:
            raise StepFailed(f"report {name} is not JUnit XML: its root is <{root.tag}>")
        for case in root.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                if len(failing) < MAX_FAILING:
                    classname, test = case.get("classname", ""), case.get("name", "")
                    failing.append(f"{classname}.{test}" if classname else test)
            elif case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    return TestSummary(
        passed=passed,
        failed=failed,
        skipped=skipped,
        failing=tuple(failing),
        report_sha256=digest.hexdigest(),
        files=tuple(name for name, _ in files),
    )
