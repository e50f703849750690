"""The simulated Meraki Dashboard API v1, mounted at /simulator/meraki/api/v1/."""

from django.urls import path

from sync.simulator.meraki import views

urlpatterns = [
    path(
        "organizations/<str:org_id>/appliance/security/events",
        views.security_events,
        name="meraki-security-events",
    ),
]
