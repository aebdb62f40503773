"""The one strict base every config Struct inherits from."""

from __future__ import annotations

import msgspec


class Base(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Strict, keyword-only, immutable.

    forbid_unknown_fields: a typo must never silently become a default (upstream bug 7).
    kw_only: fields with defaults may precede required ones, as in the YAML.
    frozen: the plan is built from the config once; nothing may mutate it afterwards.

    msgspec does not pass ``kw_only`` on to subclasses and mypy needs ``frozen`` restated, so
    every subclass repeats ``kw_only=True, frozen=True``.
    """
