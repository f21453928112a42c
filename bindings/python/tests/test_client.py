"""Client lifecycle, threads, async calls, stats and logging."""

import concurrent.futures
import gc
import logging
import re
import threading
import weakref

import pytest

import secucard

from conftest import wait_for


def test_context_manager_opens_and_closes(sandbox):
    with secucard.Client(sandbox.config()) as c:
        assert c.smart.idents.get("smi_1")["id"] == "smi_1"
    with pytest.raises(secucard.ClosedError) as ei:
        c.smart.idents.get("smi_1")
    assert ei.value.type == "closed"


def test_close_twice_is_harmless(client):
    client.close()
    client.close()


def test_a_failing_open_leaves_the_client_closed(sandbox):
    cfg = sandbox.config()
    cfg["credentials"]["client_secret"] = "f" * 64
    c = secucard.Client(cfg)
    with pytest.raises(secucard.AuthDenied):
        with c:
            pytest.fail("the with body must not run")
    with pytest.raises(secucard.ClosedError):
        c.smart.idents.get("smi_1")


def test_stats_count_calls_and_work_after_close(client):
    client.smart.idents.get("smi_1")
    with pytest.raises(secucard.ApiError):
        client.smart.idents.get("smi_9")
    client.close()
    stats = client.stats()
    assert stats["calls"]["ok"] >= 1
    assert stats["calls"]["api"] == 1
    assert stats["token_requests"] == 1


def test_an_unreferenced_client_is_freed(sandbox):
    c = secucard.Client(sandbox.config())
    # A hook that refers to its client (one never called here, so no library
    # thread holds the client while the garbage collector runs).
    c.on_device_code(lambda *args, c=c: c.cancel_auth())
    c.smart.idents.get("smi_1")
    finalizer = c._finalizer
    ref = weakref.ref(c)
    del c
    gc.collect()
    assert ref() is None
    assert not finalizer.alive


def test_eight_threads_share_one_client(client):
    barrier = threading.Barrier(8)

    def cashier(n):
        barrier.wait()
        out = []
        for i in range(5):
            tx = client.smart.transactions.create(
                {"merchantRef": f"thread-{n}-{i}", "basket_info": {"sum": 100 * n + i, "currency": "EUR"}})
            got = client.smart.transactions.get(tx["id"])
            out.append((got["merchantRef"], got["basket_info"]["sum"], tx["id"]))
            assert client.smart.idents.get("smi_2")["id"] == "smi_2"
        return out

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(cashier, range(8)))
    for n, rows in enumerate(results):
        assert [(ref, s) for ref, s, _ in rows] == [(f"thread-{n}-{i}", 100 * n + i) for i in range(5)]
    ids = [tx_id for rows in results for _, _, tx_id in rows]
    assert len(set(ids)) == 40
    assert client.stats()["token_requests"] == 1  # one token for all threads


def test_async_call_returns_a_future(client):
    fut = client.smart.idents.get_async("smi_3")
    assert isinstance(fut, concurrent.futures.Future)
    assert fut.result(timeout=10)["prefix"] == "PPT_"
    assert fut.call_id and fut.call_id > 0

    txs = client.smart.transactions
    tx = txs.create_async({"basket_info": {"sum": 300, "currency": "EUR"}}).result(timeout=10)
    done = txs.start_async(tx["id"], "cash").result(timeout=10)
    assert done["status"] == "ok"


def test_async_errors_are_set_on_the_future(client):
    fut = client.call_async({"resource": "smart.idents", "op": "get", "id": "smi_404"})
    with pytest.raises(secucard.ApiError) as ei:
        fut.result(timeout=10)
    assert ei.value.http_status == 404


def test_async_call_can_be_cancelled(faults, client):
    client.smart.idents.get("smi_1")
    faults.fault(path="/smart/idents", delay_ms=10000, count=1)
    fut = client.smart.idents.get_async("smi_1")
    # A fault is used up when a request takes it: then the call is in the sandbox.
    wait_for(lambda: faults.admin("GET", "/faults") == [], 5, "the call to reach the sandbox")
    assert fut.cancel() is True
    assert fut.cancelled()
    with pytest.raises(concurrent.futures.CancelledError):
        fut.result(timeout=5)
    # secucard_cancel really ended the call in the library, long before the
    # sandbox's 10 s delay would have.
    wait_for(lambda: client.stats()["calls"].get("canceled") == 1, 5,
             "the library to count the call as canceled")


def test_close_cancels_calls_in_flight(faults, client):
    client.smart.idents.get("smi_1")
    faults.fault(path="/smart/idents", delay_ms=10000, count=-1)
    fut = client.smart.idents.get_async("smi_1")
    client.close()
    with pytest.raises(secucard.CanceledError) as ei:
        fut.result(timeout=5)
    assert ei.value.type == "canceled"


def test_an_invalid_async_request_raises_at_once(client):
    with pytest.raises(secucard.InvalidArgument):
        client.call_async("not json")


def test_library_logs_reach_python_logging_without_secrets(sandbox, caplog):
    caplog.set_level(logging.DEBUG, logger="secucard")
    with secucard.Client(sandbox.config()) as c:
        c.smart.idents.get("smi_1")
        with pytest.raises(secucard.ApiError):
            c.smart.transactions.get("STX_" + "9" * 30)
    records = [r for r in caplog.records if r.name == "secucard"]
    assert records, "no library log line reached the secucard logger"
    assert {r.levelno for r in records} <= {logging.ERROR, logging.WARNING, logging.INFO,
                                           logging.DEBUG, secucard.client.TRACE}
    text = "\n".join(r.getMessage() for r in records)
    assert sandbox.client_secret not in text
    assert not re.search(r"\b[0-9a-f]{40}\b", text), "an access or refresh token was logged"


def test_log_level_limits_what_the_library_sends(sandbox, caplog):
    caplog.set_level(logging.DEBUG, logger="secucard")

    def run(**kwargs):
        caplog.clear()
        with secucard.Client(sandbox.config(), **kwargs) as c:
            c.smart.idents.get("smi_1")
        return [r for r in caplog.records if r.name == "secucard" and r.levelno < logging.ERROR]

    assert run(log_level=logging.DEBUG), "expected debug or info lines"
    assert run(log_level=logging.ERROR) == []
    assert run(log_level="error") == []
