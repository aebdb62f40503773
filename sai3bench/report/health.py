"""``util health``'s verdict as text, and what to do about a failed step (pure).

The checks themselves run in cli/health.py; this module owns the step table's shape and the
hints, so they can be tested without storage. A hint is chosen from the failed step and what
the store said: a refused signature points at the secret, an unknown key id at the key id, a
missing bucket at its name, a refused connection at the endpoint's host and port.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sai3bench.outcome import Outcome

_ENDPOINT_VARS = "AWS_ENDPOINT_URL, STORAGE_EMULATOR_HOST or AZURE_STORAGE_ENDPOINT"


@dataclass(frozen=True)
class Step:
    """One check: ``ok`` None means skipped (an earlier step failed, or --read-only)."""

    name: str
    ok: bool | None
    seconds: float = 0.0
    detail: str = ""

    @property
    def result(self) -> str:
        return "skipped" if self.ok is None else "ok" if self.ok else "FAILED"


def format_table(title: str, steps: Sequence[Step], stopped_by: str | None = None) -> str:
    """The table printed by ``util health``: one row per step, its time in ms, a last line
    (``stopped_by``: the signal that ended the checks early)."""
    width = max((len(s.name) for s in steps), default=4)
    lines = [title, f"  {'STEP':<{width}}  {'RESULT':<7}  {'TIME':>10}  DETAIL"]
    for s in steps:
        took = f"{s.seconds * 1000:.2f} ms" if s.ok is not None else "-"
        lines.append(f"  {s.name:<{width}}  {s.result:<7}  {took:>10}  {s.detail}".rstrip())
    ran = [s for s in steps if s.ok is not None]
    total = sum(s.seconds for s in ran) * 1000
    failed = [s for s in ran if not s.ok]
    if stopped_by is not None:
        where = f" at {failed[0].name}" if failed else ""
        lines.append(f"Stopped by {stopped_by}{where}.")
    elif failed:
        passed = len(ran) - len(failed)
        lines.append(f"Failed at {failed[0].name} ({passed} of {len(steps)} steps passed).")
    else:
        lines.append(f"All {len(ran)} steps passed in {total:.2f} ms.")
    return "\n".join(lines)


def hint_for(step: str, outcome: Outcome | None, detail: str) -> str:
    """What to check when ``step`` failed with ``outcome`` (None: not an OpError) and
    ``detail`` (the store's words, e.g. ``403 SignatureDoesNotMatch: ...``)."""
    if "SignatureDoesNotMatch" in detail or "AuthenticationFailed" in detail:
        return (
            "the store refused the signature: check the secret key (AWS_SECRET_ACCESS_KEY, "
            "AZURE_STORAGE_KEY) and the clock"
        )
    if "InvalidAccessKeyId" in detail:
        return "the store does not know this access key id: check AWS_ACCESS_KEY_ID"
    if any(code in detail for code in ("NoSuchBucket", "ContainerNotFound", "bucket does not")):
        return "the bucket or container does not exist: check its name in the URI, or create it"
    if step == "resolve":
        return f"the host name does not resolve: check the endpoint ({_ENDPOINT_VARS})"
    if step == "connect" or outcome in (Outcome.CONNECTION, Outcome.PROTOCOL):
        return (
            f"check the endpoint and its port ({_ENDPOINT_VARS}), that the server is up, and "
            "http:// versus https://"
        )
    if outcome in (Outcome.THROTTLED, Outcome.SERVER_ERROR):
        return (
            "the store is throttling or failing requests (not a credentials problem): "
            "retry later, and check the store's health and logs"
        )
    if outcome == Outcome.TIMEOUT:
        return "the store did not answer in time: check the network path and firewall"
    if step in ("directory", "access"):
        return "check that the directory exists and that this user may read and write it"
    if outcome == Outcome.PERMISSION:
        return f"the credentials are valid but may not {step} here: check their policy"
    if step == "credentials":
        return "check the credentials (the environment variables or files the store's SDK reads)"
    if outcome == Outcome.NO_SPACE:
        return "the file system is full: free space there"
    return f"the {step} step failed: check the URI, the credentials and the store's logs"
