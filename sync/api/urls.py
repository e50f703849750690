"""The JSON API, version 1. Paths have no trailing slash; the schema at /api/v1/schema describes them all."""

from django.urls import path, re_path

from sync.api import views

app_name = "api"

urlpatterns = [
    path("events", views.EventListView.as_view(), name="events"),
    path("events/repush", views.RepushView.as_view(), name="events_repush"),
    path("events/<int:event_id>", views.EventDetailView.as_view(), name="event"),
    path("incidents", views.IncidentListView.as_view(), name="incidents"),
    path("incidents/<int:incident_id>", views.IncidentDetailView.as_view(), name="incident"),
    path("sync-runs", views.SyncRunListView.as_view(), name="sync_runs"),
    path("schema", views.SchemaView.as_view(), name="schema"),
    # Anything else under /api/v1/ is a JSON 404, not the site's HTML page: API clients parse every answer.
    re_path(r"^", views.not_found),
]
