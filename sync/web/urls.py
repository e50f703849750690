"""The analyst pages. Their paths are part of the interface: Threat Response and Webex link to them."""

from django.urls import path

from sync.web import views_account, views_events, views_pages

app_name = "web"

urlpatterns = [
    path("", views_pages.dashboard_view, name="dashboard"),
    path("events/", views_events.event_list, name="events"),
    path("events/repush/", views_events.event_list_repush, name="events_repush"),
    path("events/<int:event_id>/", views_events.event_view, name="event"),
    path("events/<int:event_id>/repush/", views_events.event_repush, name="event_repush"),
    path("incidents/", views_pages.incident_list, name="incidents"),
    path("incidents/<int:incident_id>/", views_pages.incident_view, name="incident"),
    path("sync-runs/", views_pages.sync_run_list, name="sync_runs"),
    path("sync-runs/sync-now/", views_pages.sync_now, name="sync_now"),
    path("account/token/", views_account.api_token, name="api_token"),
]
