"""Object-size specifications, as the rest of the program sees them after loading.

The loader turns every YAML size form (an integer, a size string such as ``"8MiB"``,
``min_size``/``max_size``, ``{type: fixed|uniform|lognormal, ...}``) into exactly one of these.
All sizes are integers in bytes.
"""

from __future__ import annotations

from sai3bench.config.base import Base


class FixedSize(Base, tag="fixed", kw_only=True, frozen=True):
    size: int


class UniformSize(Base, tag="uniform", kw_only=True, frozen=True):
    """Inclusive bounds, like upstream."""

    min: int = 1024
    max: int = 1048576


class LognormalSize(Base, tag="lognormal", kw_only=True, frozen=True):
    """``mean`` and ``std_dev`` are linear-space values; samples outside [min, max] are redrawn."""

    mean: int
    std_dev: int
    min: int = 1
    max: int = 2**63 - 1


SizeSpec = FixedSize | UniformSize | LognormalSize
