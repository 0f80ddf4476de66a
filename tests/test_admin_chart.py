"""The per-day stacked bar chart, read back as SVG: what each bar and segment shows."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from kxt_middleware.admin.chart import (
    BOTTOM,
    HEIGHT,
    MAX_DAYS,
    TOP,
    activity_chart,
    chart_figure,
    chart_series,
    gridline_step,
    hidden_types,
)

SVG = "{http://www.w3.org/2000/svg}"
START = date(2025, 3, 1)
BASE = HEIGHT - BOTTOM  # the y of the zero line
PLOT = HEIGHT - TOP - BOTTOM


def day(n: int) -> date:
    return START + timedelta(days=n)


class Segment:
    def __init__(self, rect: ET.Element) -> None:
        self.x = float(rect.attrib["x"])
        self.y = float(rect.attrib["y"])
        self.width = float(rect.attrib["width"])
        self.height = float(rect.attrib["height"])
        self.fill = rect.attrib["fill"]
        title = rect.find(f"{SVG}title")
        assert title is not None and title.text
        self.title = title.text


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def segments(svg: str) -> list[Segment]:
    return [Segment(r) for r in parse(svg).iter(f"{SVG}rect") if r.get("class") == "segment"]


def texts(svg: str) -> list[str]:
    return [t.text or "" for t in parse(svg).iter(f"{SVG}text")]


def test_bar_heights_are_proportional_to_the_counts() -> None:
    svg = activity_chart({"click": {day(0): 2, day(1): 4, day(2): 8}}, day(0), day(2))
    small, middle, large = sorted(segments(svg), key=lambda s: s.x)
    assert middle.height == pytest.approx(2 * small.height, abs=0.02)
    assert large.height == pytest.approx(4 * small.height, abs=0.02)
    for bar in (small, middle, large):
        assert bar.y + bar.height == pytest.approx(BASE, abs=0.02)  # standing on the zero line
    # 8 is the top gridline: the tallest bar reaches it exactly
    assert large.y == pytest.approx(TOP, abs=0.02) and texts(svg)[:5] == ["0", "2", "4", "6", "8"]


def test_types_stack_and_equal_series_are_both_visible() -> None:
    counts = {"pagevisit": {day(0): 3}, "click": {day(0): 3}, "custom_cta": {day(0): 1}}
    svg = activity_chart(counts, day(0), day(0))
    click, cta, visit = segments(svg)  # bottom first, by code name
    assert (click.height, visit.height) == (pytest.approx(3 * cta.height, abs=0.02),) * 2
    assert click.y + click.height == pytest.approx(BASE, abs=0.02)
    assert cta.y + cta.height == pytest.approx(click.y, abs=0.02)  # each on top of the last
    assert visit.y + visit.height == pytest.approx(cta.y, abs=0.02)
    assert len({click.fill, cta.fill, visit.fill}) == 3 and click.x == cta.x == visit.x
    assert click.title == "click, Mar 1 2025: 3 of 7"
    assert visit.title == "pagevisit, Mar 1 2025: 3 of 7"


def test_a_one_day_spike_is_one_bar() -> None:
    svg = activity_chart({"click": {day(14): 500}}, day(0), day(29))
    [spike] = segments(svg)
    assert spike.title == "click, Mar 15 2025: 500 of 500"
    slot = (720 - 48 - 12) / 30
    assert spike.x == pytest.approx(48 + 14 * slot + slot * 0.1, abs=0.02)  # the 15th day
    assert spike.width == pytest.approx(slot * 0.8, abs=0.02)
    assert spike.height == pytest.approx(PLOT * 500 / 600, abs=0.02)  # gridlines to 600
    assert texts(svg)[:4] == ["0", "200", "400", "600"]


def test_gridlines_and_readable_dates() -> None:
    svg = activity_chart({"click": {day(3): 7}}, day(0), day(29))
    root = parse(svg)
    lines = [line for line in root.iter(f"{SVG}line") if line.get("class") == "gridline"]
    labels = texts(svg)
    assert labels[:5] == ["0", "2", "4", "6", "8"] and len(lines) == 5
    dates = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "date"]
    assert dates == [f"Mar {n}" for n in range(1, 31, 3)]  # every third day of 30
    assert labels.count("2025") == 1  # the year once, under the first date
    over_new_year = texts(activity_chart({}, date(2025, 12, 20), date(2026, 1, 10)))
    assert "2025" in over_new_year and "2026" in over_new_year
    assert "No activities to show in this range" in over_new_year
    assert [n for n in texts(activity_chart({}, day(0), day(0)))[:2]] == ["0", "1"]


def test_a_year_of_days_keeps_its_labels_apart() -> None:
    svg = activity_chart({"click": {day(n): n for n in range(MAX_DAYS)}}, day(0), day(365))
    dates = [t for t in parse(svg).iter(f"{SVG}text") if t.get("class") == "date"]
    xs = [float(t.attrib["x"]) for t in dates]
    assert 6 <= len(dates) <= 12 and min(b - a for a, b in zip(xs, xs[1:], strict=False)) >= 58
    assert len(segments(svg)) == MAX_DAYS - 1  # day 0 has no activities
    assert "1,000" not in texts(svg) and texts(svg)[:2] == ["0", "100"]


def test_hidden_types_leave_the_chart_and_its_scale() -> None:
    counts = {"pagevisit": {day(0): 100}, "click": {day(0): 5, day(1): 10}}
    svg = activity_chart(counts, day(0), day(1), hidden={"pagevisit"})
    bars = segments(svg)
    assert [b.title for b in bars] == ["click, Mar 1 2025: 5 of 5", "click, Mar 2 2025: 10 of 10"]
    assert bars[1].y == pytest.approx(TOP, abs=0.02)  # scaled to the shown types only
    series = chart_series(counts, {"pagevisit"})
    assert [(s.activity_type, s.total, s.hidden) for s in series] == [
        ("click", 15, False),
        ("pagevisit", 100, True),
    ]
    # hiding a type keeps the others' colours
    assert [s.color for s in series] == [s.color for s in chart_series(counts)]


def test_the_legend_links_toggle_one_type_each() -> None:
    counts = {"pagevisit": {day(0): 1}, "Custom_CTA": {day(0): 2}}
    hidden = hidden_types({"hide": " pagevisit,,gone ,"})
    assert hidden == {"pagevisit", "gone"}
    figure = chart_figure(counts, day(0), day(0), hidden, lambda hide: f"hide={hide}")
    assert [(s.activity_type, query) for s, query in figure.legend] == [
        ("Custom_CTA", "hide=custom_cta,pagevisit"),  # hides it too
        ("pagevisit", "hide=None"),  # shows it again (a type no longer there is dropped)
    ]
    assert [s.title for s in segments(figure.chart)] == ["Custom_CTA, Mar 1 2025: 2 of 2"]
    assert hidden_types({}) == frozenset()


def test_text_is_escaped() -> None:
    svg = activity_chart({"<b>&": {day(0): 1}}, day(0), day(0))
    [segment] = segments(svg)
    assert segment.title == "<b>&, Mar 1 2025: 1 of 1" and "<b>" not in svg


@pytest.mark.parametrize(("peak", "step"), [(0, 1), (1, 1), (4, 1), (5, 2), (9, 5), (41, 20)])
def test_gridline_steps_are_round(peak: int, step: int) -> None:
    assert gridline_step(peak) == step
    assert gridline_step(123_456) == 50_000


def test_the_range_must_be_one_to_366_days() -> None:
    with pytest.raises(ValueError, match="a chart covers 1 to 366 days, not 0"):
        activity_chart({}, day(1), day(0))
    with pytest.raises(ValueError, match="not 367"):
        activity_chart({}, day(0), day(366))
