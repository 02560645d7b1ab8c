"""`PipelineError`: every problem found in a pipeline file, each with its file, line and column."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem in a pipeline file; line and column are 1-based, None where unknown."""

    file: str
    line: int | None
    column: int | None
    message: str
    path: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class PipelineError(Exception):
    """A pipeline file was refused; `problems` lists everything wrong with it, in file order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        unique = dict.fromkeys(problems)
        self.problems: list[Problem] = sorted(
            unique, key=lambda p: (p.line or 0, p.column or 0, p.path, p.message)
        )
        super().__init__("\n".join(str(problem) for problem in self.problems))
