"""The admin's first page: activities lately and against the period before, contacts, the top
activity types and pages, and the size of each contact group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..activities import EVERY_ACTIVITY, ActivityFilter
from ..groups import contact_groups, member_counts
from ..storage import Store
from .activity_log import days_before
from .auth import signed_in
from .chart import chart_figure, hidden_types
from .pages import admin_state, render

DAYS = 30  # the period of the chart, the top types and the top pages
TOP = 10


@dataclass(frozen=True)
class Period:
    """Activities in the last ``days`` UTC days (today included) and in as long a period just
    before it, counted up to the same time of day, so that a day under way is compared fairly."""

    label: str
    days: int
    count: int
    previous: int
    start: date
    end: date

    @property
    def change(self) -> str:
        """The change against the period before, as people read it: "+25 %", "−10 %", "new"."""
        if not self.previous:
            return "new" if self.count else "no change"
        percent = round((self.count - self.previous) / self.previous * 100)
        return f"{'+' if percent > 0 else '−' if percent < 0 else '±'}{abs(percent)} %"

    @property
    def trend(self) -> str:
        """up, down or flat: how the page colours the change."""
        return "up" if self.count > self.previous else "down" if self.count < self.previous else ""


async def period(store: Store, now: datetime, days: int, label: str) -> Period:
    """How many activities the last ``days`` days hold, and the ``days`` before them did."""
    today = now.date()
    start = days_before(today, days - 1)
    count = await store.count_activities(ActivityFilter(start=start, end=today))
    before = ActivityFilter(start=days_before(today, 2 * days - 1), end=days_before(today, days))
    previous = await store.count_activities(before, created_before=now - timedelta(days=days))
    return Period(label, days, count, previous, start, today)


@signed_in
async def overview_page(request: Request) -> Response:
    """What marketers look at first: the activity lately, its types and pages, the groups."""
    store = admin_state(request).store
    now = store.clock()
    today = now.date()
    start = days_before(today, DAYS - 1)
    periods = [
        await period(store, now, 1, "Today"),
        await period(store, now, 7, "Last 7 days"),
        await period(store, now, DAYS, f"Last {DAYS} days"),
    ]
    counts = await store.daily_counts(EVERY_ACTIVITY, start, today)
    totals = sorted(
        ((sum(days.values()), code) for code, days in counts.items()), key=lambda t: (-t[0], t[1])
    )
    names = {t.code_name: t.display_name for t in await store.activity_types()}
    everything = sum(total for total, _ in totals)
    top_types = [
        (code, names.get(code, code), total, round(total / everything * 100))
        for total, code in totals[:TOP]
    ]
    sizes = await member_counts(store)
    groups = sorted(
        ((group, sizes.get(group.code_name, 0)) for group in await contact_groups(store)),
        key=lambda pair: (-pair[1], pair[0].code_name),
    )
    period_query = ActivityFilter(start=start, end=today).query()
    context = {
        "periods": periods,
        "contacts": await store.count_contacts(),
        "top_types": top_types,
        "pages": await store.top_pages(ActivityFilter(start=start, end=today), limit=TOP),
        "groups": groups,
        "period_query": period_query,
        "figure": chart_figure(
            counts,
            start,
            today,
            hidden_types(request.query_params),
            lambda hide: urlencode({"hide": hide}) if hide else "",
        ),
        "days": DAYS,
    }
    return render(request, "overview.html", context)


ROUTES = [Route("/", overview_page)]
