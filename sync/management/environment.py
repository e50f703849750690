"""Secrets for the set-up commands come from environment variables the operator names, never from argv."""

import os

from django.core.management.base import CommandError


def secret_from_environment(variable: str) -> str:
    value = os.environ.get(variable, "").strip()
    if not value:
        raise CommandError(f"environment variable {variable} is not set or empty")
    return value
