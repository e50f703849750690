"""Webex REST API client for the bot that posts alerts, on plain `requests`.

Two calls: find a room by its title (`GET /rooms`, paged with absolute `Link: rel="next"` URLs; Webex has
no title filter) and post a markdown message to it (`POST /messages`, at most 7439 bytes per field).
Rate limiting follows the Webex SDK: 429, 423 and 503 wait `Retry-After` (at least 1 s, 15 s when the
header is missing), capped here so a worker is never parked for long. Every URL, including each `next`
link, is checked against the Webex allow-list before the bot token is sent, and redirects are never
followed.
"""

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urljoin

import requests

from sync.clients import USER_AGENT, host_of, json_or_none
from sync.clients.errors import AccessError, ApiError, AuthError, ForbiddenHostError, NotFoundError, PaginationError
from sync.clients.hosts import WEBEX_DOMAINS, check_url_allowed
from sync.clients.retry import MalformedResponse, RetryCounters, RetryPolicy, RetryStats, one_line, send_with_retry

logger = logging.getLogger(__name__)

SERVICE = "Webex API"
MAX_MESSAGE_BYTES = 7439  # per field (text, markdown), in UTF-8 bytes (developer.webex.com, create a message)
ROOMS_PAGE_SIZE = 100
RATE_LIMIT_STATUSES = frozenset({423, 429, 503})  # the SDK waits Retry-After on all three
MIN_RETRY_AFTER = 1.0  # the SDK's floor
DEFAULT_RETRY_AFTER = 15.0  # the SDK's wait when Retry-After is missing or malformed


