"""Errors of the HTTP layer. Raised by the pure core, mapped to an Outcome once at the boundary.

Never raised for an HTTP status: a 404 or 503 is a well-formed response and is data.
"""

from __future__ import annotations


class HttpError(Exception):
    """Base of every error the http package raises about a connection or a message."""


class ProtocolError(HttpError, ValueError):
    """The peer sent bytes that are not valid HTTP/1.1 or whose framing is ambiguous.

    The connection cannot be reused after this: where one message ends is unknown. The protocol
    layer counts it as ``Outcome.PROTOCOL`` and closes the connection.
    """
