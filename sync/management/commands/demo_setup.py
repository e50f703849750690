"""Set up the demo that `make run` shows: simulated organizations and accounts, and the product pointing at them."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from sync.simulator.demo import set_up_demo


class Command(BaseCommand):
    help = "Create (or refresh) the demo organizations, Threat Response account and Webex room on the simulator."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="where this server is reached")

    def handle(self, *args, base_url, **options):
        if not settings.SIMULATOR_ENABLED:
            raise CommandError("the demo needs the simulator: set SIMULATOR_ENABLED=true")
        try:
            organizations = set_up_demo(base_url=base_url)
        except ValidationError as exc:
            raise CommandError(
                f"{'; '.join(exc.messages)} (add the host to EXTRA_ALLOWED_API_HOSTS, as `make run` does)"
            ) from None
        for organization in organizations:
            self.stdout.write(f"demo organization: {organization}")
