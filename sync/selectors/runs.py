"""Reads of sync runs for the analyst's pages: newest first, paged by keyset on the id.

Runs are never deleted, so the list must not sort the whole table: ids follow creation (a run's row is inserted the
moment it starts), so "newest first" is a backward walk of the primary key, one short index range per page, with
or without an organization filter.
"""

from dataclasses import dataclass

from sync.models import Organization, SyncRun

PAGE_SIZE = 50


@dataclass(frozen=True)
class RunPage:
    items: list[SyncRun]
    next_cursor: str | None
    is_first: bool

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None


def decode_cursor(cursor: str) -> int:
    """The id of the last run of the previous page; ValueError for anything else."""
    if not cursor.isdigit() or int(cursor) < 1 or len(cursor) > 19:
        raise ValueError(f"invalid cursor {cursor[:40]!r}")
    return int(cursor)


def sync_run_page(
    *, organization: Organization | None = None, cursor: str | None = None, limit: int | None = None
) -> RunPage:
    """One page of runs (of one organization, or all), newest first; ValueError for an invalid cursor."""
    limit = limit or PAGE_SIZE
    queryset = SyncRun.objects.select_related("organization")
    if organization is not None:
        queryset = queryset.filter(organization=organization)
    if cursor:
        queryset = queryset.filter(pk__lt=decode_cursor(cursor))
    rows = list(queryset.order_by("-pk")[: limit + 1])
    items = rows[:limit]
    return RunPage(items=items, next_cursor=str(items[-1].pk) if len(rows) > limit else None, is_first=not cursor)
