"""config.text and load_config_file: which files are read as a config and how they decode.

Issue 8 item 9: a UTF-16 config parsed and then failed with UnicodeDecodeError when the run
saved config.yaml; ``--config /dev/full`` read until MemoryError after 12 s.
"""

from __future__ import annotations

import codecs
import os
import time

import pytest

from sai3bench.config.load import load_config_file
from sai3bench.config.text import MAX_CONFIG_BYTES, decode_config, read_config_bytes
from sai3bench.errors import ConfigError

TEXT = "target: file:///t/\nworkload: [{op: get, path: 'dätä/*', weight: 100}]\n"


@pytest.mark.parametrize(
    "encoding,bom",
    [
        ("utf-8", b""),
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-32-le", codecs.BOM_UTF32_LE),
        ("utf-32-be", codecs.BOM_UTF32_BE),
    ],
)
def test_bom_marked_configs_decode_to_the_text_that_is_saved(tmp_path, encoding, bom):
    path = tmp_path / "c.yaml"
    path.write_bytes(bom + TEXT.encode(encoding))
    loaded = load_config_file(path)
    assert loaded.text == TEXT  # what run.py saves as config.yaml, as UTF-8
    assert loaded.config.workload[0].path == "file:///t/dätä/*"


@pytest.mark.parametrize(
    "data,message",
    [
        (TEXT.encode("utf-16-le"), "NUL character on line 1"),  # UTF-16 without a BOM
        (b"target: file:///t/\nworkload: \xe9\n", "not valid UTF-8 text (byte 0xe9 on line 2)"),
        (codecs.BOM_UTF16_LE + b"t\x00\x00\xd8", "not valid UTF-16 text"),  # a lone surrogate
        (b"\x00" * 100, "NUL character on line 1"),
    ],
)
def test_other_bytes_are_refused_in_one_line(data, message):
    with pytest.raises(ConfigError) as err:
        decode_config(data)
    assert message in err.value.msg and "\n" not in err.value.msg
    assert "UTF-8" in (err.value.hint or "")


def test_dev_full_is_refused_at_the_size_cap_quickly():
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match=r"^/dev/full: larger than 16 MiB"):
        read_config_bytes("/dev/full")
    assert time.monotonic() - t0 < 10


def test_a_file_just_over_the_cap_is_refused_and_one_at_it_is_read(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * MAX_CONFIG_BYTES)
    assert len(read_config_bytes(path)) == MAX_CONFIG_BYTES
    with path.open("ab") as f:
        f.write(b"#")
    with pytest.raises(ConfigError, match="too large for a config file"):
        read_config_bytes(path)


def test_a_directory_and_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="is a directory, not a config file"):
        read_config_bytes(tmp_path)
    with pytest.raises(ConfigError, match="no such config file"):
        read_config_bytes(tmp_path / "nope.yaml")


def test_an_unreadable_file():
    # A read error even root gets (chmod 0 does not stop root): offset 0 is not mapped.
    with pytest.raises(ConfigError, match=r"cannot read config file \(Input/output error\)"):
        read_config_bytes("/proc/self/mem")


def test_a_named_pipe_without_a_writer_reads_as_empty_instead_of_hanging(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    assert read_config_bytes(fifo) == b""  # open() alone used to wait for a writer forever
    assert time.monotonic() - t0 < 10


def test_a_pipe_with_a_writer_is_read_in_full(tmp_path):
    read, write = os.pipe()
    os.write(write, TEXT.encode())
    os.close(write)
    try:
        assert read_config_bytes(f"/dev/fd/{read}") == TEXT.encode()  # --config <(...)
    finally:
        os.close(read)
