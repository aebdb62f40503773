"""Session-wide guard: no test may reach a cloud metadata service (traffic stays on 127.0.0.1).

google-auth probes the GCE metadata server, botocore the EC2 one and azure-identity Azure's
IMDS when no other credential is found; all are pointed at a closed loopback port (or
disabled) for the whole run, and the CLI subprocesses the tests start inherit this.
"""

from __future__ import annotations

import os

os.environ["GCE_METADATA_HOST"] = "127.0.0.1:9"
os.environ["GCE_METADATA_IP"] = "127.0.0.1:9"
os.environ["NO_GCE_CHECK"] = "True"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
# azure-identity's managed-identity probe (IMDS) when sai3bench[azure] is installed
os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = "http://127.0.0.1:9"
os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
os.environ.pop("STORAGE_EMULATOR_HOST", None)
os.environ.pop("GCS_ENDPOINT_URL", None)
