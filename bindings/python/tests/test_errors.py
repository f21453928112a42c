"""Errors: the mapping of the error JSON onto exceptions, and each class as a
user meets it against the sandbox."""

import builtins
import json
import pickle
import re
import socket

import pytest

import secucard
from secucard import _native

from conftest import wait_for


@pytest.mark.parametrize("type_, cls", [
    ("invalid_argument", secucard.InvalidArgument),
    ("invalid_handle", secucard.InvalidHandle),
    ("auth", secucard.AuthError),
    ("api", secucard.ApiError),
    ("declined", secucard.DeclinedError),
    ("network", secucard.NetworkError),
    ("timeout", secucard.TimeoutError),
    ("canceled", secucard.CanceledError),
    ("closed", secucard.ClosedError),
    ("storage", secucard.StorageError),
    ("internal", secucard.InternalError),
])
def test_type_selects_the_class(type_, cls):
    e = secucard.error_from(4, json.dumps({"status": 4, "type": type_, "message": "m",
                                           "retryable": False}))
    assert type(e) is cls
    assert isinstance(e, secucard.SecucardError)
    assert e.type == type_


@pytest.mark.parametrize("reason, cls", [
    ("denied", secucard.AuthDenied),
    ("invalid_grant", secucard.AuthInvalidGrant),
    ("expired", secucard.AuthExpired),
    ("timeout", secucard.AuthTimeout),
    ("canceled", secucard.AuthCanceled),
    ("no_credentials", secucard.AuthNoCredentials),
    ("not_authorized", secucard.AuthNotAuthorized),
    ("token_rejected", secucard.AuthTokenRejected),
    ("something_new", secucard.AuthError),
])
def test_auth_reason_selects_the_subclass(reason, cls):
    e = secucard.error_from(3, {"status": 3, "type": "auth", "reason": reason, "message": "m"})
    assert type(e) is cls
    assert isinstance(e, secucard.AuthError)
    assert e.reason == reason


def test_every_field_of_the_error_json_is_an_attribute():
    raw = {"status": 4, "type": "api", "message": "not found", "op": "smart.transactions.get",
           "http_status": 404, "error": "ProductNotFoundException", "error_details": "d",
           "error_user": "u", "code": "404", "support_id": "abc", "retryable": True}
    e = secucard.error_from(4, json.dumps(raw))
    assert (e.status, e.type, e.message, e.op, e.http_status) == (
        4, "api", "not found", "smart.transactions.get", 404)
    assert (e.error, e.error_details, e.error_user, e.code, e.support_id) == (
        "ProductNotFoundException", "d", "u", "404", "abc")
    assert e.retryable is True
    assert e.field is None and e.reason is None
    assert e.raw == raw
    assert "not found" in str(e)


def test_what_is_safe_next_is_an_attribute():
    raw = {"status": 7, "type": "timeout", "message": "no answer", "retryable": True,
           "outcome": "unknown", "idempotency_key": "till7-42", "retry_after_ms": 120000,
           "object_id": "STX_1"}
    e = secucard.error_from(7, raw)
    assert e.retryable is True
    assert e.outcome == "unknown"
    assert e.idempotency_key == "till7-42"
    assert e.retry_after_ms == 120000
    assert e.object_id == "STX_1"
    bare = secucard.error_from(1, {"type": "invalid_argument", "message": "m"})
    assert (bare.outcome, bare.idempotency_key, bare.retry_after_ms, bare.object_id) == (None, None, None, None)


def test_exceptions_survive_pickling():
    for raw in ({"status": 7, "type": "timeout", "message": "slow", "retryable": True},
                {"status": 3, "type": "auth", "reason": "expired", "message": "late"}):
        e = pickle.loads(pickle.dumps(secucard.error_from(raw["status"], raw)))
        assert type(e) is type(secucard.error_from(raw["status"], raw))
        assert e.raw == raw and str(e) == raw["message"]


def test_unknown_type_falls_back_to_the_status_code():
    e = secucard.error_from(_native.ERR_NETWORK, {"type": "from_the_future", "message": "m"})
    assert type(e) is secucard.NetworkError
    e = secucard.error_from(99, None)
    assert type(e) is secucard.InternalError
    assert e.status == 99
    assert e.message == "unknown status"  # secucard_strerror's text for an unknown code


