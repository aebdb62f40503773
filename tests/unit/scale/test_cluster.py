"""The pure parts of a distributed run (scale/hosts.py): dealing
shares to hosts, choosing workers from distributed.agents, the clock offset, what
--forward-credentials sends, and the error when the Dask client is not installed."""

from __future__ import annotations

import sys

import pytest

from sai3bench.errors import UsageError
from sai3bench.scale.cluster import INSTALL_HINT, cluster_runner
from sai3bench.scale.hosts import clock_offset, deal, forwarded_env, host_label, select_workers


class _Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def say(self, line: str = "") -> None:
        self.lines.append(line)

    def warn(self, line: str) -> None:
        self.lines.append("warning: " + line)

    def progress(self, line: str) -> None:
        pass


@pytest.mark.parametrize(
    ("capacities", "jobs", "expected"),
    [
        ([2, 2], 4, [2, 2]),  # as many jobs as processes: each host its own count
        ([4, 1], 5, [4, 1]),
        ([2, 2], 2, [1, 1]),  # fewer jobs (low concurrency): every host still gets one
        ([3, 1, 2], 4, [2, 1, 1]),
        ([1, 1], 0, [0, 0]),
        ([1, 1], 5, [1, 1]),  # never more than a host runs
    ],
)
def test_deal(capacities: list[int], jobs: int, expected: list[int]) -> None:
    assert deal(capacities, jobs) == expected


def test_forwarded_env_takes_credentials_and_endpoints_only() -> None:
    env = {
        "AWS_ACCESS_KEY_ID": "a",
        "AWS_ENDPOINT_URL": "http://x",
        "GOOGLE_APPLICATION_CREDENTIALS": "/k.json",
        "AZURE_STORAGE_KEY": "k",
        "AZURE_STORAGE_ENDPOINT": "http://az",
        "STORAGE_EMULATOR_HOST": "http://gcs",
        "GCS_ENDPOINT_URL": "http://gcs2",
        "HOME": "/root",
        "PATH": "/bin",
        "AZURE_CLIENT_SECRET": "not a storage variable",
    }
    assert sorted(forwarded_env(env)) == [
        "AWS_ACCESS_KEY_ID",
        "AWS_ENDPOINT_URL",
        "AZURE_STORAGE_ENDPOINT",
        "AZURE_STORAGE_KEY",
        "GCS_ENDPOINT_URL",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "STORAGE_EMULATOR_HOST",
    ]


WORKERS = ["tcp://10.0.0.2:40001", "tcp://10.0.0.1:40002", "tcp://10.0.0.1:40003"]


def test_no_agents_means_every_worker_sorted() -> None:
    out = _Out()
    assert select_workers(WORKERS, (), out.warn) == sorted(WORKERS)
    assert out.lines == []


def test_agents_name_workers_by_address_or_by_host() -> None:
    out = _Out()
    chosen = select_workers(WORKERS, ("10.0.0.1:40003",), out.warn)
    assert chosen == ["tcp://10.0.0.1:40003"]
    by_host = select_workers(WORKERS, ("10.0.0.1:7167",), out.warn)
    assert by_host == ["tcp://10.0.0.1:40002", "tcp://10.0.0.1:40003"]
    assert out.lines == []


def test_an_agent_without_a_worker_is_warned_about_and_ignored() -> None:
    out = _Out()
    chosen = select_workers(WORKERS, ("10.0.0.2:7167", "node9:7167"), out.warn)
    assert chosen == ["tcp://10.0.0.2:40001"]
    assert out.lines == ["warning: distributed.agents: node9:7167 matches no Dask worker; ignored"]


def test_no_agent_matching_uses_every_worker() -> None:
    out = _Out()
    assert select_workers(WORKERS, ("node9:7167",), out.warn) == sorted(WORKERS)
    assert "every worker is used" in out.lines[-1]


def test_clock_offset_keeps_the_shortest_round_trip() -> None:
    # (sent, worker clock, received): the worker is 5 s ahead; the slow sample is skewed.
    samples = [(100.0, 105.3, 100.4), (200.0, 205.001, 200.002), (300.0, 305.5, 301.0)]
    offset_ms, rtt_ms = clock_offset(samples)
    assert offset_ms == pytest.approx(5000.0)
    assert rtt_ms == pytest.approx(2.0)


def test_host_label_drops_the_scheme() -> None:
    assert host_label("tcp://10.0.0.5:40331") == "10.0.0.5:40331"
    assert host_label("[::1]:1") == "[::1]:1"


def test_cluster_without_distributed_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(UsageError) as err:
        cluster_runner("tcp://127.0.0.1:8786", None, _Out(), False)
    assert "--cluster needs the Dask client" in err.value.msg
    assert INSTALL_HINT in (err.value.hint or "")
