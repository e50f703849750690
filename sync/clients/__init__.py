"""Thin clients for the three cloud APIs (Meraki, Threat Response, Webex) on plain requests."""

from typing import Any
from urllib.parse import urlsplit

import requests

USER_AGENT = "meraki-incidents/0.1"


def host_of(url: str) -> str:
    """The host a URL names, for log lines and messages (never the whole URL, which may carry parameters)."""
    return urlsplit(url).hostname or "?"


def json_or_none(response: requests.Response) -> Any:
    """The body as JSON, or None when it is not JSON (error pages, proxies)."""
    try:
        return response.json()
    except ValueError:
        return None