def test_timeout_and_network_errors_are_also_builtin_errors():
    t = secucard.error_from(7, {"type": "timeout", "message": "m"})
    assert isinstance(t, builtins.TimeoutError)
    n = secucard.error_from(6, {"type": "network", "message": "m"})
    assert isinstance(n, ConnectionError)
    i = secucard.error_from(1, {"type": "invalid_argument", "message": "m", "field": "op"})
    assert isinstance(i, ValueError) and i.field == "op"


# --- as met against the sandbox ---

@pytest.mark.parametrize("config, field", [
    ({"environment": "sandbox"}, "sandbox_url"),
    ({"environment": "staging"}, "environment"),
    ({"no_such_key": 1}, "no_such_key"),
    ({"timeouts": {"connect_ms": "soon"}}, "timeouts.connect_ms"),
])
def test_invalid_config_names_the_field(config, field):
    with pytest.raises(secucard.InvalidArgument) as ei:
        secucard.Client(config)
    assert ei.value.field == field
    assert ei.value.status == _native.ERR_INVALID_ARGUMENT
    assert field in str(ei.value)


def test_config_must_be_a_dict_or_json_text():
    with pytest.raises(TypeError):
        secucard.Client(42)
    with pytest.raises(secucard.InvalidArgument):
        secucard.Client("{not json")


def test_invalid_request_names_the_field(client):
    with pytest.raises(secucard.InvalidArgument) as ei:
        client.call({"resource": "smart.transactions"})
    assert ei.value.field == "op"
    with pytest.raises(secucard.InvalidArgument) as ei:
        list(client.smart.transactionz.list())
    assert ei.value.field == "resource"


def test_wrong_secret_raises_auth_denied(sandbox):
    cfg = sandbox.config()
    cfg["credentials"]["client_secret"] = "0" * 64
    with pytest.raises(secucard.AuthDenied) as ei:
        with secucard.Client(cfg) as c:
            c.smart.idents.get("smi_1")
    assert ei.value.type == "auth" and ei.value.reason == "denied"
    assert ei.value.status == _native.ERR_AUTH
    assert "0" * 64 not in json.dumps(ei.value.raw)


def test_unknown_object_raises_api_error_with_the_envelope(client):
    with pytest.raises(secucard.ApiError) as ei:
        client.smart.transactions.get("STX_" + "0" * 30)
    e = ei.value
    assert e.http_status == 404
    assert e.error == "ProductNotFoundException"
    assert isinstance(e.code, str) and e.code
    assert e.error_user
    assert re.fullmatch(r"[0-9a-f]{32}", e.support_id)
    assert e.retryable is False


def test_server_errors_are_retried_and_then_reported(faults, client):
    faults.fault(path="/smart/idents", status=503, count=1)
    assert client.smart.idents.get("smi_1")["id"] == "smi_1"
    assert client.stats()["retries"] >= 1

    faults.fault(path="/smart/idents", status=503, count=-1)
    with pytest.raises(secucard.ApiError) as ei:
        client.smart.idents.get("smi_1", timeout=10)
    assert ei.value.http_status == 503
    assert ei.value.retryable is True


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_server_raises_network_error(sandbox):
    cfg = sandbox.config(sandbox_url=f"http://127.0.0.1:{closed_port()}",
                         retry={"max_attempts": 1})
    c = secucard.Client(cfg)
    try:
        with pytest.raises(secucard.NetworkError) as ei:
            c.smart.idents.get("smi_1")
        assert ei.value.type == "network"
        assert ei.value.retryable is True
    finally:
        c.close()


def test_deadline_raises_timeout_error(faults, client):
    client.smart.idents.get("smi_1")  # authenticate first: only the API call is slow
    faults.fault(path="/smart/idents", delay_ms=5000, count=-1)
    with pytest.raises(secucard.TimeoutError) as ei:
        client.smart.idents.get("smi_1", timeout=0.3)
    assert isinstance(ei.value, builtins.TimeoutError)
    assert ei.value.type == "timeout"


