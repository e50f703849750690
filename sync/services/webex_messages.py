"""Webex markdown for promoted security events: one message per event, or one digest for many.

Pure functions: no database, no HTTP. Every value that came from the network is markdown-escaped, and every
message fits Webex's limit of 7439 bytes (UTF-8) per markdown body: what does not fit is cut, with a note that
sends the reader to the event page.
"""

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from sync.models import SecurityEvent

WEBEX_MAX_MESSAGE_BYTES = 7439
SHORTENED_NOTE = "(message shortened: see the event page)"
DIGEST_TOP_SOURCES = 5
# Beyond this many distinct event types the digest says "... and N more types" rather than list them all.
DIGEST_MAX_TYPES = 20
# Browsers and proxies refuse very long URLs; an investigate link past this many characters of query drops the
# observables that do not fit (the long ones are URLs, which the event page shows anyway).
INVESTIGATE_MAX_QUERY = 2000
_MIN_DETAILS_BYTES = 500

# Inline markdown that a value could use to format, link or inject HTML; values never start a line, so block
# markers (#, -, +, "1.") cannot take effect and are left alone to keep IPs and names readable.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()<>!|~&])")
# Line breaks and other control characters would let a value start its own markdown block.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_LINK_UNSAFE = {" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E", "\\": "%5C", '"': "%22"}
_LINK_UNSAFE_RE = re.compile('[ ()<>\\\\"]')


