"""A config file's bytes -> text: read with a size cap, decode one way, refuse the rest.

Owns: which files may be read as a config (not a directory; at most ``MAX_CONFIG_BYTES``, so
``--config /dev/full`` or ``/dev/zero`` is refused after 16 MiB instead of filling memory), and
which encodings are accepted: UTF-8 (with or without a BOM) and UTF-16/UTF-32 *with* a BOM, as
the YAML spec allows. Whatever is decoded here is the one text that is both parsed and saved as
the run's config.yaml, so the two can never disagree (a UTF-16 file used to parse and then fail
with UnicodeDecodeError when saved).
Never: parses YAML.
"""

from __future__ import annotations

import codecs
import os
from typing import BinaryIO, NoReturn

from sai3bench.errors import ConfigError

__all__ = ["MAX_CONFIG_BYTES", "decode_config", "read_config_bytes"]

MAX_CONFIG_BYTES = 16 << 20
"""The largest config file read: real configs are a few KiB; more is a wrong file or a device."""

# UTF-32 first: its little-endian BOM starts with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ENCODING_HINT = "save the config as UTF-8 text (UTF-16 is read only with a byte order mark)"


def read_config_bytes(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes, at most ``MAX_CONFIG_BYTES``.

    Raises:
        ConfigError: missing, a directory, unreadable, or larger than the cap.
    """
    name = os.fspath(path)
    try:
        with _open_no_wait(path) as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            f"{name}: no such config file", hint="check the path and the current directory"
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"{name}: is a directory, not a config file", hint="pass the YAML file inside it"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{name}: cannot read config file ({exc.strerror or exc})",
            hint="pass a readable YAML file",
        ) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{name}: larger than {MAX_CONFIG_BYTES >> 20} MiB, too large for a config file",
            hint="pass the YAML config file (a few KiB), not a data file or a device",
        )
    return data


def _open_no_wait(path: str | os.PathLike[str]) -> BinaryIO:
    """Open for reading without waiting for a writer: opening a named pipe nobody writes to
    blocks forever, but with O_NONBLOCK it opens at once and then reads as empty. The flag is
    cleared after opening, so a pipe with a writer (``--config <(...)``) is read in full."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def decode_config(data: bytes) -> str:
    """Decode config bytes: by their BOM if they have one, else as strict UTF-8.

    Raises:
        ConfigError: bytes that are not valid in their encoding, or NUL characters (a UTF-16
            file without a BOM, or a binary file), naming the line.
    """
    codec = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    if codec == "utf-8" and b"\0" in data:
        _refuse_nul(data[: data.index(b"\0")].count(b"\n") + 1)
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        what = "UTF-8" if codec == "utf-8" else codec.upper().replace("-SIG", "")
        raise ConfigError(
            f"the config is not valid {what} text (byte 0x{data[exc.start]:02x} on line {line})",
            hint=_ENCODING_HINT,
        ) from None
    text = text.removeprefix("\ufeff")
    if "\0" in text:
        _refuse_nul(text.count("\n", 0, text.index("\0")) + 1)
    return text


def _refuse_nul(line: int) -> NoReturn:
    raise ConfigError(
        f"the config contains a NUL character on line {line} (binary, or UTF-16 without a BOM)",
        hint=_ENCODING_HINT,
    )
