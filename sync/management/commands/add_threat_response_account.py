"""Create or update a Threat Response account from a script; the secret comes from an environment variable."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from sync.management.environment import secret_from_environment
from sync.models import ThreatResponseAccount
from sync.services.accounts import upsert_threat_response_account


class Command(BaseCommand):
    help = "Create (or update, matched on name) a Threat Response account."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--region", choices=ThreatResponseAccount.Region.values, default="us")
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--client-secret-env", required=True, metavar="VAR")
        parser.add_argument("--token-url", default="", help="the whole token endpoint; default from the region")
        parser.add_argument("--intel-url", default="", help="private intel base, /ctia/... is appended")

    def handle(self, *args, name, region, client_id, client_secret_env, token_url, intel_url, **options):
        try:
            account, created = upsert_threat_response_account(
                name=name,
                region=region,
                client_id=client_id,
                client_secret=secret_from_environment(client_secret_env),
                token_url=token_url,
                intel_url=intel_url,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"{'created' if created else 'updated'} Threat Response account {account.name}")
