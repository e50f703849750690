"""The product's URLs with the simulator mounted, as SIMULATOR_ENABLED=true gives them."""

from django.urls import include, path

from meraki_incidents.urls import urlpatterns as product_urlpatterns

urlpatterns = [*product_urlpatterns, path("simulator/", include("sync.simulator.urls"))]
