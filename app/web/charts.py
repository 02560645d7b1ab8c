"""Charts drawn on the server as SVG: the geometry here, the markup in templates/_chart.html.

No JavaScript draws anything: a chart is a few rectangles or polylines whose
coordinates are computed from the values, with a text alternative (the table
of values beside it) for screen readers and for readers without images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH = 600.0
HEIGHT = 200.0
LEFT = 56.0  # room for the value axis labels
BOTTOM = 24.0  # room for the category labels


@dataclass(frozen=True)
class Bar:
    """One bar: its box in chart units, its category and its value as text."""

    x: float
    y: float
    width: float
    height: float
    label: str
    value: str


@dataclass(frozen=True)
class Series:
    """One line: its points in chart units, a name, and a CSS class."""

    name: str
    css: str
    points: str


@dataclass(frozen=True)
class Chart:
    """A chart's geometry: bars or lines, value-axis ticks and category labels."""

    title: str
    bars: list[Bar]
    series: list[Series]
    ticks: list[tuple[float, str]]
    labels: list[tuple[float, str]]
    rows: list[tuple[str, str]]  # the values as a table (category, formatted values)
    width: float = WIDTH
    height: float = HEIGHT

    @property
    def empty(self) -> bool:
        """True when there is nothing to draw."""
        return not self.rows


def _scale(top: float) -> tuple[float, list[float]]:
    """A rounded maximum at or above `top` and four tick values up to it."""
    if top <= 0:
        return 1.0, [0.0, 0.25, 0.5, 0.75, 1.0]
    magnitude = 10 ** (len(str(int(top))) - 1) if top >= 1 else 0.1
    nice = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= top)
    return nice, [nice * i / 4 for i in range(5)]


def _plot_height() -> float:
    return HEIGHT - BOTTOM - 8


def _label_every(count: int) -> int:
    """Label every n-th category so that labels do not overlap (at most 8)."""
    return max(1, -(-count // 8))


def bar_chart(
    title: str, points: Sequence[tuple[str, float]], fmt: Callable[[float], str] = str
) -> Chart:
    """Bars for `points` (category, value) from left to right."""
    top, tick_values = _scale(max((v for _, v in points), default=0.0))
    plot_h, plot_w = _plot_height(), WIDTH - LEFT
    slot = plot_w / max(1, len(points))
    bars = []
    for i, (label, value) in enumerate(points):
        h = plot_h * value / top
        bars.append(Bar(LEFT + i * slot + slot * 0.1, 8 + plot_h - h, slot * 0.8, h, label,
                        fmt(value)))  # fmt: skip
    every = _label_every(len(points))
    labels = [(b.x + b.width / 2, b.label) for i, b in enumerate(bars) if i % every == 0]
    ticks = [(8 + plot_h - plot_h * t / top, fmt(t)) for t in tick_values]
    return Chart(title, bars, [], ticks, labels, [(b.label, b.value) for b in bars])


def line_chart(
    title: str,
    categories: Sequence[str],
    lines: Sequence[tuple[str, str, Sequence[float | None]]],
    fmt: Callable[[float], str] = str,
) -> Chart:
    """Lines (name, css class, values per category; None leaves a gap) over `categories`."""
    values = [v for _, _, vs in lines for v in vs if v is not None]
    top, tick_values = _scale(max(values, default=0.0))
    plot_h, plot_w = _plot_height(), WIDTH - LEFT
    slot = plot_w / max(1, len(categories))
    series = []
    for name, css, vs in lines:
        points = " ".join(
            f"{LEFT + i * slot + slot / 2:.1f},{8 + plot_h - plot_h * v / top:.1f}"
            for i, v in enumerate(vs)
            if v is not None
        )
        series.append(Series(name, css, points))
    every = _label_every(len(categories))
    labels = [(LEFT + i * slot + slot / 2, c) for i, c in enumerate(categories) if i % every == 0]
    ticks = [(8 + plot_h - plot_h * t / top, fmt(t)) for t in tick_values]
    rows = [
        (c, " / ".join("—" if vs[i] is None else fmt(vs[i]) for _, _, vs in lines))  # type: ignore[arg-type]
        for i, c in enumerate(categories)
        if any(vs[i] is not None for _, _, vs in lines)
    ]
    return Chart(title, [], series, ticks, labels, rows)
