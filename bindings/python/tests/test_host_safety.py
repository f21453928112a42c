"""Issue 10.6: Ctrl-C interrupts blocking calls, unknown products are
AttributeErrors, listings are re-iterable."""

import json
import os
import selectors
import signal
import subprocess
import sys
import time
import uuid

import pytest

import secucard

from conftest import Sandbox, wait_for


@pytest.fixture
def own_sandbox():
    """A sandbox of this test alone: its request log shows only this test's
    child, so "the call is in flight" cannot be read from another test's
    requests."""
    sb = Sandbox("-device-interval", "1")
    yield sb
    sb.stop()

# The child runs one blocking call and reports how it ended, with its
# monotonic clock (shared with the parent on one machine).
CHILD = r"""
import json, signal, sys, time
import secucard

# Python leaves SIGINT ignored when it started ignored (as under a
# non-interactive shell's "&"); an interactive program has the default.
signal.signal(signal.SIGINT, signal.default_int_handler)

cfg, what = json.loads(sys.argv[1]), sys.argv[2]
client = secucard.Client(cfg)
print("ready", flush=True)
try:
    if what == "call":
        client.call({"resource": "smart.idents", "op": "list"})
    else:
        client.open()
    print("returned", flush=True)
except KeyboardInterrupt:
    print("interrupted", time.monotonic(), flush=True)
client.close()
print("closed", flush=True)
"""


class Child:
    def __init__(self, cfg: dict, what: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(cfg), what],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=dict(os.environ))
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)

    def line(self, timeout: float) -> str:
        if not self.sel.select(timeout):
            self.proc.kill()
            pytest.fail(f"the child said nothing for {timeout}s; stderr: {self.proc.stderr.read()!r}")
        return self.proc.stdout.readline().decode().strip()

    def interrupt(self) -> float:
        sent = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        return sent

    def finish(self) -> None:
        assert self.line(10) == "closed"
        assert self.proc.wait(10) == 0, self.proc.stderr.read()


def _ended_in(child: "Child", line: str, sent: float) -> float:
    word, _, stamp = line.partition(" ")
    if word != "interrupted":
        child.proc.kill()
        pytest.fail(f"the child said {line!r}; stderr: {child.proc.stderr.read()!r}")
    return float(stamp) - sent


def test_ctrl_c_interrupts_a_blocking_call_and_cancels_it_on_the_wire(own_sandbox):
    faults = own_sandbox
    # The sandbox holds the answer for 60 s: before the fix the call sat in
    # the library until then, deaf to Ctrl-C.
    faults.fault(path="/smart/idents", method="GET", delay_ms=60000)
    child = Child(faults.config(), "call")
    assert child.line(30) == "ready"

    def held():
        return [r for r in faults.requests()
                if r["path"].lower() == "/api/v2/smart/idents" and "delay" in r.get("fault", "")]
    wait_for(lambda: held(), 30, "the call to reach the sandbox")
    sent = child.interrupt()
    latency = _ended_in(child, child.line(10), sent)
    print(f"KeyboardInterrupt {latency * 1000:.1f} ms after SIGINT")
    # The design bound is 100 ms (a 50 ms wait slice, the printed figure).
    # The assertion tells "interrupted" from "deaf until the answer" (60 s)
    # and leaves a loaded 2-core CI room to schedule the child.
    assert latency < 5.0
    wait_for(lambda: "client left" in held()[0].get("fault", ""), 10,
             "the sandbox to see the request abandoned")
    child.finish()


def test_ctrl_c_interrupts_open_waiting_for_approval(own_sandbox):
    sandbox = own_sandbox
    device = "/vendor/pytest/pos/" + uuid.uuid4().hex[:8]
    child = Child(sandbox.device_config(device), "open")
    assert child.line(30) == "ready"

    def codes_issued():
        return [r for r in sandbox.requests()
                if r["path"] == "/oauth/token" and r.get("grant_type") == "device"]
    wait_for(codes_issued, 30, "the device code request")
    sent = child.interrupt()
    latency = _ended_in(child, child.line(10), sent)
    print(f"KeyboardInterrupt {latency * 1000:.1f} ms after SIGINT")
    assert latency < 5.0  # the code is valid for 20 minutes; see the test above
    child.finish()


