"""Which events matter: the organization's promotion rules.

Defaults reproduce the original SecureX workflow and the real API: malware (File Scanned with disposition
Malicious, and "Malware Downloaded" as the original workflow named it) and IDS Alerts of priority 1.
"""

from typing import Protocol

from sync.models import Organization

MALWARE_DOWNLOADED = "Malware Downloaded"
FILE_SCANNED = "File Scanned"
IDS_ALERT = "IDS Alert"


class EventFields(Protocol):
    event_type: str
    disposition: str
    priority: int | None


def is_malware(event: EventFields) -> bool:
    return event.event_type == MALWARE_DOWNLOADED or (
        event.event_type == FILE_SCANNED and event.disposition.lower() == "malicious"
    )


def is_eligible(event: EventFields, *, organization: Organization) -> bool:
    """True when the organization's rules say this event becomes an incident."""
    if organization.promote_malware and is_malware(event):
        return True
    return (
        organization.promote_ids
        and event.event_type == IDS_ALERT
        and event.priority is not None
        and event.priority <= organization.ids_priority_threshold
    )
