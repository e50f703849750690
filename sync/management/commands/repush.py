"""Re-send events to Threat Response and Webex (failed ones, or the named ones)."""

from django.core.management.base import BaseCommand, CommandError

from sync.models import Organization, PromotionAttempt
from sync.services.repush import repush_events


class Command(BaseCommand):
    help = (
        "Re-push events: --event IDs (this product's event ids), or every failed event (of --org organizations). "
        "Safe to repeat: nothing is created twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", dest="org_ids", action="append", metavar="MERAKI_ORG_ID")
        parser.add_argument("--failed", action="store_true", help="every failed event (the default without --event)")
        parser.add_argument("--event", dest="event_ids", action="append", type=int, metavar="ID")
        parser.add_argument("--notification-only", action="store_true", help="re-send only the Webex alerts")

    def handle(self, *args, org_ids, failed, event_ids, notification_only, **options):
        organization_ids = None
        if org_ids:
            found = dict(Organization.objects.filter(meraki_org_id__in=org_ids).values_list("meraki_org_id", "pk"))
            unknown = sorted(set(org_ids) - set(found))
            if unknown:
                raise CommandError(f"unknown Meraki organization id(s): {', '.join(unknown)}")
            organization_ids = list(found.values())
        results = repush_events(
            event_ids=event_ids,
            organization_ids=organization_ids,
            promotion=not notification_only,
            trigger=PromotionAttempt.Trigger.COMMAND,
        )
        if not results:
            self.stdout.write("nothing to re-push")
        names = dict(Organization.objects.filter(pk__in=results).values_list("pk", "name"))
        failures = 0
        for organization_id, run in results.items():
            self.stdout.write(f"{names[organization_id]}: {run.summary}")
            failures += run.promotion.failed + run.notification.failed + run.skipped
        if failures:
            raise CommandError(f"{failures} event(s) still failed or organization(s) busy: try again")