def test_unknown_product_is_an_attribute_error(client):
    with pytest.raises(AttributeError) as ei:
        client.colse()
    assert "'colse'" in str(ei.value)
    assert "did you mean 'close'" in str(ei.value)
    assert not hasattr(client, "transactions")
    assert hasattr(client, "smart") and hasattr(client, "loyalty")
    assert isinstance(client.smart, secucard.Product)
    assert "smart" in secucard.catalog()["products"]
    assert "smart.transactions" in secucard.catalog()["resources"]


def test_unknown_products_pass_with_allow_unknown_resources(sandbox):
    c = secucard.Client(sandbox.config(allow_unknown_resources=True))
    try:
        assert isinstance(c.newproduct, secucard.Product)
        assert c.newproduct.things.name == "newproduct.things"
    finally:
        c.close()


def test_listing_is_reiterable_and_has_a_length(sandbox, client):
    listing = client.smart.idents.list(count=2)
    sandbox.admin("DELETE", "/requests")
    assert len(listing) == 3, "the server's total, fetched on demand"
    first = [i["id"] for i in listing]
    second = [i["id"] for i in listing]
    assert first == second == ["smi_1", "smi_2", "smi_3"]
    assert listing.total == 3
    assert len(client.smart.idents.list(limit=2)) == 2
    assert len(client.smart.idents.list(offset=1)) == 2
    # Two independent iterations at once do not share a position.
    a, b = iter(listing), iter(listing)
    assert next(a)["id"] == "smi_1" and next(b)["id"] == "smi_1"
    assert next(a)["id"] == "smi_2"


def _basket(total=1190):
    return {"basket_info": {"sum": total, "currency": "EUR"},
            "basket": {"products": [{"id": 1, "desc": "Menu", "quantity": 1, "priceOne": total, "tax": 7}]}}


def test_a_declined_payment_raises_declined_error(client):
    """Issue 10.8a: start used to return the failed transaction as a success."""
    txs = client.smart.transactions
    seen = {"paid": 0, "declined": 0}
    for _ in range(100):
        if seen["paid"] and seen["declined"]:
            break
        tx = txs.create(_basket())
        sync = seen["declined"] % 2 == 0  # declines seen through start and start_async
        try:
            done = txs.start(tx["id"], "demo") if sync else txs.start_async(tx["id"], "demo").result(30)
        except secucard.DeclinedError as e:
            seen["declined"] += 1
            assert e.status == secucard._native.ERR_DECLINED
            assert e.type == "declined" and e.reason == "failed"
            assert e.outcome == "rejected" and e.retryable is False
            assert e.object_id == tx["id"]
            assert e.transaction["id"] == tx["id"] and e.transaction["status"] == "failed"
            assert e.receipt, "the decline receipt"
            assert "11,90" in secucard.format_receipt(e.raw)
            continue
        seen["paid"] += 1
        assert done["status"] == "ok"
    assert seen["paid"] and seen["declined"], seen


def test_a_dead_handle_has_its_own_error_type():
    """Issue 10.8d: SECUCARD_ERR_INVALID_HANDLE came with type invalid_argument."""
    import ctypes
    from secucard import _native
    err = ctypes.c_void_p()
    status = _native.lib.secucard_client_open(None, ctypes.byref(err))
    raw = json.loads(_native.take_string(err))
    assert status == _native.ERR_INVALID_HANDLE
    assert raw["type"] == "invalid_handle" and raw["field"] == "client"
    e = secucard.error_from(status, raw)
    assert type(e) is secucard.InvalidHandle and isinstance(e, secucard.InvalidArgument)
