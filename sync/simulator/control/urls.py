"""The simulator's page and its fault-injection endpoint, mounted at /simulator/ (staff only)."""

from django.urls import path

from sync.simulator.control import views

urlpatterns = [
    path("", views.index, name="index"),
    path("control/faults", views.faults, name="faults"),
]
