"""Cisco Threat Response / XDR private intelligence (CTIA) client, on plain `requests`.

Two calls: an OAuth2 client-credentials token (`POST {visibility}/iroh/oauth2/token`, HTTP Basic with the
API client's id and secret) and a bundle import (`POST {private intel}/ctia/bundle/import`, Bearer token).
The token lives about ten minutes and there is no refresh token: it is cached until a minute before it
expires, and a 401 from CTIA (revoked, or expired early) gets one fresh token and one re-send.

Both URLs are checked against the Threat Response allow-list when the client is built and redirects are
never followed, so the secret and the token only ever go to the configured hosts. A bundle import is
safe to re-send after a 5xx, a timeout or a garbled answer: entities carry deterministic external ids,
and CTIA answers `exists` for those already stored.
"""

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from sync.clients import USER_AGENT, host_of, json_or_none
from sync.clients.errors import AccessError, ApiError, AuthError, NotFoundError
from sync.clients.hosts import THREAT_RESPONSE_DOMAINS, check_url_allowed
from sync.clients.retry import MalformedResponse, RetryCounters, RetryPolicy, RetryStats, one_line, send_with_retry

logger = logging.getLogger(__name__)

SERVICE = "Threat Response"
TOKEN_RENEW_MARGIN = 60.0  # seconds before `expires_in` runs out that a cached token stops being used
DEFAULT_TOKEN_LIFETIME = 600.0  # what IROH documents, for a token answer without a usable `expires_in`


class _TokenRejected(AuthError):
    """CTIA answered 401 to a Bearer token: renew it once and re-send (never leaves this module)."""


