"""Create or update a Webex room from a script; the bot token comes from an environment variable."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from sync.management.environment import secret_from_environment
from sync.services.accounts import upsert_webex_room


class Command(BaseCommand):
    help = "Create (or update, matched on name) a Webex room that alerts are posted to."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--room-title", required=True, help="exact title of the room the bot is in")
        parser.add_argument("--token-env", required=True, metavar="VAR", help="variable holding the bot token")
        parser.add_argument("--base-url", default="https://webexapis.com/v1")

    def handle(self, *args, name, room_title, token_env, base_url, **options):
        try:
            room, created = upsert_webex_room(
                name=name, room_title=room_title, bot_token=secret_from_environment(token_env), base_url=base_url
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"{'created' if created else 'updated'} Webex room {room.name}")