def test_unopenable_sqlite_store_raises_storage_error(sandbox, tmp_path):
    cfg = sandbox.config(store={"type": "sqlite", "path": str(tmp_path / "missing" / "t.db")})
    with pytest.raises(secucard.StorageError) as ei:
        secucard.Client(cfg)
    assert ei.value.type == "storage"


def test_use_after_close_raises_closed_error(client):
    client.close()
    with pytest.raises(secucard.ClosedError):
        client.smart.idents.get("smi_1")
    with pytest.raises(secucard.ClosedError):
        client.open()
    with pytest.raises(secucard.ClosedError):
        client.handle_webhook({"object": "event.pushes", "target": "x.y", "type": "changed"})


# --- payment-safe repeats (issue 9) ---

def _count(client, ref):
    return client.call({"resource": "smart.transactions", "op": "list",
                        "query": {"q": "transactionRef:" + ref}})["count"]


def test_a_timed_out_create_repeated_as_the_error_says_makes_one_object(faults, client):
    client.smart.idents.get("smi_1")  # authenticate first: only the create is slow
    ref = "py-issue9-repeat"
    faults.fault(method="POST", path="/smart/transactions", delay_ms=1500)
    request = {"resource": "smart.transactions", "op": "create", "timeout_ms": 300,
               "data": {"transactionRef": ref, "basket_info": {"sum": 100, "currency": "EUR"}}}
    with pytest.raises(secucard.TimeoutError) as ei:
        client.call(request)
    e = ei.value
    assert e.retryable is True, "the idempotency key makes the repeat safe"
    assert e.outcome == "unknown"
    assert e.idempotency_key
    # Repeat exactly as the error says: the same request with its key.
    again = client.call(dict(request, idempotency_key=e.idempotency_key, timeout_ms=10000))
    assert again["transactionRef"] == ref

    def held_back_create_ended():
        return not any(r.get("fault", "").startswith("delay") and r["status"] == 0
                       and "aborted" not in r["fault"] for r in faults.requests())
    wait_for(held_back_create_ended, 10, "the held-back create to end")
    assert _count(client, ref) == 1


def test_a_payment_start_that_may_have_run_is_not_retryable(faults, client):
    tx = client.smart.transactions.create({"basket_info": {"sum": 250, "currency": "EUR"}})
    faults.fault(method="POST", path=f"/smart/transactions/{tx['id']}/start", status=503)
    with pytest.raises(secucard.ApiError) as ei:
        client.smart.transactions.start(tx["id"], "demo")
    e = ei.value
    assert e.retryable is False
    assert e.outcome == "unknown"
    assert e.object_id == tx["id"], "the transaction to look up before anything else"
    assert e.idempotency_key, "every error of a mutating call carries its key"
    starts = [r for r in faults.requests() if r["path"].endswith(f"/{tx['id']}/start/demo")]
    assert len(starts) == 1, "a payment start is never repeated by the library"


def test_a_payment_start_whose_answer_is_lost_returns_the_final_transaction(faults, client):
    # The sandbox runs the start, then closes the connection without the
    # answer. The library looks the transaction up once and returns its final
    # state. Cash: always paid (the demo terminal declines at random).
    tx = client.smart.transactions.create({"basket_info": {"sum": 250, "currency": "EUR"}})
    faults.fault(method="POST", path=f"/smart/transactions/{tx['id']}/start", drop="after_execute")
    paid = client.smart.transactions.start(tx["id"], "cash")
    assert paid["id"] == tx["id"]
    assert paid["status"] == "ok"
    assert paid["receipt"], "the final transaction, with its receipt"
    starts = [r for r in faults.requests() if r["path"].endswith(f"/{tx['id']}/start/cash")]
    assert len(starts) == 1, "the start is never repeated"
    assert starts[0]["fault"].startswith("drop after_execute"), "its answer was lost"


def test_retry_after_is_reported_also_when_not_waited_for(faults, client):
    client.smart.idents.get("smi_1")
    faults.fault(path="/smart/idents", status=429, retry_after=120)
    with pytest.raises(secucard.ApiError) as ei:
        client.smart.idents.get("smi_1")
    e = ei.value
    assert e.http_status == 429
    assert e.retry_after_ms == 120000
    assert e.retryable is True
    assert e.outcome == "rejected"
