"""Server-drawn charts: the geometry follows the values."""

from __future__ import annotations

from app.web.charts import HEIGHT, bar_chart, line_chart


def test_bars_are_as_tall_as_their_values_and_never_leave_the_chart() -> None:
    chart = bar_chart("t", [("a", 1.0), ("b", 4.0), ("c", 0.0)])
    a, b, c = chart.bars
    assert b.height == 4 * a.height and c.height == 0
    assert all(bar.y >= 0 and bar.y + bar.height <= HEIGHT for bar in chart.bars)
    assert a.x < b.x < c.x
    assert chart.ticks[-1][1] == "5.0"  # a rounded top above the largest value


def test_lines_skip_missing_values_and_the_table_lists_only_weeks_with_data() -> None:
    chart = line_chart("t", ["w1", "w2", "w3"], [("p50", "p50", [1.0, None, 3.0])])
    assert len(chart.series[0].points.split()) == 2
    assert [label for label, _ in chart.rows] == ["w1", "w3"]


def test_an_empty_chart_says_so() -> None:
    assert bar_chart("t", []).empty
