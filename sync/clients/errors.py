"""Typed errors shared by every cloud client (Meraki, Threat Response, Webex).

Callers branch on the class (a sync run records *why* it failed, an admin "Test connection" shows the
message as is), so each message must tell an operator what to fix, and must never contain a secret:
clients build messages from status codes, hosts and the API's own error text, never from headers.
"""


class ApiError(Exception):
    """A request the API answered with an error, or that could not be completed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class AuthError(ApiError):
    """The API key or token was rejected (HTTP 401): the configured credential must be replaced."""


class AccessError(ApiError):
    """HTTP 403/404: the key cannot see the organization, or API access is disabled for it."""


class NotFoundError(ApiError):
    """HTTP 404 for a named resource (a Webex room, an API route): it does not exist or the credential cannot see it."""


class RateLimitedError(ApiError):
    """HTTP 429 kept coming after every tolerated retry: the shared request budget is exhausted."""


class TransientError(ApiError):
    """5xx, timeouts, connection errors or a malformed 2xx body, still failing after every retry."""


class ForbiddenHostError(ApiError):
    """A URL, redirect or `Link` pointed outside the allow-list: the request was not sent there."""


class PaginationError(ApiError):
    """Pagination could not finish: a `next` link that does not advance, or the page cap reached."""
