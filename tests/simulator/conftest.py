import pytest


@pytest.fixture(autouse=True)
def simulator_enabled(settings):
    """Mount the simulator (as SIMULATOR_ENABLED=true does) and let the product's clients reach it."""
    settings.SIMULATOR_ENABLED = True
    settings.ROOT_URLCONF = "tests.simulator.urlconf"
    settings.EXTRA_ALLOWED_API_HOSTS = ["localhost", "testserver"]
    settings.SIMULATOR_MERAKI_ERROR_RATE = 0.0
    settings.SIMULATOR_LATENCY = 0.0
