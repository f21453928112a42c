"""Push events as a till receives them: over STOMP from the sandbox, while a
payment runs on the terminal, and across a dropped broker connection."""

import threading

import pytest

import secucard

from conftest import Sandbox, wait_for


@pytest.fixture(scope="module")
def stomp_sandbox():
    sb = Sandbox("-stomp", "127.0.0.1:0", "-start-delay", "20ms")
    yield sb
    sb.stop()


@pytest.fixture
def stomp_client(stomp_sandbox):
    port = int(stomp_sandbox.info["stomp_addr"].rsplit(":", 1)[1])
    cfg = stomp_sandbox.config(stomp={"enabled": True, "host": "127.0.0.1", "port": port, "tls": False})
    c = secucard.Client(cfg)
    yield c
    c.close()


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.events = []

    def __call__(self, event):
        with self.lock:
            self.events.append(event)

    def of(self, **match):
        with self.lock:
            return [e for e in self.events if all(e.get(k) == v for k, v in match.items())]


def basket():
    return {"basket_info": {"sum": 250, "currency": "EUR"},
            "basket": {"products": [{"id": 1, "desc": "Coffee", "quantity": 1, "priceOne": 250, "tax": 7}]}}


def test_display_texts_arrive_over_stomp_in_order(stomp_sandbox, stomp_client):
    rec = Recorder()
    stomp_client.on_event(rec)
    stomp_client.open()
    wait_for(lambda: rec.of(kind="connection", state="connected"), 5, "the STOMP connection")
    assert stomp_client.stats()["stomp"]["connected"] is True

    tx = stomp_client.smart.transactions.create(basket())
    try:
        done = stomp_client.smart.transactions.start(tx["id"], "demo")
        assert done["status"] == "ok"
    except secucard.DeclinedError as e:
        assert e.transaction["status"] == "failed"

    # The real service pushes only display texts during a start (spec
    # §5.3); a test pushes anything else through the admin API. That push
    # comes after everything the start pushed, so once it is here, all are.
    stomp_sandbox.admin("POST", "/events", {"target": "smart.transactions", "type": "changed",
                                            "data": [{"object": "smart.transactions", "id": tx["id"]}]})
    wait_for(lambda: rec.of(kind="push", target="smart.transactions", type="changed"), 5,
             "the changed event pushed through the admin API")
    pushes = rec.of(kind="push")
    *during, changed = pushes
    assert len(during) >= 2, pushes
    assert all(e["target"] == "general.notifications" and e["type"] == "display" for e in during), during
    assert all(isinstance(e["data"]["text"], str) and e["data"]["text"] for e in during)
    assert changed["data"] == [{"object": "smart.transactions", "id": tx["id"]}]


def test_a_dropped_broker_connection_is_reported_and_healed(stomp_sandbox, stomp_client):
    rec = Recorder()
    stomp_client.on_event(rec)
    stomp_client.open()
    wait_for(lambda: rec.of(kind="connection", state="connected"), 5, "the STOMP connection")

    assert stomp_sandbox.admin("POST", "/stomp/drop", {})["dropped"] >= 1
    wait_for(lambda: rec.of(kind="connection", state="disconnected"), 5, "the disconnected event")
    wait_for(lambda: len(rec.of(kind="connection", state="connected")) >= 2, 10, "the reconnect")
    assert rec.of(kind="connection", state="reconnecting"), "the reconnect attempt is announced"

    tx = stomp_client.smart.transactions.create(basket())
    done = stomp_client.smart.transactions.start(tx["id"], "cash")  # cash: always paid
    assert done["id"] == tx["id"], "payments go over the healed connection"
    assert stomp_client.stats()["stomp"]["reconnects"] >= 1
