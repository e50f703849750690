"""Liveness and readiness probes for load balancers and orchestrators.

`/healthz` says only that the process answers (no database, no cache: a slow database must not get healthy web
processes restarted). `/readyz` checks what a request or a sync needs: the database, the Celery broker and the
cache, each in well under a few seconds, and names what failed without any secret from a connection URL.
"""

import logging
import re
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

BROKER_TIMEOUT = 2.0  # seconds; a probe that hangs is as bad as a failed one
CACHE_KEY_TIMEOUT = 10  # seconds the probe's cache key lives, in case the delete never happens
MAX_MESSAGE_LENGTH = 200
FILESYSTEM_BROKER_FOLDERS = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]*@")


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    """Connect to the Celery broker once (Redis), or find the filesystem broker's folders writable."""
    from meraki_incidents.celery import app  # here, not at import: the app module imports Django settings

    url = settings.CELERY_BROKER_URL
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}
    if url.startswith("filesystem://"):
        for name in FILESYSTEM_BROKER_FOLDERS:
            if options.get(name):
                _check_writable_folder(Path(options[name]))
        return
    with app.connection_for_write(url, transport_options=options, connect_timeout=BROKER_TIMEOUT) as conn:
        # One retry, right away, all within the timeout: the probe answers in seconds either way.
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT)


def _check_writable_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise FileNotFoundError(f"broker folder {folder} does not exist")
    # An unnamed temporary file: a real write, and nothing the broker could ever mistake for a message.
    with tempfile.TemporaryFile(dir=folder):
        pass


def check_cache() -> None:
    key = f"meraki_incidents:readyz:{uuid.uuid4().hex}"
    cache.set(key, "ok", timeout=CACHE_KEY_TIMEOUT)
    try:
        if cache.get(key) != "ok":
            raise LookupError("the cache did not return the value just stored")
    finally:
        cache.delete(key)


CHECKS: dict[str, Callable[[], None]] = {"database": check_database, "broker": check_broker, "cache": check_cache}


def readiness() -> tuple[bool, dict[str, str], dict[str, dict[str, str]]]:
    """Run every check; returns (all ok, {name: "ok" | "error"}, {name: {"error": class, "message": text}})."""
    checks: dict[str, str] = {}
    errors: dict[str, dict[str, str]] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:
            checks[name] = "error"
            errors[name] = {"error": type(exc).__name__, "message": safe_message(exc)}
            logger.warning("readiness check failed check=%s error=%s: %s", name, type(exc).__name__,
                           errors[name]["message"])  # fmt: skip
        else:
            checks[name] = "ok"
    return not errors, checks, errors


def safe_message(exc: BaseException) -> str:
    """The exception's text, short, with no `user:password@` of any URL and no configured password in it."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = _URL_USERINFO.sub(r"\g<scheme>***@", text)
    for secret in _configured_passwords():
        text = text.replace(secret, "***")
    return text if len(text) <= MAX_MESSAGE_LENGTH else text[: MAX_MESSAGE_LENGTH - 1] + "…"


def _configured_passwords() -> set[str]:
    """Passwords in the connection settings, so a driver that quotes one in an error cannot leak it."""
    secrets = {str(database.get("PASSWORD") or "") for database in settings.DATABASES.values()}
    urls = [getattr(settings, "CELERY_BROKER_URL", ""), getattr(settings, "REDIS_URL", "")]
    for alias in settings.CACHES.values():
        location = alias.get("LOCATION") or ""
        urls.extend(location if isinstance(location, list | tuple) else [location])
    for url in urls:
        try:
            password = urlsplit(str(url)).password
        except ValueError:
            continue
        if password:
            secrets.update({password, unquote(password)})
    return {secret for secret in secrets if len(secret) >= 3}  # a 1-2 character "secret" would mangle the text


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    ready, checks, errors = readiness()
    if ready:
        return JsonResponse({"status": "ok", "checks": checks})
    return JsonResponse({"status": "unavailable", "checks": checks, "errors": errors}, status=503)
