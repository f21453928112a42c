"""Events: webhook input, delivery by callback and by the events() generator."""

import logging
import queue
import threading

import pytest

import secucard


def webhook(n, target="general.notifications", type_="display"):
    return {"object": "event.pushes", "id": f"EPS_{n:030d}", "created": "2026-11-23T10:00:00+01:00",
            "target": target, "type": type_, "data": {"text": f"step {n}"}}


def test_webhook_events_reach_the_callback_in_order(client):
    got = queue.Queue()
    client.on_event(got.put)
    for n in range(3):
        client.handle_webhook(webhook(n))
    events = [got.get(timeout=5) for _ in range(3)]
    assert [e["kind"] for e in events] == ["push"] * 3
    assert [e["data"]["text"] for e in events] == ["step 0", "step 1", "step 2"]
    assert events[0]["id"] == "EPS_" + "0" * 30
    assert events[0]["target"] == "general.notifications"
    assert events[0]["type"] == "display"


def test_callback_runs_on_a_library_thread(client):
    threads = queue.Queue()
    client.on_event(lambda e: threads.put(threading.current_thread()))
    client.handle_webhook(webhook(1))
    assert threads.get(timeout=5) is not threading.main_thread()


def test_events_generator_yields_queued_events(client):
    client.handle_webhook(webhook(7))
    client.handle_webhook('{"object": "event.pushs", "target": "smart.transactions", '
                          '"type": "changed", "data": [{"object": "smart.transactions", '
                          '"id": "STX_1"}]}')
    events = list(client.events(timeout=0.5))
    assert [(e["kind"], e["target"], e["type"]) for e in events] == [
        ("push", "general.notifications", "display"),
        ("push", "smart.transactions", "changed"),
    ]
    assert events[1]["data"] == [{"object": "smart.transactions", "id": "STX_1"}]


def test_events_generator_ends_when_nothing_arrives(client):
    assert list(client.events(timeout=0.1)) == []


def test_events_generator_is_refused_while_a_callback_is_set(client):
    client.on_event(lambda e: None)
    with pytest.raises(secucard.InvalidArgument, match="on_event"):
        next(client.events(timeout=0.1))
    client.on_event(None)
    client.handle_webhook(webhook(2))
    assert [e["data"]["text"] for e in client.events(timeout=0.5)] == ["step 2"]


@pytest.mark.parametrize("body, field", [
    ({"object": "event.pushes", "type": "display"}, "target"),
    ({"object": "event.pushes", "target": "general.notifications"}, "type"),
    ("[1, 2]", "event"),
])
def test_malformed_webhook_bodies_are_refused(client, body, field):
    with pytest.raises(secucard.InvalidArgument) as ei:
        client.handle_webhook(body)
    assert ei.value.field == field


def test_a_raising_callback_is_logged_and_delivery_goes_on(client, caplog):
    got = queue.Queue()

    def callback(event):
        if event["data"]["text"] == "step 0":
            raise RuntimeError("bug in the till's handler")
        got.put(event)

    client.on_event(callback)
    with caplog.at_level(logging.ERROR, logger="secucard"):
        client.handle_webhook(webhook(0))
        client.handle_webhook(webhook(1))
        assert got.get(timeout=5)["data"]["text"] == "step 1"
    failures = [r for r in caplog.records if r.name == "secucard" and r.exc_info]
    assert len(failures) == 1
    assert "on_event" in failures[0].getMessage()
    assert "bug in the till's handler" in str(failures[0].exc_info[1])


def test_an_event_as_the_sandbox_sends_it_passes_through_unchanged(sandbox, client):
    """Pushes reach a client over STOMP once that channel lands; a webhook body
    is the same event object, so the sandbox's own rendering of a display
    event is fed in here and must come out as its push envelope."""
    sent = sandbox.admin("POST", "/events", {"target": "general.notifications", "type": "display",
                                            "data": {"text": "DEMO: Bitte Karte vorhalten"}})
    client.handle_webhook(sent)
    (event,) = list(client.events(timeout=0.5))
    assert event == {"kind": "push", "id": sent["id"], "target": "general.notifications",
                     "type": "display", "created": sent["created"],
                     "data": {"text": "DEMO: Bitte Karte vorhalten"}}
