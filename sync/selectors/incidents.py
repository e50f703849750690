"""Reads of the Threat Response incidents this product created, for the analyst's pages."""

from dataclasses import dataclass

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from sync.models import Incident, Organization, SecurityEvent

PAGE_SIZE = 50
DETAIL_EVENTS = 200


@dataclass(frozen=True)
class IncidentPage:
    items: list[Incident]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def _with_event_counts(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    # A correlated count per incident on the page (the incident foreign key is indexed), not a join over all events.
    counts = SecurityEvent.objects.filter(incident=OuterRef("pk")).order_by().values("incident").annotate(n=Count("pk"))
    return queryset.annotate(event_count=Coalesce(Subquery(counts.values("n")[:1]), 0))


def incident_page(*, organization: Organization | None = None, page: int = 1, limit: int | None = None) -> IncidentPage:
    """One page of incidents, newest first. Incidents are few, so page numbers do; nothing counts the table.

    Newest first is by id: ids follow creation (created_at is set on insert) and the primary key needs no sort.
    """
    page, limit = max(page, 1), limit or PAGE_SIZE
    queryset = Incident.objects.select_related("organization").order_by("-pk")
    if organization is not None:
        queryset = queryset.filter(organization=organization)
    offset = (page - 1) * limit
    rows = list(_with_event_counts(queryset)[offset : offset + limit + 1])
    return IncidentPage(items=rows[:limit], number=page, has_next=len(rows) > limit)


def incident_detail(*, incident_id: int) -> Incident:
    """One incident with its organization; Http404 when there is none."""
    return get_object_or_404(Incident.objects.select_related("organization"), pk=incident_id)


def incident_events(*, incident: Incident, limit: int = DETAIL_EVENTS) -> list[SecurityEvent]:
    """The incident's events, newest first, without their raw JSON (a list does not show it)."""
    return list(
        SecurityEvent.objects.filter(incident=incident)
        .select_related("organization")
        .defer("raw")
        .order_by("-ts", "-id")[:limit]
    )
