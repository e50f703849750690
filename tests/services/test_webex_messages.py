import dataclasses
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from sync.models import SecurityEvent
from sync.services.normalize import normalize_event
from sync.services.webex_messages import (
    SHORTENED_NOTE,
    WEBEX_MAX_MESSAGE_BYTES,
    digest_message,
    escape_markdown,
    event_message,
    fit_message,
    investigate_url,
)

OFFICIAL_EVENTS = json.loads(
    (Path(__file__).resolve().parent.parent / "fixtures" / "meraki" / "official_example_events.json").read_text()
)
FILE_SCANNED, IDS_PRIORITY_2, IDS_PRIORITY_1 = OFFICIAL_EVENTS

INVESTIGATE_BASE = "https://visibility.amp.cisco.com/investigate"
INCIDENT_URL = "https://xdr.us.security.cisco.com/incidents/incident-5fe3d6a4-0000-4000-8000-000000000001"
EVENT_URL = "https://incidents.example.com/events/42/"
EVENTS_URL = "https://incidents.example.com/events/?promoted=1"
HOSTILE = "*bold* _it_ [link](http://evil.example) `code` <script>alert(1)</script>"


def security_event(raw: dict, **changes: object) -> SecurityEvent:
    """An unsaved SecurityEvent as ingest stores it: the raw event normalized, then fields replaced."""
    normalized = normalize_event(raw)
    fields = {field.name: getattr(normalized, field.name) for field in dataclasses.fields(normalized)}
    return SecurityEvent(**{**fields, **changes})


def message_for(event: SecurityEvent, *, title: str = "Meraki Security Event: Malware Downloaded") -> str:
    return event_message(
        event,
        title=title,
        incident_url=INCIDENT_URL,
        investigate_url=investigate_url(INVESTIGATE_BASE, [{"type": "ip", "value": event.src_ip or "192.0.2.1"}]),
        event_url=EVENT_URL,
    )


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def test_event_message_has_the_fields_of_the_securex_workflow():
    event = security_event(FILE_SCANNED)
    link = investigate_url(
        INVESTIGATE_BASE,
        [{"type": "ip", "value": "192.168.128.2"}, {"type": "sha256", "value": event.file_hash}],
    )

    message = event_message(
        event,
        title="Meraki Security Event: Malware Downloaded for 192.168.128.2 @ 2020-03-20T16:00:10.144989Z",
        incident_url=INCIDENT_URL,
        investigate_url=link,
        event_url=EVENT_URL,
    )

    assert message == (
        "**Meraki Security Event: Malware Downloaded for 192.168.128.2 @ 2020-03-20T16:00:10.144989Z**\n\n"
        "*File hash:* 3ec1b9a95fe62aa25fc959643a0f227b76d253094681934daaf628d3574b3463\n\n"
        "*Source IP and port:* 192.168.128.2\n\n"
        "*Destination IP and port:* 119.192.233.48:80\n\n"
        "*Time of the event:* 2020-03-20T16:00:10.144989Z\n\n"
        f"**XDR incident:** [Open the incident]({INCIDENT_URL})\n\n"
        f"**Investigate:** [Investigate the observables in XDR]({link})\n\n"
        f"**Event page:** [Open the event in meraki-incidents]({EVENT_URL})"
    )


def test_event_message_shows_the_message_and_ports_of_an_ids_alert():
    message = message_for(security_event(IDS_PRIORITY_1))

    assert "*Message:* POLICY-OTHER Adobe ColdFusion admin interface access attempt" in message
    assert "*Source IP and port:* 1.2.3.4:56023" in message
    assert "*Destination IP and port:* 10.20.30.40:80" in message
    assert "File hash" not in message  # absent values give no empty line


def test_ipv6_source_with_port_is_bracketed():
    message = message_for(security_event({**IDS_PRIORITY_1, "srcIp": "[2001:db8::1]:443"}))

    assert "*Source IP and port:* \\[2001:db8::1\\]:443" in message


def test_links_left_empty_are_left_out():
    message = event_message(
        security_event(IDS_PRIORITY_1), title="t", incident_url="", investigate_url="", event_url=EVENT_URL
    )

    assert "XDR incident" not in message
    assert "Investigate" not in message
    assert message.endswith(f"[Open the event in meraki-incidents]({EVENT_URL})")


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("*", "\\*"),
        ("_", "\\_"),
        ("[", "\\["),
        ("]", "\\]"),
        ("(", "\\("),
        (")", "\\)"),
        ("`", "\\`"),
        ("<script>", "\\<script\\>"),
        ("\\", "\\\\"),
        ("a\n\n# b", "a # b"),
    ],
)
def test_escape_markdown(raw, escaped):
    assert escape_markdown(raw) == escaped


def test_hostile_values_are_escaped_in_the_event_message():
    event = security_event(IDS_PRIORITY_1, message=HOSTILE, file_hash="`hash`")

    message = message_for(event, title=f"Title {HOSTILE}")

    escaped = escape_markdown(HOSTILE)
    assert f"**Title {escaped}**" in message
    assert f"*Message:* {escaped}" in message
    assert "*File hash:* \\`hash\\`" in message
    assert "<script>" not in message
    assert "[link](http://evil.example)" not in message


def test_link_targets_cannot_be_broken_out_of():
    message = event_message(
        security_event(IDS_PRIORITY_1),
        title="t",
        incident_url="https://x.example/a b)(<c>",
        investigate_url="",
        event_url="",
    )

    assert "[Open the incident](https://x.example/a%20b%29%28%3Cc%3E)" in message


