"""Log formatting for production: one JSON object per line, ids as fields, secrets masked.

Wired into ``settings.LOGGING`` (``LOG_FORMAT``); imported while logging is configured, before Django's apps are
ready, so it uses the standard library only.
"""

import json
import logging
import re
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and becomes a JSON field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

# Services write ids into the message (``org=3 run=17``, STYLE.md); lifted into fields so logs can be filtered on
# them without parsing text. An ``extra`` of the same name wins.
_IDS_IN_MESSAGE = re.compile(r"\b(org|run|task_id)=([\w-]+)")

REDACTED = "[REDACTED]"
# Names whose values are secrets: api_key, X-Cisco-Meraki-API-Key, client_secret, access_token, bot_token, password,
# SECRET_KEY, FIELD_ENCRYPTION_KEY.
_CREDENTIAL_NAME = r"[\w-]*(?:api[_-]?key|apikey|token|secret|password|passwd|encryption[_-]?key)(?:[_-]?key)?"
_IS_CREDENTIAL_NAME = re.compile(rf"(?i)^{_CREDENTIAL_NAME}$")
_QUOTED_OR_BARE_VALUE = r"""(["']?)(?:(?<=")[^"]*|(?<=')[^']*|[^\s"'&,;}]+)"""
_SECRET_PATTERNS = [
    # An Authorization header (keeping its scheme), and a bearer token anywhere.
    (
        re.compile(r"""(?i)\b(authorization["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token)\s+)?)[^\s"',;]+"""),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1{REDACTED}"),
    # name=value, "name": "value" and a "...-Key: value" header, for any secret's name.
    (
        re.compile(rf"""(?i)\b({_CREDENTIAL_NAME})(["']?\s*=\s*|["']\s*:\s*|(?<=key):\s*){_QUOTED_OR_BARE_VALUE}"""),
        rf"\1\2\3{REDACTED}",
    ),
    # URL userinfo: scheme://user:password@host keeps the user, drops the password.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@]*):[^\s/@]+@"), rf"\1:{REDACTED}@"),
]


def redact(text: str) -> str:
    """The text with every credential-looking value replaced by ``[REDACTED]``."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redacted(value, name: object = ""):
    """A copy of an ``extra`` value with its secrets masked; containers are copied, never changed in place."""
    if value is not None and isinstance(name, str) and _IS_CREDENTIAL_NAME.match(name):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item, key) for key, item in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_redacted(item) for item in value)
    return value


def _extras(record: logging.LogRecord) -> dict:
    return {name: value for name, value in vars(record).items() if name not in _RECORD_ATTRIBUTES}


class RedactSecretsFilter(logging.Filter):
    """Masks secrets in the message, the traceback and ``extra`` values before any formatter sees the record.

    The services never log secrets on purpose; this catches what slips through, e.g. a library's exception
    message quoting a request header or a database URL.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = original = record.getMessage()
        except Exception:  # a bad format string: let the line through, readable and redacted, instead of raising
            message, original = f"{record.msg} {record.args!r}", None
        redacted = redact(message)
        if redacted != original:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in _extras(record).items():
            setattr(record, name, _redacted(value, name))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, ids and ``extra`` fields, exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        fields = {name: int(value) if value.isdigit() else value for name, value in _IDS_IN_MESSAGE.findall(message)}
        fields.update((name, value) for name, value in _extras(record).items() if not name.startswith("_"))
        for name, value in fields.items():
            entry.setdefault(name, value)  # an extra never replaces time, level, logger or message
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        # Objects JSON cannot hold (a request, a datetime) are written as their str(), which may quote a URL.
        return json.dumps(entry, default=lambda value: redact(str(value)), ensure_ascii=False)
