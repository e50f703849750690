"""Property-based run of the whole schema (schemathesis): no request an analyst's script can make is a 500, and
every answer is one the schema documents.

The app runs in-process over WSGI, in the test's transaction, with events, incidents and runs to read. Re-push
only reaches organizations without Threat Response or Webex, so nothing leaves the process.
"""

import re
from datetime import timedelta

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from meraki_incidents.wsgi import application
from sync.models import Incident, NotificationStatus, PromotionStatus, SyncRun
from tests.api.conftest import NOW, make_event
from tests.factories import make_organization


@pytest.fixture
def stored(db) -> dict[str, int]:
    """Events (some hostile, some failed), an incident and sync runs; the ids of one event and the incident."""
    organization = make_organization()
    incident = Incident.objects.create(
        organization=organization, ctia_id="ctia-incident-1", external_id="x-1", title="<b>t</b>", severity="High",
        status="New",
    )  # fmt: skip
    events = [
        make_event(
            organization,
            ts=NOW - timedelta(minutes=n),
            priority=n % 4 + 1,
            src_ip=f"192.0.2.{n}",
            client_mac="a1:b2:c3:d4:e5:f6",
            message=f"<script>alert({n})</script>",
            promotion_status=[PromotionStatus.FAILED, PromotionStatus.PENDING, PromotionStatus.PROMOTED][n % 3],
            notification_status=NotificationStatus.FAILED if n % 2 else NotificationStatus.NOT_ELIGIBLE,
            incident=incident if n % 3 == 2 else None,
        )
        for n in range(12)
    ]
    for n in range(3):
        SyncRun.objects.create(organization=organization, started_at=NOW - timedelta(hours=n), status="succeeded")
    return {"event_id": events[2].pk, "incident_id": incident.pk}


@pytest.fixture
def connection_kept_open():
    """Django closes the database connection after each request, which in a test's transaction ends the test's
    data (on PostgreSQL). Its test client avoids that the same way: by not listening for the signals."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(stored, analyst_token, connection_kept_open):
    return schemathesis.openapi.from_wsgi(
        "/api/v1/schema", application, headers={"Authorization": f"Token {analyst_token.key}"}
    )


# schemathesis.pytest.from_fixture (its lazy loader) does not run under pytest 9, so each operation gets its own
# Hypothesis test here, with data that fits the schema and data that does not.
# No 500; and every answer is one the schema documents (status, content type, shape), so the schema is accurate.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    database=None,  # nothing written to .hypothesis/ in the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_is_a_server_error(api_schema, analyst_token, mode):
    for operation in operations(api_schema):
        run(operation, analyst_token, generation_mode=mode)


def test_no_request_for_a_stored_object_is_a_server_error(api_schema, analyst_token, stored):
    """Random ids almost never exist: here the detail operations read the stored event and incident."""
    for operation in operations(api_schema):
        if names := re.findall(r"{(\w+)}", operation.path):
            run(operation, analyst_token, path_parameters={name: stored[name] for name in names})


def operations(api_schema) -> list:
    found = [result.ok() for result in api_schema.get_all_operations()]
    assert len(found) == 6
    return found


def run(operation, token, **strategy_options) -> None:
    @EXAMPLES
    @given(case=operation.as_strategy(**strategy_options))
    def call(case):
        case.call_and_validate(headers={"Authorization": f"Token {token.key}"}, checks=CHECKS)

    call()
