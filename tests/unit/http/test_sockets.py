"""connect_errors: what a failed connect means, in one line naming the endpoint and the cause."""

from __future__ import annotations

import pickle
import ssl

import pytest

from sai3bench.http.sockets import connect_errors
from sai3bench.outcome import OpError, Outcome

URL = "https://127.0.0.1:8443"


def failed(exc: BaseException, url: str = URL) -> OpError:
    with pytest.raises(OpError) as err, connect_errors(url):
        raise exc
    return err.value


def cert_error(reason: str, code: int) -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {reason}")
    exc.verify_message = reason
    exc.verify_code = code
    return exc


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("self-signed certificate", 18),
        ("unable to get local issuer certificate", 20),
        ("Hostname mismatch, certificate is not valid for 'h'.", 62),
        ("certificate has expired", 10),
    ],
)
def test_a_refused_certificate_says_certificate_why_and_what_to_do(reason: str, code: int) -> None:
    err = failed(cert_error(reason, code))
    assert err.outcome == Outcome.CONNECTION
    assert err.detail.startswith(f"TLS certificate of {URL} not trusted ({reason})")
    for remedy in ("AWS_CA_BUNDLE", "SSL_CERT_FILE", "--insecure"):
        assert remedy in err.detail
    assert "endpoint is up" not in err.detail


def test_a_cleartext_answer_to_a_client_hello_is_a_plain_http_port() -> None:
    exc = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
    exc.reason = "WRONG_VERSION_NUMBER"
    err = failed(exc)
    assert err.detail == (
        f"TLS handshake with {URL} failed: the server answered in plain text: that port speaks "
        "plain HTTP, use http://"
    )


def test_a_close_mid_handshake_suggests_plain_http() -> None:
    err = failed(ssl.SSLEOFError(8, "EOF occurred in violation of protocol"))
    assert f"TLS handshake with {URL} failed" in err.detail and "http://" in err.detail


def test_other_handshake_failures_keep_openssl_reason() -> None:
    exc = ssl.SSLError(1, "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version")
    exc.reason = "TLSV1_ALERT_PROTOCOL_VERSION"
    assert failed(exc).detail.endswith("failed: TLSV1_ALERT_PROTOCOL_VERSION")


def test_a_tls_connect_timeout_names_the_handshake_too() -> None:
    err = failed(TimeoutError())
    assert err.outcome == Outcome.TIMEOUT
    assert "no TCP connection or no TLS handshake" in err.detail and "http://" in err.detail
    plain = failed(TimeoutError(), "http://127.0.0.1:9000")
    assert plain.detail == "connect to http://127.0.0.1:9000 timed out"


def test_refused_names_the_endpoint() -> None:
    err = failed(ConnectionRefusedError(111, "Connection refused"), "http://127.0.0.1:9")
    assert err.detail.startswith("cannot connect to http://127.0.0.1:9:")


def test_the_hint_says_reachable_and_survives_pickling() -> None:
    err = failed(cert_error("self-signed certificate", 18))
    assert err.hint == "the endpoint is reachable; only its TLS certificate was refused"
    back = pickle.loads(pickle.dumps(err))
    assert (back.outcome, back.detail, back.hint) == (err.outcome, err.detail, err.hint)
    assert back.permanent and err.permanent
    plain = pickle.loads(pickle.dumps(failed(TimeoutError())))
    assert plain.hint is None and not plain.permanent


def test_only_trust_and_handshake_failures_are_permanent() -> None:
    """A refused certificate or a plain-HTTP port answers the same on every try; a refused or
    timed-out connect may be a server restarting, so it stays retryable."""
    assert failed(cert_error("self-signed certificate", 18)).permanent
    assert failed(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")).permanent
    assert not failed(ConnectionRefusedError(111, "Connection refused")).permanent
    assert not failed(TimeoutError()).permanent


def test_a_stalled_handshake_is_told_apart_from_a_stalled_connect() -> None:
    # asyncio and uvloop both raise this when ssl_handshake_timeout runs out.
    stalled = ConnectionAbortedError("SSL handshake is taking longer than 5.0 seconds: aborting")
    err = failed(stalled)
    assert err.outcome == Outcome.TIMEOUT
    assert err.detail.startswith(f"TLS handshake with {URL} did not complete in time")
    assert "use http://" in err.detail
    other = failed(ConnectionAbortedError(103, "Software caused connection abort"))
    assert other.outcome == Outcome.CONNECTION
