"""Admin activity log page: filters, keyset paging and the per-day chart."""

from __future__ import annotations

from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..activities import ActivitySource
from ..chart import MAX_DAYS, activity_chart, chart_legend
from .activity_log import ActivityFilter, activity_page, daily_counts
from .auth import signed_in
from .pages import admin_state, render

CHART_DAYS = 30


def _cursor(request: Request, name: str) -> int | None:
    text = request.query_params.get(name, "")
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"{name} must be an activity number")
    return int(text)


@signed_in
async def activities_page(request: Request) -> Response:
    """Every activity, newest first, filtered, with a chart of the chosen range."""
    state = admin_state(request)
    connection = await state.store.read_connection()
    types = await state.store.activity_types()
    context = {"types": types, "sources": list(ActivitySource), "params": request.query_params}
    try:
        filters = ActivityFilter.from_query(request.query_params)
        before, after = _cursor(request, "before"), _cursor(request, "after")
    except ValueError as exc:
        return render(request, "activities.html", {**context, "error": str(exc)}, 400)
    page = await activity_page(
        state.store, filters, before=before, after=after, limit=state.page_size
    )
    end = filters.end or state.store.clock().date()
    start = filters.start or end - timedelta(days=CHART_DAYS - 1)
    start = max(start, end - timedelta(days=MAX_DAYS - 1))
    counts = await daily_counts(connection, start, end, filters.type)
    return render(
        request,
        "activities.html",
        {
            **context,
            "error": None,
            "filters": filters,
            "page": page,
            "chart": activity_chart(counts, start, end),
            "legend": chart_legend(counts),
            "chart_start": start,
            "chart_end": end,
            "today": date.today(),
        },
    )


ROUTES = [Route("/activities", activities_page)]
