"""The management commands as an operator runs them: add_organization, sync_events, ensure_admin.

Options are passed as command-line strings so argparse converts them (``--since 2h``) exactly as in a shell.
sync_events uses the real client built from settings and the real clock, so the fake Meraki's events are placed
relative to ``timezone.now()`` and windows are checked against the run's own t1.
"""

import os
import re
import stat
from datetime import UTC, timedelta
from io import StringIO

import pytest
import responses
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from sync.models import Organization, SecurityEvent, SyncRun
from tests.factories import TEST_API_KEY, ids_events, make_organization
from tests.fakes import FakeMeraki

NEW_KEY = "fedcba9876543210fedcba9876543210fedcba98"


def run_command(name: str, *args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


# --- add_organization ------------------------------------------------------------------------------------------


@pytest.fixture
def api_key_env(monkeypatch) -> str:
    monkeypatch.setenv("TEST_MERAKI_KEY", TEST_API_KEY)
    return "TEST_MERAKI_KEY"


def add_organization(*args: str) -> str:
    return run_command("add_organization", *args)


def test_add_organization_creates_it_with_the_key_from_the_named_variable(db, api_key_env):
    output = add_organization("--name", "Branch offices", "--org-id", "549236", "--api-key-env", api_key_env)

    organization = Organization.objects.get()
    assert (organization.name, organization.meraki_org_id) == ("Branch offices", "549236")
    assert organization.meraki_base_url == "https://api.meraki.com/api/v1"
    assert organization.api_key.reveal() == TEST_API_KEY
    assert output.strip() == f"created organization Branch offices (549236) id={organization.pk}"


def test_add_organization_again_with_the_same_org_and_base_url_updates_it(db, api_key_env, monkeypatch):
    add_organization("--name", "Old name", "--org-id", "549236", "--api-key-env", api_key_env)
    first = Organization.objects.get()
    monkeypatch.setenv(api_key_env, NEW_KEY)

    output = add_organization("--name", "New name", "--org-id", "549236", "--api-key-env", api_key_env)

    updated = Organization.objects.get()
    assert updated.pk == first.pk
    assert updated.name == "New name"
    assert updated.api_key.reveal() == NEW_KEY
    assert output.startswith("updated organization New name (549236)")


def test_add_organization_with_another_base_url_creates_a_second_one(db, api_key_env):
    add_organization("--name", "Global", "--org-id", "549236", "--api-key-env", api_key_env)

    add_organization(
        "--name", "Canada", "--org-id", "549236", "--api-key-env", api_key_env,
        "--base-url", "https://api.meraki.ca/api/v1",
    )  # fmt: skip

    assert sorted(Organization.objects.values_list("meraki_base_url", flat=True)) == [
        "https://api.meraki.ca/api/v1",
        "https://api.meraki.com/api/v1",
    ]


@pytest.mark.parametrize("value", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_add_organization_without_a_key_in_the_variable_names_it(db, monkeypatch, value):
    if value is None:
        monkeypatch.delenv("NO_SUCH_MERAKI_KEY", raising=False)
    else:
        monkeypatch.setenv("NO_SUCH_MERAKI_KEY", value)

    with pytest.raises(CommandError, match="environment variable NO_SUCH_MERAKI_KEY is not set or empty"):
        add_organization("--name", "X", "--org-id", "1", "--api-key-env", "NO_SUCH_MERAKI_KEY")

    assert not Organization.objects.exists()


def test_add_organization_refuses_a_base_url_on_a_foreign_host(db, api_key_env):
    with pytest.raises(CommandError, match=re.escape("refused host evil.example.com")) as caught:
        add_organization(
            "--name", "X", "--org-id", "1", "--api-key-env", api_key_env,
            "--base-url", "https://evil.example.com/api/v1",
        )  # fmt: skip

    assert TEST_API_KEY not in str(caught.value)
    assert not Organization.objects.exists()


def test_add_organization_refuses_a_base_url_without_api_v1(db, api_key_env):
    with pytest.raises(CommandError, match="must end with /api/v1"):
        add_organization(
            "--name", "X", "--org-id", "1", "--api-key-env", api_key_env, "--base-url", "https://api.meraki.com/"
        )

    assert not Organization.objects.exists()


def test_add_organization_stores_the_initial_lookback(db, api_key_env):
    add_organization("--name", "X", "--org-id", "1", "--api-key-env", api_key_env, "--initial-lookback", "2h")

    assert Organization.objects.get().initial_lookback == timedelta(hours=2)


def test_add_organization_refuses_an_unreadable_initial_lookback(db, api_key_env):
    with pytest.raises(CommandError, match="--initial-lookback"):
        add_organization("--name", "X", "--org-id", "1", "--api-key-env", api_key_env, "--initial-lookback", "soon")

    assert not Organization.objects.exists()


def test_add_organization_never_prints_the_key(db, api_key_env, monkeypatch):
    created = add_organization("--name", "X", "--org-id", "1", "--api-key-env", api_key_env)
    monkeypatch.setenv(api_key_env, NEW_KEY)
    updated = add_organization("--name", "X", "--org-id", "1", "--api-key-env", api_key_env)

    assert TEST_API_KEY not in created
    assert NEW_KEY not in updated
    assert NEW_KEY[-4:] not in updated


# --- sync_events -----------------------------------------------------------------------------------------------


@pytest.fixture
def fast_settings(settings):
    settings.MERAKI_RATE_LIMIT_PER_SECOND = 1000
    return settings


@pytest.fixture
def mock_http(fast_settings):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def recent_events(n: int) -> list[dict]:
    """n events in the last half hour of real time: inside the default one-hour first window."""
    return ids_events(timezone.now() - timedelta(minutes=30), n, step=timedelta(minutes=1))


def sync_events(*args: str) -> str:
    return run_command("sync_events", *args)


def summary_for(output: str, organization: Organization) -> str:
    (line,) = [line for line in output.splitlines() if line.startswith(f"{organization.name} (")]
    return line


def test_sync_events_syncs_every_enabled_organization_printing_one_line_each(db, mock_http):
    alpha = make_organization(name="Alpha")
    beta = make_organization(name="Beta")
    FakeMeraki(mock_http, org_id=alpha.meraki_org_id, events=recent_events(3))
    FakeMeraki(mock_http, org_id=beta.meraki_org_id, events=recent_events(12))

    output = sync_events()

    lines = output.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"Alpha ({alpha.meraki_org_id}): succeeded window=")
    assert "pages=1 fetched=3 new=3 duplicates=0 malformed=0 rate_limited=0" in lines[0]
    assert lines[1].startswith(f"Beta ({beta.meraki_org_id}): succeeded window=")
    assert "pages=2 fetched=12 new=12 duplicates=0" in lines[1]
    assert SecurityEvent.objects.count() == 15
    assert set(SyncRun.objects.values_list("trigger", flat=True)) == {SyncRun.Trigger.COMMAND}


def test_sync_events_counts_duplicates_when_rereading(db, mock_http):
    organization = make_organization(name="Alpha")
    FakeMeraki(mock_http, org_id=organization.meraki_org_id, events=recent_events(4))
    sync_events()

    output = sync_events("--since", "1h")

    assert "new=0 duplicates=4" in summary_for(output, organization)


def test_sync_events_with_org_syncs_only_that_organization(db, mock_http):
    alpha = make_organization(name="Alpha")
    beta = make_organization(name="Beta")
    FakeMeraki(mock_http, org_id=alpha.meraki_org_id, events=recent_events(2))
    beta_meraki = FakeMeraki(mock_http, org_id=beta.meraki_org_id, events=recent_events(2))

    output = sync_events("--org", alpha.meraki_org_id)

    assert output.splitlines() == [summary_for(output, alpha)]
    assert beta_meraki.requests == []
    assert not SyncRun.objects.filter(organization=beta).exists()


def test_sync_events_with_org_repeated_syncs_each_named_one(db, mock_http):
    organizations = [make_organization() for _ in range(3)]
    for organization in organizations:
        FakeMeraki(mock_http, org_id=organization.meraki_org_id)

    sync_events("--org", organizations[0].meraki_org_id, "--org", organizations[2].meraki_org_id)

    synced = set(SyncRun.objects.values_list("organization", flat=True))
    assert synced == {organizations[0].pk, organizations[2].pk}


def test_sync_events_with_an_unknown_org_refuses_and_syncs_nothing(db, mock_http):
    known = make_organization()
    meraki = FakeMeraki(mock_http, org_id=known.meraki_org_id)

    with pytest.raises(CommandError, match="unknown Meraki organization id"):
        sync_events("--org", known.meraki_org_id, "--org", "999999999")

    assert meraki.requests == []
    assert not SyncRun.objects.exists()


def test_sync_events_since_a_duration_starts_the_window_that_long_before_now(db, mock_http):
    organization = make_organization()
    FakeMeraki(mock_http, org_id=organization.meraki_org_id)

    sync_events("--since", "2h")

    run = SyncRun.objects.get()
    assert run.t1 - run.t0 == timedelta(hours=2)
    assert abs(run.t1 - timezone.now()) < timedelta(minutes=1)


def test_sync_events_since_an_iso_time_without_offset_starts_there_in_utc(db, mock_http):
    organization = make_organization()
    meraki = FakeMeraki(mock_http, org_id=organization.meraki_org_id)
    since = (timezone.now() - timedelta(days=3)).replace(microsecond=0)
    naive = since.astimezone(UTC).replace(tzinfo=None).isoformat()  # e.g. 2026-12-01T16:00:00

    sync_events("--since", naive)

    run = SyncRun.objects.get()
    assert run.t0 == since
    assert meraki.requests[0].params["t0"] == since.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_sync_events_since_an_iso_time_with_offset_honours_it(db, mock_http):
    organization = make_organization()
    FakeMeraki(mock_http, org_id=organization.meraki_org_id)
    since = (timezone.now() - timedelta(days=1)).replace(microsecond=0)
    with_offset = since.astimezone(UTC).replace(tzinfo=None).isoformat() + "+02:00"

    sync_events("--since", with_offset)

    assert SyncRun.objects.get().t0 == since - timedelta(hours=2)


def test_sync_events_refuses_a_since_that_is_neither_duration_nor_time(db, mock_http):
    make_organization()

    with pytest.raises(CommandError, match="neither a duration"):
        sync_events("--since", "yesterday")

    assert not SyncRun.objects.exists()


def test_sync_events_reads_events_inside_the_since_window_only(db, mock_http):
    organization = make_organization()
    now = timezone.now()
    meraki = FakeMeraki(mock_http, org_id=organization.meraki_org_id)
    meraki.events = ids_events(now - timedelta(hours=5), 5, step=timedelta(hours=1))  # 5h, 4h, 3h, 2h, 1h ago

    output = sync_events("--since", "150m")

    assert "fetched=2 new=2" in summary_for(output, organization)


def test_sync_events_with_a_failing_organization_exits_non_zero_after_syncing_the_others(db, mock_http):
    broken = make_organization(name="Alpha")
    healthy = make_organization(name="Beta")
    mock_http.add(
        responses.GET,
        f"{broken.meraki_base_url}/organizations/{broken.meraki_org_id}/appliance/security/events",
        status=401,
        json={"errors": ["Invalid API key"]},
    )
    FakeMeraki(mock_http, org_id=healthy.meraki_org_id, events=recent_events(3))
    out = StringIO()

    with pytest.raises(CommandError, match="1 organization\\(s\\) had a failed sync"):
        call_command("sync_events", stdout=out)

    broken_line, healthy_line = summary_for(out.getvalue(), broken), summary_for(out.getvalue(), healthy)
    assert broken_line.startswith(f"Alpha ({broken.meraki_org_id}): failed")
    assert "error=Meraki API key rejected (HTTP 401)" in broken_line
    assert healthy_line.startswith(f"Beta ({healthy.meraki_org_id}): succeeded")
    assert "new=3" in healthy_line
    assert SecurityEvent.objects.filter(organization=healthy).count() == 3


def test_sync_events_skips_disabled_organizations(db, mock_http):
    enabled = make_organization(name="Alpha")
    disabled = make_organization(name="Beta", enabled=False)
    FakeMeraki(mock_http, org_id=enabled.meraki_org_id)
    disabled_meraki = FakeMeraki(mock_http, org_id=disabled.meraki_org_id)

    output = sync_events()

    assert [line.split(":")[0] for line in output.splitlines()] == [f"Alpha ({enabled.meraki_org_id})"]
    assert disabled_meraki.requests == []


def test_sync_events_with_org_syncs_a_disabled_organization_named_on_purpose(db, mock_http):
    disabled = make_organization(enabled=False)
    FakeMeraki(mock_http, org_id=disabled.meraki_org_id, events=recent_events(1))

    output = sync_events("--org", disabled.meraki_org_id)

    assert "succeeded" in summary_for(output, disabled)


def test_sync_events_with_no_enabled_organization_prints_nothing_and_succeeds(db, mock_http):
    make_organization(enabled=False)

    assert sync_events() == ""


# --- ensure_admin ----------------------------------------------------------------------------------------------


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    return settings.VAR_DIR


def printed_password(output: str) -> str:
    match = re.search(r"admin / (\S+)", output)
    assert match, output
    return match.group(1)


def test_ensure_admin_creates_a_superuser_whose_printed_password_authenticates(db, var_dir):
    output = run_command("ensure_admin")

    user = get_user_model().objects.get(username="admin")
    assert user.check_password(printed_password(output))
    assert user.is_superuser and user.is_staff


def test_ensure_admin_again_prints_the_same_password(db, var_dir):
    first = printed_password(run_command("ensure_admin"))

    second = printed_password(run_command("ensure_admin"))

    assert second == first
    assert get_user_model().objects.filter(username="admin").count() == 1


def test_ensure_admin_password_file_is_readable_by_its_owner_only(db, var_dir):
    password = printed_password(run_command("ensure_admin"))

    password_file = var_dir / "admin-password.txt"
    assert stat.S_IMODE(os.stat(password_file).st_mode) == 0o600
    assert password_file.read_text().strip() == password


def test_ensure_admin_tightens_a_password_file_left_by_an_earlier_database(db, var_dir):
    var_dir.mkdir()
    stale = var_dir / "admin-password.txt"
    stale.write_text("an-old-password\n")
    stale.chmod(0o644)

    password = printed_password(run_command("ensure_admin"))

    assert stale.read_text().strip() == password
    assert stat.S_IMODE(os.stat(stale).st_mode) == 0o600


def test_ensure_admin_for_an_existing_user_without_a_file_does_not_invent_a_password(db, var_dir):
    get_user_model().objects.create_superuser(username="admin", email="", password="set-by-hand-1234")

    output = run_command("ensure_admin")

    assert "password was set elsewhere" in output
    assert get_user_model().objects.get(username="admin").check_password("set-by-hand-1234")
