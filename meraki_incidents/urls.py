from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from sync import health, metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("sync.api.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),  # 404 unless METRICS_ENABLED
    path("", include("sync.web.urls")),
]

if settings.SIMULATOR_ENABLED:
    urlpatterns.append(path("simulator/", include("sync.simulator.urls")))
