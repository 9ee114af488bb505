# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of identifiers, made before any request is sent.

PRIVATE to this collection: may change at any time.
"""

from __future__ import annotations

import re

HEX24 = re.compile(r"[a-f0-9]{24}")
CLUSTER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9-]*")
# Atlas caps cluster names at 64 characters; a longer name can only be a mistake.
CLUSTER_NAME_MAX = 64

_HEX24_WHAT = "24 lower-case hexadecimal characters"


class InvalidInputError(ValueError):
    """A value that Atlas would refuse, found before any request."""


def check_hex24(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not HEX24.fullmatch(value):
        raise InvalidInputError(f"{name} must be {_HEX24_WHAT}, got {shown(value)}")
    return value


def check_cluster_name(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if (not isinstance(value, str) or len(value) > CLUSTER_NAME_MAX
            or not CLUSTER_NAME.fullmatch(value)):
        raise InvalidInputError(
            f"{name} must be 1 to {CLUSTER_NAME_MAX} letters, digits and hyphens, starting with a letter or digit, got {shown(value)}"
        )
    return value


def shown(value: object) -> str:
    """A value as error messages quote it: repr, cut short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
