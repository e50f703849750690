"""Simulated Webex REST API, mounted at /simulator/webex/v1/ (the real one is https://webexapis.com/v1/)."""

from django.urls import path

from sync.simulator.webex import views

app_name = "webex"

urlpatterns = [
    path("rooms", views.rooms, name="rooms"),
    path("messages", views.messages, name="messages"),
]
