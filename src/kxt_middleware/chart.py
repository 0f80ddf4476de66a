"""Server-rendered SVG line chart of activities per day per type (no JavaScript, no CDN)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28
# Distinguishable on white and for common colour blindness (Okabe-Ito).
COLORS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#f0e442", "#000000")
MAX_DAYS = 366


def activity_chart(counts: Mapping[str, Mapping[date, int]], start: date, end: date) -> Markup:
    """An SVG chart: one line per activity type, one point per day from ``start`` to ``end``."""
    days = (end - start).days + 1
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a chart covers 1 to {MAX_DAYS} days, not {days}")
    dates = [start + timedelta(days=n) for n in range(days)]
    peak = max([1, *(max(series.values(), default=0) for series in counts.values())])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(days - 1, 1)

    def x(index: int) -> float:
        return LEFT + index * step

    def y(count: int) -> float:
        return TOP + plot_h - count / peak * plot_h

    label = f"Activities per day from {start.isoformat()} to {end.isoformat()}"
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        'stroke="#999"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#999"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" font-size="11">0</text>',
        f'<text x="{LEFT}" y="{HEIGHT - 8}" font-size="11">{start.isoformat()}</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" text-anchor="end" font-size="11">'
        f"{end.isoformat()}</text>",
    ]
    for number, (activity_type, series) in enumerate(sorted(counts.items())):
        color = COLORS[number % len(COLORS)]
        points = " ".join(f"{x(i):.1f},{y(series.get(day, 0)):.1f}" for i, day in enumerate(dates))
        parts.append(f"<g><title>{escape(activity_type)}</title>")
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        for i, day in enumerate(dates):
            count = series.get(day, 0)
            if count:
                parts.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(count):.1f}" r="2.5" fill="{color}">'
                    f"<title>{escape(activity_type)} {day.isoformat()}: {count}</title></circle>"
                )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def chart_legend(counts: Mapping[str, Mapping[date, int]]) -> list[tuple[str, str, int]]:
    """(activity type, colour, total) for each line of :func:`activity_chart`, in its order."""
    return [
        (activity_type, COLORS[number % len(COLORS)], sum(series.values()))
        for number, (activity_type, series) in enumerate(sorted(counts.items()))
    ]
