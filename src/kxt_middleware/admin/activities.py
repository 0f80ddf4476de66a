"""Admin activity log page: filters, keyset paging and the per-day chart."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..activities import ActivitySource
from .activity_log import ActivityFilter, activity_page, days_before, row_number
from .auth import signed_in
from .chart import MAX_DAYS, chart_figure, hidden_types
from .pages import admin_state, render

CHART_DAYS = 30


@signed_in
async def activities_page(request: Request) -> Response:
    """Every activity, newest first, filtered, with a chart of the chosen range."""
    state = admin_state(request)
    types = await state.store.activity_types()
    context = {"types": types, "sources": list(ActivitySource), "params": request.query_params}
    try:
        filters = ActivityFilter.from_query(request.query_params)
        params = request.query_params
        before = row_number(params.get("before", ""), "before", "an activity number")
        after = row_number(params.get("after", ""), "after", "an activity number")
    except ValueError as exc:
        return render(request, "activities.html", {**context, "error": str(exc)}, 400)
    page = await activity_page(
        state.store, filters, before=before, after=after, limit=state.page_size
    )
    # The chosen range, or the last 30 days up to today (or to a from-date in the future);
    # at most MAX_DAYS, the latest ones.
    today = state.store.clock().date()
    end = filters.end or max(today, filters.start or today)
    start = max(filters.start or days_before(end, CHART_DAYS - 1), days_before(end, MAX_DAYS - 1))
    counts = await state.store.daily_counts(filters, start, end)
    hidden = hidden_types(params)
    hide = ",".join(sorted(hidden)) or None
    return render(
        request,
        "activities.html",
        {
            **context,
            "error": None,
            "filters": filters,
            "page": page,
            "hide": hide,
            "figure": chart_figure(counts, start, end, hidden, lambda h: filters.query(hide=h)),
        },
    )


ROUTES = [Route("/activities", activities_page)]
