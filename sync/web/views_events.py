"""The events pages: the filtered list with bulk re-push, and one event with its history."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from sync.filtersets import EventFilterForm
from sync.models import PromotionStatus
from sync.selectors.events import (
    event_attempts,
    event_detail,
    event_page,
    events_for_analyst,
    failed_event_ids,
    organization_names,
    similar_events,
)
from sync.services.pipeline import PromotionRun
from sync.services.repush import repush_events

VIEW = "sync.view_securityevent"
REPUSH = "sync.repush_securityevent"
REPUSH_LIMIT = 500


def _guarded(*permissions: str):
    """Login first (anonymous → login page), then the permissions (a logged-in user without them → 403)."""

    def decorate(view):
        return login_required(permission_required(permissions, raise_exception=True)(view))

    return decorate


@require_safe
@_guarded(VIEW)
def event_list(request: HttpRequest) -> HttpResponse:
    form = EventFilterForm(request.GET)
    queryset = events_for_analyst(form=form, include_raw=False)
    try:
        page = event_page(queryset=queryset, cursor=request.GET.get("cursor") or None)
    except ValueError:
        messages.warning(request, "That page link is not valid: showing the first page.")
        page = event_page(queryset=queryset, cursor=None)
    return render(
        request,
        "sync/events.html",
        {
            "form": form,
            "page": page,
            "query_string": form.query_string(),
            "can_repush": request.user.has_perm(REPUSH),
            "repush_limit": REPUSH_LIMIT,
        },
    )


@require_POST
@_guarded(VIEW, REPUSH)
def event_list_repush(request: HttpRequest) -> HttpResponse:
    """Re-push the ticked events, or every failed event matching the filters (in the action's query string)."""
    form = EventFilterForm(request.GET)
    query_string = form.query_string()
    if request.POST.get("all_matching") and not form.is_valid():
        # An invalid filter is ignored when listing; here it would widen the re-push beyond what was asked.
        messages.error(request, "Some filters are not valid: fix them before re-pushing all matching events.")
        ids = []
    elif request.POST.get("all_matching"):
        ids = failed_event_ids(queryset=events_for_analyst(form=form, include_raw=False), limit=REPUSH_LIMIT + 1)
        if not ids:
            messages.warning(request, "No failed events match these filters: nothing to re-push.")
    else:
        ids = [int(value) for value in request.POST.getlist("event") if value.isascii() and value.isdigit()]
        if not ids:
            messages.warning(request, "Select at least one event, or tick “all matching”, to re-push.")
    if ids:
        capped = len(ids) > REPUSH_LIMIT
        ids = ids[:REPUSH_LIMIT]
        results = repush_events(event_ids=ids, user=request.user)
        _report(request, results, count=len(ids))
        if capped:
            messages.warning(
                request,
                f"Only the {REPUSH_LIMIT} newest matching events were re-pushed (the limit per request); "
                "narrow the filters, or re-push again, for the others.",
            )
    url = reverse("web:events")
    return redirect(f"{url}?{query_string}" if query_string else url)


@require_safe
@_guarded(VIEW)
def event_view(request: HttpRequest, event_id: int) -> HttpResponse:
    event = event_detail(event_id=event_id)
    return render(
        request,
        "sync/event_detail.html",
        {
            "event": event,
            "raw_json": json.dumps(event.raw, indent=2, ensure_ascii=False),
            "attempts": event_attempts(event=event),
            "similar": similar_events(event=event),
            "can_repush": request.user.has_perm(REPUSH),
            "eligible": event.promotion_status != PromotionStatus.NOT_ELIGIBLE,
        },
    )


@require_POST
@_guarded(VIEW, REPUSH)
def event_repush(request: HttpRequest, event_id: int) -> HttpResponse:
    event = event_detail(event_id=event_id)
    results = repush_events(event_ids=[event.pk], user=request.user)
    _report(request, results, count=1)
    return redirect("web:event", event_id=event.pk)


def _report(request: HttpRequest, results: dict[int, PromotionRun], *, count: int) -> None:
    """One message per organization: what promotion and notification did, or why nothing happened."""
    if not results:
        noun = "event is" if count == 1 else "events are"
        messages.warning(request, f"Nothing to re-push: the selected {noun} not eligible for promotion.")
        return
    names = organization_names(ids=list(results))
    for organization_id, run in results.items():
        failed = run.promotion.failed + run.notification.failed
        level = messages.WARNING if run.skipped else messages.ERROR if failed else messages.SUCCESS
        name = names.get(organization_id, f"organization {organization_id}")
        messages.add_message(request, level, f"Re-push for {name}: {run.summary}")
