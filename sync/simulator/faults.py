"""Fault injection shared by the three simulated APIs."""

from django.db import transaction
from django.db.models import F, Q

from sync.simulator.models import SimulatedFault


def take_fault(*, api: str, org_id: str = "") -> SimulatedFault | None:
    """The fault this request must suffer, if any; consumes one skip or one remaining use atomically.

    Faults apply in the order they were added; a fault bound to an organization only counts that
    organization's requests.
    """
    with transaction.atomic():
        fault = (
            SimulatedFault.objects.select_for_update()
            .filter(api=api, remaining__gt=0)
            .filter(Q(org_id="") | Q(org_id=org_id))
            .order_by("id")
            .first()
        )
        if fault is None:
            return None
        if fault.skip:
            SimulatedFault.objects.filter(pk=fault.pk).update(skip=F("skip") - 1)
            return None
        SimulatedFault.objects.filter(pk=fault.pk).update(remaining=F("remaining") - 1, fired=F("fired") + 1)
        return fault