class WebexClient(RetryCounters):
    """Finds rooms and posts messages as one bot.

    Counters accumulate over the client's life and stay readable after an exception: `requests_sent`,
    `pages` (room-list pages read), `rate_limited` (429/423/503 answers) and `retries` (re-sends).
    """

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        extra_allowed_hosts: Iterable[str] = (),
        session: requests.Session | None = None,
        timeout: float = 30,
        max_attempts: int = 4,
        max_rate_limit_retries: int = 5,
        max_retry_after: float = 60,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        max_pages: int = 50,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token:
            raise AuthError("no Webex bot token configured: set the room's bot access token")
        if max_pages < 1:
            raise ValueError("max_pages must be >= 1")
        self.extra_allowed_hosts = tuple(extra_allowed_hosts)
        check_url_allowed(base_url, extra_hosts=self.extra_allowed_hosts, domains=WEBEX_DOMAINS, service=SERVICE)
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._session = session or requests.Session()
        self.timeout = timeout
        self.max_pages = max_pages
        self.retry_policy = RetryPolicy(
            max_attempts=max_attempts,
            max_rate_limit_retries=max_rate_limit_retries,
            max_retry_after=max_retry_after,
            min_retry_after=MIN_RETRY_AFTER,
            default_retry_after=DEFAULT_RETRY_AFTER,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            rate_limit_statuses=RATE_LIMIT_STATUSES,
        )
        self.retry_stats = RetryStats()
        self._sleep = sleep

        self.requests_sent = 0
        self.pages = 0

    def __repr__(self) -> str:
        return f"<WebexClient {self.base_url}>"

    # Public API

    def find_room_id(self, title: str) -> str:
        """The id of the first group room the bot is in whose title is exactly `title`.

        Walks the room list page by page (`Link: rel="next"`); raises NotFoundError when no room matches
        (the bot was not invited), PaginationError if a `next` link repeats or `max_pages` is reached.
        """
        url = f"{self.base_url}/rooms"
        params: dict[str, Any] | None = {"type": "group", "max": ROOMS_PAGE_SIZE}
        source = "base URL"
        visited: set[str] = set()
        for page in range(1, self.max_pages + 1):
            rooms, response = self._request(
                "GET",
                url,
                params=params,
                source=source,
                parse=_rooms_page,
                action="room list",
                not_found="Webex API has no room list there (HTTP 404): check the Webex base URL",
            )
            visited.add(response.url)
            self.pages += 1
            for room in rooms:
                if room.get("title") == title and isinstance(room.get("id"), str) and room["id"]:
                    return room["id"]
            next_link = response.links.get("next", {}).get("url")
            if not next_link:
                raise NotFoundError(f"Webex room '{title}' not found: invite the bot to it")
            url, params = urljoin(response.url, next_link), None
            if url in visited:
                raise PaginationError(
                    f"Webex room list stopped after {page} pages: the next link repeats a page already read"
                )
            source = f"Link next from {host_of(response.url)}"
        raise PaginationError(
            f"Webex room list stopped at the cap of {self.max_pages} pages without finding '{title}':"
            " remove the bot from rooms it no longer needs"
        )

    def post_message(self, *, room_id: str, markdown: str, text: str | None = None) -> dict[str, Any]:
        """Post `markdown` (and `text`, the plain fallback) to a room; return the created Message.

        Each field must fit in MAX_MESSAGE_BYTES of UTF-8: a longer one is refused here (ValueError)
        rather than cut, because only the caller knows where a message may be cut.
        """
        if not room_id:
            raise ValueError("room_id is required")
        if not markdown and not text:
            raise ValueError("a Webex message needs markdown or text")
        payload: dict[str, str] = {"roomId": room_id}
        for name, value in (("markdown", markdown), ("text", text)):
            if not value:
                continue
            size = len(value.encode("utf-8"))
            if size > MAX_MESSAGE_BYTES:
                raise ValueError(
                    f"Webex message {name} is {size} bytes of UTF-8, over the {MAX_MESSAGE_BYTES}-byte limit:"
                    " cut it before posting"
                )
            payload[name] = value
        return self._request(
            "POST",
            f"{self.base_url}/messages",
            json=payload,
            source="base URL",
            parse=_message,
            action="message",
            not_found="Webex room not found or the bot is not a member: invite the bot to it",
        )

    # Plumbing

    def _request(
        self,
        method: str,
        url: str,
        *,
        source: str,
        parse: Callable[[requests.Response], Any],
        action: str,
        not_found: str,
        **kwargs: Any,
    ) -> Any:
        """Check the host, then send with the shared retry loop; map refusals to typed errors."""
        self._check_url(url, source=source)
        return send_with_retry(
            lambda: self._send(method, url, **kwargs),
            parse=parse,
            reject=lambda response: self._error(response, action=action, not_found=not_found),
            policy=self.retry_policy,
            stats=self.retry_stats,
            service=SERVICE,
            host=host_of(url),
            sleep=self._sleep,
            rate_limit_hint="Webex is throttling the bot; try again later",
        )

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.requests_sent += 1
        response = self._session.request(
            method,
            url,
            headers={
                "Authorization": f"Bearer {self._token}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            timeout=self.timeout,
            allow_redirects=False,
            **kwargs,
        )
        logger.debug("webex response method=%s host=%s status=%d", method, host_of(url), response.status_code)
        return response

    def _check_url(self, url: str, *, source: str) -> None:
        try:
            check_url_allowed(url, extra_hosts=self.extra_allowed_hosts, domains=WEBEX_DOMAINS, service=SERVICE)
        except ForbiddenHostError as exc:
            logger.error("webex refused url source=%s: %s", source, exc.message)
            raise ForbiddenHostError(
                f"did not follow the {source}: {exc.message}; the bot token was not sent"
            ) from None

    def _error(self, response: requests.Response, *, action: str, not_found: str) -> ApiError:
        """Map a non-retryable answer (3xx, 4xx) to a typed error with Webex's own message."""
        status = response.status_code
        logger.warning("webex error action=%s host=%s status=%d", action, host_of(response.url), status)
        detail = one_line(_error_text(response).replace(self._token, "[redacted]"))
        suffix = f": Webex says: {detail}" if detail else ""
        if status == 401:
            return AuthError(
                "Webex rejected the bot token (HTTP 401): check or replace the bot's access token", status=401
            )
        if status == 404:
            return NotFoundError(not_found, status=404)
        if status == 403:
            return AccessError(f"Webex refused the {action} to the bot (HTTP 403){suffix}", status=403)
        if 300 <= status < 400:
            target = host_of(urljoin(response.url, response.headers.get("Location", "")))
            return ApiError(
                f"Webex API answered HTTP {status} redirecting to {target}: not followed, so the bot token"
                f" stayed with {host_of(response.url)}; check the Webex base URL",
                status=status,
            )
        return ApiError(f"Webex API rejected the {action} (HTTP {status}){suffix}", status=status)


def _rooms_page(response: requests.Response) -> tuple[list[dict[str, Any]], requests.Response]:
    body = json_or_none(response)
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise MalformedResponse("body has no items list of rooms")
    return items, response


def _message(response: requests.Response) -> dict[str, Any]:
    # A 2xx means the message was posted: a garbled body is logged, not retried (that would post it twice).
    body = json_or_none(response)
    if isinstance(body, dict):
        return body
    logger.warning("webex message posted but the answer is not a JSON object host=%s", host_of(response.url))
    return {}


def _error_text(response: requests.Response) -> str:
    """Webex's `message` (or its first `errors[].description`), else the start of the body."""
    body = json_or_none(response)
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return body["message"]
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("description", ""))
    return response.text[:1000]