def escape_markdown(text: object) -> str:
    """Text shown literally by a markdown renderer: one line, every inline markdown character backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(text))


def one_line(text: object) -> str:
    """The value as a single line: control characters and line breaks become one space."""
    return _CONTROL.sub(" ", "" if text is None else str(text)).strip()


def markdown_link(text: str, url: str) -> str:
    """``[text](url)`` with the text escaped and the characters that would end the link target percent-encoded."""
    target = _LINK_UNSAFE_RE.sub(lambda match: _LINK_UNSAFE[match[0]], one_line(url))
    return f"[{escape_markdown(text)}]({target})"


def format_time(value: datetime | None) -> str:
    """An event time as Meraki writes it (ISO 8601 UTC, microseconds, ``Z``); "unknown time" when missing."""
    if value is None:
        return "unknown time"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def address_with_port(ip: str, port: int | None) -> str:
    """``1.2.3.4:80``, ``[2001:db8::1]:443`` or the bare address when the port is unknown."""
    if not ip or port is None:
        return ip
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def investigate_url(base: str, observables: Iterable[Mapping[str, str]]) -> str:
    """The Threat Response investigate link for observables: ``base?q=<type:value lines, URL-encoded>``.

    Observables whose value holds a line break (which would split the query) are skipped, and so are those that
    would push the query past INVESTIGATE_MAX_QUERY characters. With none left the base is returned as it is.
    """
    parts: list[str] = []
    length = 0
    for observable in observables:
        kind, value = str(observable.get("type", "")), str(observable.get("value", ""))
        if not kind or not value or _CONTROL.search(value):
            continue
        encoded = quote(f"{kind}:{value}", safe="")
        added = len(encoded) + (3 if parts else 0)  # "%0A" between lines
        if length + added > INVESTIGATE_MAX_QUERY:
            continue
        parts.append(encoded)
        length += added
    if not parts:
        return base
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}q={'%0A'.join(parts)}"


def fit_message(markdown: str, *, limit: int = WEBEX_MAX_MESSAGE_BYTES) -> str:
    """The markdown itself when it fits in ``limit`` UTF-8 bytes; else its start, cut on a character boundary,
    followed by SHORTENED_NOTE, the whole within the limit."""
    encoded = markdown.encode("utf-8")
    if len(encoded) <= limit:
        return markdown
    note = "\n\n" + SHORTENED_NOTE
    budget = limit - len(note.encode("utf-8"))
    if budget <= 0:
        return SHORTENED_NOTE.encode("utf-8")[: max(limit, 0)].decode("utf-8", "ignore")
    # "ignore" drops the bytes of a character the cut went through, so the start stays valid UTF-8.
    head = encoded[:budget].decode("utf-8", "ignore").rstrip()
    return _drop_dangling_escape(head) + note


def event_message(
    event: "SecurityEvent", *, title: str, incident_url: str, investigate_url: str, event_url: str
) -> str:
    """The alert for one promoted event, with the fields of the original SecureX workflow (0061).

    Title, message, file hash, source and destination with ports, time, then links to the incident, to an
    investigation of the observables and to the event page. Links come last but are never cut: only the details
    above them are shortened when the whole would not fit.
    """
    details = [f"**{escape_markdown(title)}**"]
    fields = (
        ("Message", event.message),
        ("File hash", event.file_hash),
        ("Source IP and port", address_with_port(event.src_ip, event.src_port)),
        ("Destination IP and port", address_with_port(event.dest_ip, event.dest_port)),
        ("Time of the event", format_time(event.ts)),
    )
    details += [f"*{label}:* {escape_markdown(value)}" for label, value in fields if one_line(value)]
    links = [
        f"**{label}:** {markdown_link(text, url)}"
        for label, text, url in (
            ("XDR incident", "Open the incident", incident_url),
            ("Investigate", "Investigate the observables in XDR", investigate_url),
            ("Event page", "Open the event in meraki-incidents", event_url),
        )
        if url
    ]
    return _details_then_links(details, links)


def digest_message(events: Iterable["SecurityEvent"], *, organization_name: str, events_url: str, total: int) -> str:
    """One message for many promoted events: counts per event type, the top sources and a link to the list.

    ``total`` is the number of events the digest stands for; ``events`` may be fewer (a sample), in which case
    the message says how many the counts cover.
    """
    types: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    counted = 0
    for event in events:
        counted += 1
        types[one_line(event.event_type) or "(no event type)"] += 1
        if source := one_line(event.src_ip):
            sources[source] += 1
    noun = "event" if total == 1 else "events"
    details = [f"**{total} Meraki security {noun} promoted for {escape_markdown(organization_name)}**"]
    if counted != total:
        details.append(f"*The counts below cover {counted} of them.*")
    if types:
        ranked = _ranked(types)
        lines = [f"- {escape_markdown(name)}: {count}" for name, count in ranked[:DIGEST_MAX_TYPES]]
        if len(ranked) > DIGEST_MAX_TYPES:
            lines.append(f"- … and {len(ranked) - DIGEST_MAX_TYPES} more types")
        details.append("**By type:**\n" + "\n".join(lines))
    if sources:
        lines = [f"- {escape_markdown(ip)}: {count}" for ip, count in _ranked(sources)[:DIGEST_TOP_SOURCES]]
        details.append(f"**Top {min(len(sources), DIGEST_TOP_SOURCES)} sources:**\n" + "\n".join(lines))
    links = [f"**Events:** {markdown_link('Open the event list', events_url)}"] if events_url else []
    return _details_then_links(details, links)


def _ranked(counter: Counter[str]) -> list[tuple[str, int]]:
    # Most frequent first; ties by name, so the same events always give the same message.
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def _details_then_links(details: list[str], links: list[str]) -> str:
    """Paragraphs of details, then the links; when too long, the details are shortened and the links kept."""
    body = "\n\n".join(details)
    if not links:
        return fit_message(body)
    footer = "\n\n" + "\n\n".join(links)
    room = WEBEX_MAX_MESSAGE_BYTES - len(footer.encode("utf-8"))
    if room < _MIN_DETAILS_BYTES:  # links absurdly long: keep the start of everything instead
        return fit_message(body + footer)
    return fit_message(body, limit=room) + footer


def _drop_dangling_escape(text: str) -> str:
    """Without a final unpaired backslash, which a cut can leave from an escape and would escape what follows."""
    trailing = len(text) - len(text.rstrip("\\"))
    return text[:-1] if trailing % 2 else text
