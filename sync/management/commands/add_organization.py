"""Create or update an organization from a script; the API key comes from an environment variable."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from sync.durations import parse_duration
from sync.management.environment import secret_from_environment
from sync.models import DEFAULT_MERAKI_BASE_URL, ThreatResponseAccount, WebexRoom
from sync.services.organizations import upsert_organization


class Command(BaseCommand):
    help = (
        "Create (or update, matched on org id and base URL) an organization. The API key is read from the "
        "environment variable named by --api-key-env, never from the command line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--org-id", required=True, help="Meraki organization id")
        parser.add_argument("--api-key-env", required=True, metavar="VAR", help="environment variable holding the key")
        parser.add_argument("--base-url", default=DEFAULT_MERAKI_BASE_URL)
        parser.add_argument("--initial-lookback", type=parse_duration, help="e.g. 2h, 1d (default 1h)")
        parser.add_argument("--threat-response", metavar="NAME", help="Threat Response account to promote to")
        parser.add_argument("--webex-room", metavar="NAME", help="Webex room to notify")

    def handle(self, *args, name, org_id, api_key_env, base_url, initial_lookback, **options):
        api_key = secret_from_environment(api_key_env)
        links = {}
        if options["threat_response"]:
            links["threat_response_account"] = _named(ThreatResponseAccount, options["threat_response"])
        if options["webex_room"]:
            links["webex_room"] = _named(WebexRoom, options["webex_room"])
        try:
            organization, created = upsert_organization(
                name=name,
                meraki_org_id=org_id,
                api_key=api_key,
                base_url=base_url,
                initial_lookback=initial_lookback,
                **links,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        verb = "created" if created else "updated"
        self.stdout.write(
            f"{verb} organization {organization.name} ({organization.meraki_org_id}) id={organization.pk}"
        )


def _named(model, name: str):
    try:
        return model.objects.get(name=name)
    except model.DoesNotExist:
        raise CommandError(f"no {model._meta.verbose_name} named {name!r}") from None
