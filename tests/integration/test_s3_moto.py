"""SigV4 checked by a third party: moto's S3 server in auth mode.

moto starts with INITIAL_NO_AUTH_ACTION_COUNT=3: the first three calls (IAM: user, access key,
an s3:* policy) go unauthenticated, everything after is checked. Our client then runs a whole
prepare -> workload -> cleanup with that key; a wrong secret must fail fast with one line.
moto is slow (~300 ops/s here), so the data set is small. Under CI=true a missing moto fails.

moto 5.2 rebuilds the canonical query from the decoded URL, so a %2F in a query value (a
listing prefix such as ``data/``) fails its SigV4 check, for boto3 as well (checked by hand).
The data set therefore sits at the bucket root, where every listing prefix is slash-free, and
the workload names exact keys.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import free_port, run_cli, wait_for_port, write_config

MOTO = shutil.which("moto_server")


@pytest.fixture(scope="module")
def moto() -> Iterator[dict[str, str]]:
    if MOTO is None:
        if os.environ.get("CI") == "true":
            pytest.fail("moto_server is not installed (pip install 'moto[server]')")
        pytest.skip("moto_server is not installed")
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    with subprocess.Popen(
        [MOTO, "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as proc:
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_port(port, "moto_server", timeout=20)
            yield {**_iam_key(url), "AWS_ENDPOINT_URL": url}
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _iam_key(url: str) -> dict[str, str]:
    """The three unauthenticated calls: a user, its key, and an s3:* inline policy."""
    import boto3  # moto's own dependency; used only to set moto up

    iam = boto3.client(
        "iam",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    )
    iam.create_user(UserName="bench")
    key = iam.create_access_key(UserName="bench")["AccessKey"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="bench", PolicyName="s3", PolicyDocument=json.dumps(policy))
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


def _env(moto: dict[str, str], **override: str) -> dict[str, str]:
    return {
        **moto,
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        **override,
    }


def _config(prefix: str) -> dict[str, Any]:
    return {
        "duration": "1s",
        "concurrency": 4,
        "target": f"s3://{prefix}/",
        "prepare": {
            "ensure_objects": [{"base_uri": "", "count": 40, "size_spec": "1KiB"}],
            "cleanup": True,
        },
        # Exact keys, not globs: a glob's non-recursive listing sends delimiter=%2F (moto bug).
        "workload": [
            {"op": "get", "path": "prepared-00000007.dat", "weight": 40},
            {"op": "stat", "path": "prepared-00000011.dat", "weight": 20},
            {"op": "put", "path": "new/", "object_size": 512, "weight": 20},
            {"op": "list", "path": "", "weight": 20},
        ],
    }


def _make_bucket(moto: dict[str, str], bucket: str) -> None:
    """CreateBucket signed by our own client (moto checks it)."""
    import asyncio

    from sai3bench.backends.s3 import S3Backend
    from sai3bench.http.endpoint import endpoint_from_url
    from sai3bench.signers.base import Credential, StaticCredentialProvider

    async def go() -> None:
        cred = Credential(moto["AWS_ACCESS_KEY_ID"], moto["AWS_SECRET_ACCESS_KEY"])
        b = S3Backend(
            bucket,
            endpoint=endpoint_from_url(moto["AWS_ENDPOINT_URL"]),
            region="us-east-1",
            credentials=StaticCredentialProvider(cred),
        )
        try:
            await b.create_bucket()
        finally:
            await b.close()

    asyncio.run(go())


@pytest.mark.parametrize("flags", [[], ["--sign-payload"]], ids=["unsigned", "signed-payload"])
def test_full_run_signed_and_checked_by_moto(
    tmp_path: Path, moto: dict[str, str], flags: list[str]
) -> None:
    bucket = "moto-ok" if not flags else "moto-ok-sha"
    _make_bucket(moto, bucket)
    cfg = write_config(tmp_path, _config(bucket))
    proc = run_cli(
        ["run", "-c", str(cfg), "--results-dir", str(tmp_path), *flags], tmp_path, env=_env(moto)
    )
    assert proc.returncode == 0, proc.stderr
    (meta,) = tmp_path.glob("sai3-*/metadata.json")
    stages = json.loads(meta.read_text())["stages"]
    assert stages["prepare"]["objects_created"] == 40
    assert stages["workload"]["errors"] == 0 and stages["workload"]["ops"] > 0
    assert stages["cleanup"]["objects_deleted"] == 40
    listing = run_cli(["util", "list", f"s3://{bucket}/"], tmp_path, env=_env(moto))
    assert listing.returncode == 0, listing.stderr
    assert "prepared-" not in listing.stdout  # cleanup removed every prepared object
    assert f"s3://{bucket}/new/obj_" in listing.stdout  # workload PUTs stay, as upstream


def test_wrong_secret_is_refused_by_moto_in_one_line(tmp_path: Path, moto: dict[str, str]) -> None:
    _make_bucket(moto, "moto-denied")
    cfg = write_config(tmp_path, _config("moto-denied"))
    env = _env(moto, AWS_SECRET_ACCESS_KEY="not-the-secret")
    t0 = time.monotonic()
    proc = run_cli(["run", "-c", str(cfg), "--results-dir", str(tmp_path)], tmp_path, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "SignatureDoesNotMatch" in errors[0], proc.stderr
    assert time.monotonic() - t0 < 30  # refused at the first request, not after retries


def test_multipart_upload_checked_by_moto(moto: dict[str, str]) -> None:
    """moto enforces S3's 5 MiB minimum part and checks every part's signature."""
    import asyncio

    from sai3bench.backends.s3 import S3Backend
    from sai3bench.http.endpoint import endpoint_from_url
    from sai3bench.signers.base import Credential, StaticCredentialProvider

    _make_bucket(moto, "moto-mpu")

    async def go() -> None:
        cred = Credential(moto["AWS_ACCESS_KEY_ID"], moto["AWS_SECRET_ACCESS_KEY"])
        b = S3Backend(
            "moto-mpu",
            endpoint=endpoint_from_url(moto["AWS_ENDPOINT_URL"]),
            region="us-east-1",
            credentials=StaticCredentialProvider(cred),
            multipart_threshold=6 * 2**20,
            multipart_part=5 * 2**20,
        )
        try:
            size = 11 * 2**20  # parts of 5, 5 and 1 MiB
            assert (await b.put("big.bin", memoryview(bytes(size))))[0] == size
            assert (await b.head("big.bin"))[0] == size
        finally:
            await b.close()

    asyncio.run(go())
