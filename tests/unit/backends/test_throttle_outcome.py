"""A 503 or 429 is one outcome, THROTTLED, whatever the method and the dialect.

A HEAD reply has no body, so its error code never arrives: the status alone must give the
outcome that the GET's or PUT's error document gives. Before, an S3 503 to a HEAD counted as
SERVER_ERROR while the same SlowDown to a GET counted as THROTTLED.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sai3bench.backends import azureshapes, gcsshapes, s3shapes
from sai3bench.outcome import Outcome, status_outcome

OutcomeFor = Callable[[int, str | None], Outcome]

#: (dialect, its outcome_for, the code its 503 carries in a body, the code of its 429).
DIALECTS = [
    pytest.param(s3shapes.outcome_for, "SlowDown", "SlowDown", id="s3"),
    pytest.param(gcsshapes.outcome_for, "backendError", "rateLimitExceeded", id="gcs"),
    pytest.param(azureshapes.outcome_for, "ServerBusy", "TooManyRequests", id="azure"),
]


@pytest.mark.parametrize(("outcome_for", "code_503", "code_429"), DIALECTS)
def test_head_and_get_throttling_are_one_outcome(
    outcome_for: OutcomeFor, code_503: str, code_429: str
) -> None:
    for status, code in ((503, code_503), (429, code_429)):
        head = outcome_for(status, None)  # HEAD: no body, no code
        get = outcome_for(status, code)  # GET/PUT: the error document's code
        assert head is get is Outcome.THROTTLED, (status, code)


@pytest.mark.parametrize(("outcome_for", "code_503", "code_429"), DIALECTS)
def test_other_5xx_stay_server_errors(
    outcome_for: OutcomeFor, code_503: str, code_429: str
) -> None:
    for status in (500, 502, 504):
        assert outcome_for(status, None) is Outcome.SERVER_ERROR


def test_status_table_throttles_429_and_503() -> None:
    assert status_outcome(503) is status_outcome(429) is Outcome.THROTTLED
    assert status_outcome(500) is Outcome.SERVER_ERROR
