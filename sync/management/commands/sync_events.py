"""Run a sync in the foreground: for cron users, backfills and debugging."""

from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError

from sync.durations import parse_duration
from sync.models import Organization, PromotionAttempt, SyncRun
from sync.services.ingest import sync_organization
from sync.services.pipeline import promote_and_notify


def parse_since(value: str) -> datetime | timedelta:
    """A duration back from now ("2h", "7d") or an ISO-8601 time (UTC when it has no offset)."""
    try:
        return parse_duration(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since: {value!r} is neither a duration (2h, 30m, 7d) nor an ISO-8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Sync Meraki security events now, in the foreground; exits non-zero when a sync failed."

    def add_arguments(self, parser):
        parser.add_argument(
            "--org",
            dest="org_ids",
            action="append",
            metavar="MERAKI_ORG_ID",
            help="Meraki organization id to sync (repeatable); default: every enabled organization.",
        )
        parser.add_argument(
            "--since", type=parse_since, help="Start of the window: a duration (2h, 7d) or an ISO-8601 time."
        )
        parser.add_argument(
            "--no-promote", action="store_true", help="Only sync: no promotion to Threat Response, no Webex alerts."
        )

    def handle(self, *args, org_ids, since, no_promote=False, **options):
        # call_command(since="2h", org_ids="123") skips argparse's conversion: accept the plain strings too.
        since = parse_since(since) if isinstance(since, str) else since
        org_ids = [org_ids] if isinstance(org_ids, str) else org_ids
        organizations = Organization.objects.order_by("name")
        if org_ids:
            organizations = organizations.filter(meraki_org_id__in=org_ids)
            unknown = set(org_ids) - set(organizations.values_list("meraki_org_id", flat=True))
            if unknown:
                raise CommandError(f"unknown Meraki organization id(s): {', '.join(sorted(unknown))}")
        else:
            organizations = organizations.filter(enabled=True)
        failed = 0
        for organization in organizations:
            run = sync_organization(organization_id=organization.pk, trigger=SyncRun.Trigger.COMMAND, since=since)
            line = summary_line(organization, run)
            failed += run.status == SyncRun.Status.FAILED
            promotes = organization.threat_response_account_id or organization.webex_room_id
            if promotes and not no_promote and run.status != SyncRun.Status.SKIPPED:
                result = promote_and_notify(organization_id=organization.pk, trigger=PromotionAttempt.Trigger.COMMAND)
                failed += result.promotion.failed + result.notification.failed > 0
                line = f"{line}; {result.summary}"
            self.stdout.write(line)
        if failed:
            raise CommandError(f"{failed} organization(s) had a failed sync, promotion or notification")


def summary_line(organization: Organization, run: SyncRun) -> str:
    window = f"{run.t0:%Y-%m-%dT%H:%M:%SZ}..{run.t1:%Y-%m-%dT%H:%M:%SZ}" if run.t0 and run.t1 else "-"
    line = (
        f"{organization.name} ({organization.meraki_org_id}): {run.status} window={window} pages={run.pages} "
        f"fetched={run.fetched} new={run.created} duplicates={run.duplicates} malformed={run.malformed} "
        f"rate_limited={run.rate_limited}"
    )
    return f"{line} error={run.error}" if run.error else line
