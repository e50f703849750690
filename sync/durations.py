"""Human durations ("90s", "10m", "2h", "7d") for settings and command-line options.

Kept free of Django imports because settings.py uses it.
"""

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Parse "2h", "30m", "90s", "7d", "1w" or a bare number of seconds; raise ValueError otherwise."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 10m, 2h, 7d)")
    number, unit = float(match.group(1)), (match.group(2) or "s").lower()
    return timedelta(**{_UNITS[unit]: number})
