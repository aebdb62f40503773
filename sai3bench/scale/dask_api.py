"""The few ``distributed`` names sai3bench uses, typed ``Any`` in one place.

distributed ships ``py.typed`` but most of its API (Client, Queue, Event, Variable, rpc) is
unannotated, so mypy --strict would flag every call; the alternative, an ignore per call
site, hides real mistakes among them. Importing this module needs distributed installed
(scale/cluster.py checks that first and names the extra to install).
"""

from __future__ import annotations

from typing import Any

import distributed
from distributed import core, security
from distributed.comm import addressing

Client: Any = distributed.Client
Queue: Any = distributed.Queue
Event: Any = distributed.Event
Variable: Any = distributed.Variable
get_client: Any = distributed.get_client
rpc: Any = core.rpc
Security: Any = security.Security
parse_address: Any = addressing.parse_address
parse_host_port: Any = addressing.parse_host_port
