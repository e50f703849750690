from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from sync import health, metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),  # 404 unless METRICS_ENABLED
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]

if settings.SIMULATOR_ENABLED:
    urlpatterns.append(path("simulator/", include("sync.simulator.urls")))
