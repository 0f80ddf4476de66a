"""Server-rendered SVG of activities per day: one bar per day, stacked by activity type.

No JavaScript and nothing fetched: gridlines, dated axis, a hover title on every segment. The
legend lives in the page (links that hide or show a type), built from :func:`chart_series`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 250
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 40
# Distinguishable on white and for common colour blindness (Okabe-Ito).
COLORS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#f0e442", "#000000")
MAX_DAYS = 366
GRIDLINES = 4
LABEL_SPACING = 58  # the least room for one date label, in chart units
GRID, AXIS, INK, MUTED = "#e3e8ee", "#9aa5b1", "#1d2733", "#66717d"


@dataclass(frozen=True)
class Series:
    """One activity type of the chart: its colour, its total over the days, hidden or shown."""

    activity_type: str
    color: str
    total: int
    hidden: bool


def chart_series(
    counts: Mapping[str, Mapping[date, int]], hidden: Collection[str] = ()
) -> list[Series]:
    """The chart's types in stacking order (bottom first); a type keeps its colour when others
    are hidden. ``hidden`` holds code names in lower case."""
    return [
        Series(name, COLORS[number % len(COLORS)], sum(series.values()), name.lower() in hidden)
        for number, (name, series) in enumerate(sorted(counts.items()))
    ]


def gridline_step(peak: int, lines: int = GRIDLINES) -> int:
    """The smallest step of 1, 2 or 5 × 10ⁿ with which ``lines`` gridlines reach ``peak``."""
    wanted = max(1, math.ceil(peak / lines))
    magnitude = 1
    while True:
        for multiple in (1, 2, 5):
            if multiple * magnitude >= wanted:
                return multiple * magnitude
        magnitude *= 10


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _day(day: date) -> str:
    return f"{day:%b} {day.day}"


def activity_chart(
    counts: Mapping[str, Mapping[date, int]],
    start: date,
    end: date,
    hidden: Collection[str] = (),
) -> Markup:
    """An SVG bar per day from ``start`` to ``end``: a segment per activity type (those in
    ``hidden``, lower-case code names, left out), each with a title saying what it counts."""
    days = (end - start).days + 1
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a chart covers 1 to {MAX_DAYS} days, not {days}")
    dates = [start + timedelta(days=n) for n in range(days)]
    shown = [s for s in chart_series(counts, hidden) if not s.hidden]
    totals = [sum(counts[s.activity_type].get(day, 0) for s in shown) for day in dates]
    step = gridline_step(max(totals))
    top = step * max(1, math.ceil(max(totals) / step))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    slot = plot_w / days
    gap = slot * 0.2 if slot >= 4 else 0.0

    label = f"Activities per day from {start.isoformat()} to {end.isoformat()}"
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(label)}" '
        f'font-family="system-ui, sans-serif" font-size="11">',
        f"<title>{escape(label)}</title>",
    ]
    for value in range(0, top + 1, step):
        y = _number(base - value / top * plot_h)
        parts.append(
            f'<line class="gridline" x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" '
            f'stroke="{AXIS if value == 0 else GRID}"/>'
            f'<text x="{LEFT - 6}" y="{y}" dy="4" text-anchor="end" fill="{MUTED}">{value:,}</text>'
        )
    every = math.ceil(LABEL_SPACING / slot)
    year = None
    for index in range(0, days, every):
        day, x = dates[index], _number(LEFT + (index + 0.5) * slot)
        parts.append(
            f'<text class="date" x="{x}" y="{base + 15}" text-anchor="middle" fill="{INK}">'
            f"{_day(day)}</text>"
        )
        if day.year != year:  # the year under the first date, and where a new one begins
            year = day.year
            parts.append(
                f'<text x="{x}" y="{base + 29}" text-anchor="middle" fill="{MUTED}">{year}</text>'
            )
    for index, (day, total) in enumerate(zip(dates, totals, strict=True)):
        x, width = _number(LEFT + index * slot + gap / 2), _number(slot - gap)
        stacked = 0
        for series in shown:
            count = counts[series.activity_type].get(day, 0)
            if not count:
                continue
            y_top = base - (stacked + count) / top * plot_h
            height = count / top * plot_h
            stacked += count
            what = f"{series.activity_type}, {_day(day)} {day.year}: {count:,} of {total:,}"
            parts.append(
                f'<rect class="segment" x="{x}" y="{_number(y_top)}" width="{width}" '
                f'height="{_number(height)}" fill="{series.color}"><title>{escape(what)}</title>'
                "</rect>"
            )
    if not any(totals):
        parts.append(
            f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" '
            f'fill="{MUTED}">No activities to show in this range</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def hidden_types(params: Mapping[str, str]) -> frozenset[str]:
    """The code names (lower case) the ``hide`` query parameter leaves out of the chart."""
    return frozenset(name.strip() for name in params.get("hide", "").lower().split(",")) - {""}


@dataclass(frozen=True)
class ChartFigure:
    """A chart with its legend: each type with the query string that hides or shows it."""

    chart: Markup
    legend: list[tuple[Series, str]]
    start: date
    end: date


def chart_figure(
    counts: Mapping[str, Mapping[date, int]],
    start: date,
    end: date,
    hidden: frozenset[str],
    query: Callable[[str | None], str],
) -> ChartFigure:
    """The chart of ``counts`` and its legend; ``query(hide)`` is a page's query string with the
    ``hide`` parameter (None: every type shown), so the legend works without JavaScript."""
    series = chart_series(counts, hidden)
    hidden &= {s.activity_type.lower() for s in series}  # only types the chart has
    legend = [
        (s, query(",".join(sorted(hidden ^ {s.activity_type.lower()})) or None)) for s in series
    ]
    return ChartFigure(activity_chart(counts, start, end, hidden), legend, start, end)
