"""Session-wide guard: no test may reach a cloud metadata service (traffic stays on 127.0.0.1).

google-auth probes the GCE metadata server and botocore the EC2 one when no other credential
is found; both are pointed at a closed loopback port (or disabled) for the whole run, and the
CLI subprocesses the tests start inherit this environment.
"""

from __future__ import annotations

import os

os.environ["GCE_METADATA_HOST"] = "127.0.0.1:9"
os.environ["GCE_METADATA_IP"] = "127.0.0.1:9"
os.environ["NO_GCE_CHECK"] = "True"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
os.environ.pop("STORAGE_EMULATOR_HOST", None)
os.environ.pop("GCS_ENDPOINT_URL", None)
