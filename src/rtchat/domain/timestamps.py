"""How the wire writes a moment; here so that error details and payloads agree."""

from __future__ import annotations

from datetime import datetime


def iso_timestamp(moment: datetime) -> str:
    """JavaScript's `toISOString()` form, as the seed sends: milliseconds and a `Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
