"""Simulated Threat Response, under /simulator/threatresponse/: configure the product with token URL
`<base>/iroh/oauth2/token` and private intel base `<base>` (the client appends `/ctia/...`)."""

from django.urls import path

from sync.simulator.threatresponse import views

urlpatterns = [
    path("iroh/oauth2/token", views.token, name="threatresponse-token"),
    path("ctia/bundle/import", views.bundle_import, name="threatresponse-bundle-import"),
    path(
        "ctia/<str:entity_type>/external_id/<path:external_id>",
        views.by_external_id,
        name="threatresponse-external-id",
    ),
    path("ctia/<str:entity_type>/<path:entity_id>", views.detail, name="threatresponse-detail"),
    path("ctia/<str:entity_type>", views.create, name="threatresponse-create"),
]
