"""The demo `make run` sets up: two organizations whose Meraki, Threat Response and Webex are the simulator."""

import pytest
from django.core.management import CommandError, call_command

from sync.models import Organization, PromotionStatus, SecurityEvent, ThreatResponseAccount, WebexRoom
from sync.services.ingest import sync_organization
from sync.services.pipeline import promote_and_notify
from sync.simulator.demo import DEMO_ORGANIZATIONS, set_up_demo
from sync.simulator.models import CtiaEntity, SimulatedMerakiOrganization, SimulatedWebexMessage


def test_demo_setup_refuses_without_the_simulator(db, settings):
    settings.SIMULATOR_ENABLED = False

    with pytest.raises(CommandError, match="SIMULATOR_ENABLED"):
        call_command("demo_setup")


def test_demo_setup_is_idempotent_and_links_everything(db, settings):
    settings.EXTRA_ALLOWED_API_HOSTS = ["127.0.0.1"]

    set_up_demo(base_url="http://127.0.0.1:8000")
    set_up_demo(base_url="http://127.0.0.1:8000")

    organizations = Organization.objects.order_by("meraki_org_id")
    assert [org.meraki_org_id for org in organizations] == [demo.org_id for demo in DEMO_ORGANIZATIONS]
    assert SimulatedMerakiOrganization.objects.count() == 2
    assert (ThreatResponseAccount.objects.count(), WebexRoom.objects.count()) == (1, 1)
    for organization in organizations:
        assert organization.meraki_base_url == "http://127.0.0.1:8000/simulator/meraki/api/v1"
        assert organization.threat_response_account and organization.webex_room
        assert organization.api_key.reveal() != ""


@pytest.mark.django_db(transaction=True)
def test_the_demo_pipeline_syncs_promotes_and_notifies(live_server, settings):
    settings.SIMULATOR_ENABLED = True
    settings.ROOT_URLCONF = "tests.simulator.urlconf"
    settings.EXTRA_ALLOWED_API_HOSTS = ["localhost"]
    settings.MERAKI_RATE_LIMIT_PER_SECOND = 100
    organization = set_up_demo(base_url=live_server.url)[1]  # the smaller one

    run = sync_organization(organization_id=organization.pk)
    result = promote_and_notify(organization_id=organization.pk)

    assert run.status == "succeeded" and run.created > 50
    promoted = SecurityEvent.objects.filter(organization=organization, promotion_status=PromotionStatus.PROMOTED)
    assert result.promotion.succeeded == promoted.count() > 0
    assert CtiaEntity.objects.filter(entity_type="incident").count() == promoted.count()
    assert SimulatedWebexMessage.objects.exists()
