"""The dashboard, incidents and sync runs pages: each view reads one selector and renders a template."""

from functools import partial
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST, require_safe

from sync import tasks
from sync.models import Organization, SyncRun
from sync.selectors.dashboard import ChartRange, OrganizationSummary, dashboard
from sync.selectors.incidents import DETAIL_EVENTS, incident_detail, incident_events, incident_page
from sync.selectors.runs import sync_run_page
from sync.web.charts import events_chart_svg


class OrganizationFilterForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.order_by("name", "pk"), required=False, empty_label="All organizations"
    )

    def selected(self) -> Organization | None:
        return self.cleaned_data.get("organization") if self.is_valid() else None


class SyncNowForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.order_by("name", "pk"), empty_label="Choose an organization"
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "sync-now-%s")
        super().__init__(*args, **kwargs)


def _organization_query(organization: Organization | None) -> str:
    return urlencode({"organization": organization.pk}) if organization else ""


def _chart_svg(summary: OrganizationSummary) -> SafeString:
    chart = summary.chart
    totals = "; ".join(f"{series.event_type}: {series.total}" for series in chart.series) or "no events"
    return events_chart_svg(
        chart_id=f"chart-{summary.organization.pk}",
        title=f"Events by type over the last {chart.range.label}: {summary.organization.name}",
        description=(
            f"Line chart, one line per event type, events per {chart.range.bucket_label}. Totals: {totals}. "
            "The table below the chart has the same numbers."
        ),
        buckets=chart.buckets,
        series=[(series.event_type, series.counts) for series in chart.series],
        date_format=chart.range.date_format,
    )


MAX_PAGE = 10_000  # beyond any real list of incidents; a huge number would overflow the database's OFFSET


def _page_number(value: str | None) -> int:
    try:
        return min(max(int(value or 1), 1), MAX_PAGE)
    except ValueError:
        return 1


@require_safe
@login_required
@permission_required(["sync.view_organization", "sync.view_securityevent"], raise_exception=True)
def dashboard_view(request: HttpRequest) -> HttpResponse:
    chart_range = ChartRange.parse(request.GET.get("range"))
    data = dashboard(chart_range=chart_range)
    cards = [{"summary": summary, "svg": _chart_svg(summary)} for summary in data.organizations]
    return render(
        request,
        "sync/dashboard.html",
        {"dashboard": data, "cards": cards, "ranges": list(ChartRange), "chart_range": chart_range},
    )


@require_safe
@login_required
@permission_required("sync.view_incident", raise_exception=True)
def incident_list(request: HttpRequest) -> HttpResponse:
    form = OrganizationFilterForm(request.GET)
    organization = form.selected()
    page = incident_page(organization=organization, page=_page_number(request.GET.get("page")))
    return render(
        request,
        "sync/incidents.html",
        {
            "form": form,
            "page": page,
            "query_string": _organization_query(organization),
        },
    )


@require_safe
@login_required
@permission_required(["sync.view_incident", "sync.view_securityevent"], raise_exception=True)
def incident_view(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = incident_detail(incident_id=incident_id)
    events = incident_events(incident=incident)
    return render(
        request,
        "sync/incident_detail.html",
        {
            "incident": incident,
            "events": events,
            "events_limit": DETAIL_EVENTS,
        },
    )


@require_safe
@login_required
@permission_required("sync.view_syncrun", raise_exception=True)
def sync_run_list(request: HttpRequest) -> HttpResponse:
    form = OrganizationFilterForm(request.GET)
    organization = form.selected()
    try:
        page = sync_run_page(organization=organization, cursor=request.GET.get("cursor"))
    except ValueError:
        raise Http404("This page of sync runs does not exist (the link is broken or outdated).") from None
    context = {
        "form": form,
        "page": page,
        "organization": organization,
        "query_string": _organization_query(organization),
    }
    if request.user.is_staff:
        context["sync_form"] = SyncNowForm(initial={"organization": organization})
    return render(request, "sync/sync_runs.html", context)


@require_POST
@login_required
def sync_now(request: HttpRequest) -> HttpResponse:
    """Queue a sync of one organization (staff only); the task is sent once the request's transaction commits."""
    if not request.user.is_staff:
        raise PermissionDenied("Only staff can start a sync.")
    form = SyncNowForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose an organization to sync.")
        return redirect("web:sync_runs")
    organization = form.cleaned_data["organization"]
    transaction.on_commit(partial(tasks.sync_organization.delay, organization.pk, SyncRun.Trigger.MANUAL))
    messages.success(request, f"A sync of {organization.name} was queued; its run appears here when it starts.")
    target = request.POST.get("next", "")
    hosts = {request.get_host()}
    if not url_has_allowed_host_and_scheme(target, allowed_hosts=hosts, require_https=request.is_secure()):
        target = f"{reverse('web:sync_runs')}?organization={organization.pk}"
    return redirect(target)
