"""Thin clients for the three cloud APIs (Meraki, Threat Response, Webex) on plain requests."""

USER_AGENT = "meraki-incidents/0.1"