@pytest.mark.parametrize("filler", ["a", "é", "€", "🦠", "*"])
def test_fit_message_cuts_on_a_character_boundary_under_the_byte_limit(filler):
    markdown = "**Title**\n\n" + filler * 10_000

    fitted = fit_message(markdown)

    assert utf8_size(fitted) <= WEBEX_MAX_MESSAGE_BYTES
    assert fitted.endswith(SHORTENED_NOTE)
    assert fitted.startswith("**Title**\n\n" + filler * 100)
    fitted.encode("utf-8").decode("utf-8")  # whole characters only
    assert utf8_size(fitted) > WEBEX_MAX_MESSAGE_BYTES - 8  # cut close to the limit, not far below it


def test_fit_message_leaves_a_message_that_fits_alone():
    markdown = "é" * (WEBEX_MAX_MESSAGE_BYTES // 2)

    assert fit_message(markdown) == markdown


def test_fit_message_does_not_leave_an_escape_without_its_character():
    markdown = "x" * (WEBEX_MAX_MESSAGE_BYTES - len(SHORTENED_NOTE) - 3) + "\\*" * 100

    fitted = fit_message(markdown)

    head = fitted.removesuffix("\n\n" + SHORTENED_NOTE)
    assert (len(head) - len(head.rstrip("\\"))) % 2 == 0


@pytest.mark.parametrize("filler", ["é", "🦠", "*"])
def test_long_event_message_is_cut_to_the_limit_and_keeps_its_links(filler):
    event = security_event(IDS_PRIORITY_1, message=filler * 100_000)

    message = message_for(event)

    assert utf8_size(message) <= WEBEX_MAX_MESSAGE_BYTES
    assert SHORTENED_NOTE in message
    assert message.endswith(f"[Open the event in meraki-incidents]({EVENT_URL})")
    assert f"**XDR incident:** [Open the incident]({INCIDENT_URL})" in message


def test_investigate_url_lists_the_observables_url_encoded():
    url = investigate_url(
        INVESTIGATE_BASE,
        [
            {"type": "ip", "value": "1.2.3.4"},
            {"type": "url", "value": "http://a.example/x?y=1&z=2"},
            {"type": "sha256", "value": "ab" * 32},
        ],
    )

    assert url.startswith(INVESTIGATE_BASE + "?q=ip%3A1.2.3.4%0Aurl%3Ahttp%3A%2F%2Fa.example")
    assert parse_qs(urlsplit(url).query)["q"] == [f"ip:1.2.3.4\nurl:http://a.example/x?y=1&z=2\nsha256:{'ab' * 32}"]


def test_investigate_url_skips_observables_that_would_make_it_too_long():
    url = investigate_url(
        INVESTIGATE_BASE,
        [{"type": "url", "value": "http://a.example/" + "x" * 5000}, {"type": "ip", "value": "1.2.3.4"}],
    )

    assert url == INVESTIGATE_BASE + "?q=ip%3A1.2.3.4"


def test_investigate_url_without_observables_is_the_base():
    assert investigate_url(INVESTIGATE_BASE, []) == INVESTIGATE_BASE


def test_investigate_url_appends_to_a_base_with_a_query():
    assert investigate_url("https://x.example/inv?a=1", [{"type": "ip", "value": "1.2.3.4"}]) == (
        "https://x.example/inv?a=1&q=ip%3A1.2.3.4"
    )


def test_digest_counts_events_per_type_and_lists_the_top_five_sources():
    events = (
        [security_event(IDS_PRIORITY_1, src_ip="192.0.2.1")] * 4
        + [security_event(FILE_SCANNED, src_ip="192.0.2.2")] * 3
        + [security_event(IDS_PRIORITY_1, src_ip=f"198.51.100.{i}") for i in range(1, 6)]
        + [security_event(IDS_PRIORITY_1, src_ip="")]
    )

    message = digest_message(events, organization_name="Acme *Corp*", events_url=EVENTS_URL, total=len(events))

    assert message == (
        "**13 Meraki security events promoted for Acme \\*Corp\\***\n\n"
        "**By type:**\n- IDS Alert: 10\n- File Scanned: 3\n\n"
        "**Top 5 sources:**\n- 192.0.2.1: 4\n- 192.0.2.2: 3\n"
        "- 198.51.100.1: 1\n- 198.51.100.2: 1\n- 198.51.100.3: 1\n\n"
        f"**Events:** [Open the event list]({EVENTS_URL})"
    )


def test_digest_says_when_it_counts_fewer_events_than_the_total():
    message = digest_message(
        [security_event(IDS_PRIORITY_1)], organization_name="Acme", events_url=EVENTS_URL, total=250
    )

    assert message.startswith("**250 Meraki security events promoted for Acme**\n\n*The counts below cover 1 of them.*")


def test_digest_escapes_hostile_types_and_stays_under_the_limit():
    events = [security_event(IDS_PRIORITY_1, event_type=f"{HOSTILE} {i} " + "🦠" * 120) for i in range(100)]

    message = digest_message(events, organization_name=HOSTILE, events_url=EVENTS_URL, total=100)

    assert utf8_size(message) <= WEBEX_MAX_MESSAGE_BYTES
    assert "<script>" not in message
    assert message.endswith(f"[Open the event list]({EVENTS_URL})")
