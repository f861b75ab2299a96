"""The environment variables specaccel reads: on/off switches set to 1 or 0.

``SPECACCEL_PROGRESS`` forces progress bars on (1) or off (0); ``SPECACCEL_DEBUG=1`` lets
an unexpected failure show its traceback.  Any other value is a mistake (``yes``,
``false``, ``2``), refused rather than read as one of the two.
"""

from __future__ import annotations

import os

from specaccel.schema.errors import InputError

SWITCH_VALUES = {"1": True, "0": False}


def env_switch(name: str) -> bool | None:
    """The switch `name`: True (1), False (0) or None (unset or empty)."""
    value = os.environ.get(name, "")
    if value == "":
        return None
    if value not in SWITCH_VALUES:
        raise InputError(f"the environment variable must be 1 or 0, not {value!r}", field=name)
    return SWITCH_VALUES[value]
