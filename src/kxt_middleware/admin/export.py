"""Export of the filtered activity log from the admin: CSV or JSON lines, as ``kxt activities``
writes them, streamed one page of records at a time (never the whole log in memory)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..activities import ActivityFilter
from ..exports import EXPORT_FORMATS
from ..storage import Store
from .auth import signed_in
from .pages import admin_state

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
PAGE_SIZE = 1_000  # records read and sent at a time


async def export_chunks(store: Store, filters: ActivityFilter, format: str) -> AsyncIterator[bytes]:
    """The export of the matching activities, oldest first: the CSV header, then one chunk of
    bytes per page of records (formatted here, in the server's process)."""
    assert format in EXPORT_FORMATS, format
    chunks = store.export_activities(filters, format, page_size=PAGE_SIZE)
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            yield chunk.data


@signed_in
async def export_activities(request: Request) -> Response:
    """Download the activities the log's filters select, as ``?format=csv`` or ``jsonl``."""
    params = request.query_params
    format = params.get("format", "")
    if format not in MEDIA_TYPES:
        raise HTTPException(400, "format must be csv or jsonl, as the export links give it.")
    try:
        filters = ActivityFilter.from_query(params)
    except ValueError as exc:
        raise HTTPException(400, f"{exc}.") from None
    store = admin_state(request).store
    name = f"activities-{store.clock():%Y%m%d-%H%M%S}.{format}"
    return StreamingResponse(
        export_chunks(store, filters, format),
        media_type=MEDIA_TYPES[format],
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


ROUTES = [Route("/activities/export", export_activities)]
