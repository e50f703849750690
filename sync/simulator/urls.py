"""The simulator's URLs, mounted under /simulator/ only when SIMULATOR_ENABLED is true."""

from django.urls import include, path

app_name = "simulator"

urlpatterns = [
    path("meraki/api/v1/", include("sync.simulator.meraki.urls")),
    path("threatresponse/", include("sync.simulator.threatresponse.urls")),
    path("webex/v1/", include("sync.simulator.webex.urls")),
    path("", include("sync.simulator.control.urls")),
]
