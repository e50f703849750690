from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "sync.simulator"
    label = "simulator"
    verbose_name = "Cloud API simulator"
