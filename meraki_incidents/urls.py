from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]

if settings.SIMULATOR_ENABLED:
    urlpatterns.append(path("simulator/", include("sync.simulator.urls")))
