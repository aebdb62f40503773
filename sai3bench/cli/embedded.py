"""The bare ``sai3bench run`` quickstart's storage: the bundled mock S3 server as a child process.

Why its own session: Ctrl-C at a terminal sends SIGINT to the whole foreground process group.
A child in that group died at once, while the parent was still stopping its workload and about
to clean up, so the parent's cleanup then talked to a dead server. In its own session the child
sees only what the parent sends it: it is terminated (then killed, if it lingers) after the
parent's cleanup, and on Linux it also gets SIGTERM if the parent dies without cleaning up.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Final

from sai3bench.errors import RunFailed
from sai3bench.scale.lifeline import die_with_parent

KEY: Final = "quickstart"
SECRET: Final = "quickstart-secret"
#: Seconds the child has to exit after SIGTERM before it is killed.
STOP_TIMEOUT: Final = 5.0


@contextlib.contextmanager
def embedded_mock_server() -> Iterator[str]:
    """Run the bundled mock S3 server as a child process (it gets the other core) on a free
    loopback port, with SigV4 checked, and point this process's S3 settings at it."""
    cmd = [sys.executable, "-m", "sai3bench", "mock-server", "--port", "0"]
    cmd += ["--bucket", "quickstart", "--auth", f"{KEY}:{SECRET}"]
    # preexec_fn is unsafe once threads exist (a test calling run_command in-process): skip it.
    alone = threading.active_count() == 1
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        preexec_fn=die_with_parent if alone else None,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RunFailed(
                "the embedded mock server did not start",
                hint="run 'sai3bench mock-server --port 0' to see why",
            )
        with _s3_env(line.split()[-1]) as url:
            yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT: the child never outlives the run."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@contextlib.contextmanager
def _s3_env(url: str) -> Iterator[str]:
    """This process's S3 variables point at ``url`` (restored after)."""
    env = {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    saved = {k: os.environ.get(k) for k in [*env, "AWS_SESSION_TOKEN", "AWS_PROFILE"]}
    os.environ.update(env)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield url
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