class ThreatResponseClient(RetryCounters):
    """Gets tokens and imports CTIM bundles for one Threat Response / XDR API client.

    Counters accumulate over the client's life and stay readable after an exception: `requests_sent`
    (HTTP requests, token requests included), `tokens_fetched`, `rate_limited` (429 answers) and
    `retries` (re-sends after a 429 or a transient failure; a re-send with a renewed token is not one).
    """

    def __init__(
        self,
        *,
        token_url: str,
        intel_url: str,
        client_id: str,
        client_secret: str,
        extra_allowed_hosts: Iterable[str] = (),
        session: requests.Session | None = None,
        timeout: float = 30,
        max_attempts: int = 4,
        max_rate_limit_retries: int = 5,
        max_retry_after: float = 60,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not client_id or not client_secret:
            raise AuthError("no Threat Response client id/secret configured: set the account's API client credentials")
        self.extra_allowed_hosts = tuple(extra_allowed_hosts)
        for url in (token_url, intel_url):
            check_url_allowed(
                url, extra_hosts=self.extra_allowed_hosts, domains=THREAT_RESPONSE_DOMAINS, service=SERVICE
            )
        self.token_url = token_url
        self.intel_url = intel_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._session = session or requests.Session()
        self.timeout = timeout
        self.retry_policy = RetryPolicy(
            max_attempts=max_attempts,
            max_rate_limit_retries=max_rate_limit_retries,
            max_retry_after=max_retry_after,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
        )
        self.retry_stats = RetryStats()
        self._sleep = sleep
        self._clock = clock
        self._token: str | None = None
        self._token_expires_at = 0.0

        self.requests_sent = 0
        self.tokens_fetched = 0

    def __repr__(self) -> str:
        return f"<ThreatResponseClient {self.intel_url}>"

    # Public API

    def check_credentials(self) -> None:
        """Fetch a fresh token, for an admin "Test credentials" action; raises the typed errors a push would."""
        self._fetch_token()

    def import_bundle(
        self, bundle: dict[str, Any], *, external_key_prefixes: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Import a CTIM bundle; return CTIA's `results`, one dict per entity, in CTIA's order.

        HTTP 200 does not mean every entity was stored: each result says `created`, `exists` or `error`,
        and the caller must read them all. `external_key_prefixes` limits which external ids CTIA matches
        existing records on (all of them when empty).
        """
        url = f"{self.intel_url}/ctia/bundle/import"
        params = {"external-key-prefixes": ",".join(external_key_prefixes)} if external_key_prefixes else None
        return self._ctia_post(url, bundle, params=params, parse=_import_results, action="bundle import")

    # Token

    def _access_token(self) -> str:
        if self._token is not None and self._clock() < self._token_expires_at:
            return self._token
        return self._fetch_token()

    def _fetch_token(self) -> str:
        """POST the client credentials; cache the token until TOKEN_RENEW_MARGIN before it expires."""
        self._token = None
        started = self._clock()
        token, lifetime = send_with_retry(
            lambda: self._send(
                "POST",
                self.token_url,
                auth=(self._client_id, self._client_secret),
                data={"grant_type": "client_credentials"},
            ),
            parse=_token_answer,
            reject=self._token_error,
            policy=self.retry_policy,
            stats=self.retry_stats,
            service=SERVICE,
            host=host_of(self.token_url),
            sleep=self._sleep,
            rate_limit_hint="the token endpoint is throttling this API client; try again later",
        )
        self.tokens_fetched += 1
        self._token = token
        self._token_expires_at = started + max(0.0, lifetime - TOKEN_RENEW_MARGIN)
        logger.info("threat response token fetched host=%s lifetime=%.0fs", host_of(self.token_url), lifetime)
        return token

    def _token_error(self, response: requests.Response) -> ApiError:
        status = response.status_code
        logger.warning("threat response token refused host=%s status=%d", host_of(self.token_url), status)
        if status in (400, 401):
            return AuthError(
                f"Threat Response rejected the client id/secret (HTTP {status}): check the account's credentials",
                status=status,
            )
        if response.is_redirect:
            return self._redirect_error(response)
        if status == 403:
            return AccessError(
                "Threat Response refused a token to this API client (HTTP 403): check that the client is enabled",
                status=status,
            )
        if status == 404:
            return NotFoundError(
                f"no token endpoint at {self.token_url} (HTTP 404): check the Threat Response token URL",
                status=status,
            )
        return ApiError(f"Threat Response token request failed (HTTP {status}){self._detail(response)}", status=status)

    # CTIA

    def _ctia_post(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        params: dict[str, str] | None,
        parse: Callable[[requests.Response], Any],
        action: str,
    ) -> Any:
        """POST to CTIA with the cached token; on a 401, renew the token once and re-send once."""
        try:
            return self._ctia_post_once(
                url, payload, params=params, parse=parse, action=action, token=self._access_token()
            )
        except _TokenRejected:
            logger.info("threat response token rejected by ctia host=%s: renewing it once", host_of(url))
        try:
            return self._ctia_post_once(
                url, payload, params=params, parse=parse, action=action, token=self._fetch_token()
            )
        except _TokenRejected:
            raise AuthError(
                f"Threat Response rejected a freshly issued token for the {action} (HTTP 401): check that the"
                " token URL and the private intel URL are in the same region",
                status=401,
            ) from None

    def _ctia_post_once(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        params: dict[str, str] | None,
        parse: Callable[[requests.Response], Any],
        action: str,
        token: str,
    ) -> Any:
        return send_with_retry(
            lambda: self._send("POST", url, params=params, json=payload, headers={"Authorization": f"Bearer {token}"}),
            parse=parse,
            reject=lambda response: self._ctia_error(response, action=action, token=token),
            policy=self.retry_policy,
            stats=self.retry_stats,
            service=SERVICE,
            host=host_of(url),
            sleep=self._sleep,
            rate_limit_hint="the account's hourly CTIA request budget is used up; try again later",
        )

    def _ctia_error(self, response: requests.Response, *, action: str, token: str) -> ApiError:
        status = response.status_code
        logger.warning("threat response error action=%s host=%s status=%d", action, host_of(response.url), status)
        if status == 401:
            return _TokenRejected(f"Threat Response rejected the token (HTTP 401) for the {action}", status=401)
        if response.is_redirect:
            return self._redirect_error(response)
        detail = self._detail(response, token)
        if status == 403:
            return AccessError(
                f"Threat Response refused the {action} (HTTP 403): the API client lacks the private-intel scope /"
                f" import-bundle capability{detail}",
                status=status,
            )
        if status == 404:
            return NotFoundError(
                f"Threat Response has no {urlsplit(response.url).path} (HTTP 404): check the private intel URL",
                status=status,
            )
        return ApiError(f"Threat Response rejected the {action} (HTTP {status}){detail}", status=status)

    # Plumbing

    def _send(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        """Send one request; never follows a redirect (the URLs were checked when the client was built)."""
        self.requests_sent += 1
        response = self._session.request(
            method,
            url,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})},
            timeout=self.timeout,
            allow_redirects=False,
            **kwargs,
        )
        logger.debug("threat response response host=%s status=%d", host_of(url), response.status_code)
        return response

    def _redirect_error(self, response: requests.Response) -> ApiError:
        target = host_of(urljoin(response.url, response.headers.get("Location", "")))
        return ApiError(
            f"Threat Response answered HTTP {response.status_code} redirecting to {target}: not followed, so no"
            f" credential left {host_of(response.url)}; check the token and private intel URLs",
            status=response.status_code,
        )

    def _detail(self, response: requests.Response, token: str | None = None) -> str:
        """ ": CTIA says: ..." from the body's error text (one line, truncated, secrets removed), or ""."""
        text = _error_text(response).replace(self._client_secret, "[redacted]")
        for value in (token, self._token):
            if value:
                text = text.replace(value, "[redacted]")
        text = one_line(text)
        return f": CTIA says: {text}" if text else ""


def _token_answer(response: requests.Response) -> tuple[str, float]:
    body = json_or_none(response)
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise MalformedResponse("body has no access_token")
    lifetime = body.get("expires_in")
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
        lifetime = DEFAULT_TOKEN_LIFETIME
    return token, float(lifetime)


def _import_results(response: requests.Response) -> list[dict[str, Any]]:
    body = json_or_none(response)
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list) or not all(isinstance(item, dict) for item in results):
        raise MalformedResponse("body has no results list of objects")
    return results


def _error_text(response: requests.Response) -> str:
    """CTIA's `error`/`message`/`errors` (schema errors are nested: compact JSON), else the body's start."""
    body = json_or_none(response)
    if isinstance(body, dict):
        for key in ("error", "message", "errors"):
            value = body.get(key)
            if value:
                return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))[:1000]
    return response.text[:1000]
