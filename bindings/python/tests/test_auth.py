"""Device authorization, credential provider, host storage and stored tokens."""

import logging
import queue
import threading
import time
import uuid

import pytest

import secucard


def device_uuid():
    return "/vendor/pytest/pos/" + uuid.uuid4().hex[:8]


def token_requests(sandbox):
    return [r for r in sandbox.requests() if r["path"] == "/oauth/token"]


class DictStore:
    """Host storage as a till might implement it (here: a dict)."""

    def __init__(self):
        self.data = {}
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            return self.data.get(key)

    def put(self, key, value):
        assert isinstance(value, bytes)
        with self.lock:
            self.data[key] = value

    def delete(self, key):
        with self.lock:
            self.data.pop(key, None)


def test_device_flow_approved_from_the_hook(sandbox):
    codes = []
    events = queue.Queue()

    def on_device_code(user_code, verification_url, expires_in):
        codes.append((user_code, verification_url, expires_in))
        sandbox.admin("POST", "/devices/approve", {"user_code": user_code})

    cfg = sandbox.device_config(device_uuid())
    with secucard.Client(cfg, on_device_code=on_device_code, on_event=events.put) as c:
        assert c.smart.idents.get("smi_1")["id"] == "smi_1"
        states = auth_states_until_ok(events)
    (user_code, url, expires_in), = codes
    assert len(user_code) == 8
    assert url == sandbox.url + "/sandbox/verify"
    assert expires_in == 1200
    assert states[0] == "device_code" and states[-1] == "ok"


def auth_states_until_ok(events):
    """The auth event states delivered to on_event, up to "ok"."""
    states = []
    while not states or states[-1] != "ok":
        e = events.get(timeout=5)
        if e["kind"] == "auth":
            states.append(e["state"])
    return states


def test_device_flow_with_auto_approval(auto_sandbox):
    codes = []
    cfg = auto_sandbox.device_config(device_uuid())
    with secucard.Client(cfg, on_device_code=lambda *a: codes.append(a)) as c:
        assert [i["id"] for i in c.smart.idents.list()] == ["smi_1", "smi_2", "smi_3"]
    assert len(codes) == 1


def run_open_expecting(cfg, exc, on_code):
    c = secucard.Client(cfg)
    c.on_device_code(lambda *a: on_code(c, *a))
    started = time.monotonic()
    try:
        with pytest.raises(exc) as ei:
            c.open()
    finally:
        c.close()
    return ei.value, time.monotonic() - started


def test_device_flow_canceled_from_another_thread(sandbox):
    def on_code(c, user_code, url, expires_in):
        threading.Thread(target=c.cancel_auth).start()

    err, took = run_open_expecting(sandbox.device_config(device_uuid()), secucard.AuthCanceled,
                                   on_code)
    assert err.reason == "canceled"
    assert took < 10


def test_device_flow_denied(sandbox):
    def on_code(c, user_code, url, expires_in):
        sandbox.admin("POST", "/devices/deny", {"user_code": user_code})

    err, _ = run_open_expecting(sandbox.device_config(device_uuid()), secucard.AuthDenied, on_code)
    assert err.reason == "denied"


def test_device_code_expired(sandbox):
    def on_code(c, user_code, url, expires_in):
        sandbox.admin("POST", "/devices/expire", {"user_code": user_code})

    err, _ = run_open_expecting(sandbox.device_config(device_uuid()), secucard.AuthExpired,
                                on_code)
    assert err.reason == "expired"


def test_device_flow_times_out(sandbox):
    cfg = sandbox.device_config(device_uuid(), auth={"wait_timeout_ms": 1500})
    err, took = run_open_expecting(cfg, secucard.AuthTimeout, lambda *a: None)
    assert err.reason == "timeout"
    assert 1.0 < took < 15


def test_device_grant_needs_open(sandbox):
    c = secucard.Client(sandbox.device_config(device_uuid()))
    try:
        with pytest.raises(secucard.AuthNotAuthorized):
            c.smart.idents.get("smi_1")
    finally:
        c.close()


def test_host_storage_keeps_the_device_token_for_the_next_run(sandbox):
    store = DictStore()
    uuid_ = device_uuid()
    cfg = sandbox.device_config(uuid_, store={"type": "callback"})
    approvals = []

    def approve(user_code, url, expires_in):
        approvals.append(user_code)
        sandbox.admin("POST", "/devices/approve", {"user_code": user_code})

    with secucard.Client(cfg, store=store, on_device_code=approve) as c:
        c.smart.idents.get("smi_1")
    assert len(approvals) == 1
    assert store.data, "the library stored nothing"
    blob = b"".join(store.data.values())
    assert sandbox.client_secret.encode() not in blob
    assert b"access_token" not in blob and b"refresh_token" not in blob  # sealed, not plain JSON

    # The next run (a new client, same store) needs no person at the till, and
    # not even a token request: the stored token is still valid.
    before = len(token_requests(sandbox))
    with secucard.Client(cfg, store=store, on_device_code=approve) as c:
        assert c.smart.idents.get("smi_2")["id"] == "smi_2"
    assert len(approvals) == 1
    assert len(token_requests(sandbox)) == before

    # clear_tokens forgets them: the device must be approved again.
    with secucard.Client(cfg, store=store, on_device_code=approve) as c:
        c.clear_tokens()
    with secucard.Client(cfg, store=store, on_device_code=approve) as c:
        c.smart.idents.get("smi_3")
    assert len(approvals) == 2


def test_a_store_that_cannot_read_means_authenticating_again(sandbox, caplog):
    class UnreadableStore(DictStore):
        def get(self, key):
            raise OSError("disk unreadable")

    with caplog.at_level(logging.WARNING, logger="secucard"):
        # close() delivers the library's log lines still queued.
        with secucard.Client(sandbox.config(store={"type": "callback"}),
                             store=UnreadableStore()) as c:
            assert c.smart.idents.get("smi_1")["id"] == "smi_1"
    assert any(r.exc_info and "disk unreadable" in str(r.exc_info[1]) for r in caplog.records)
    assert any("could not be read" in r.getMessage() for r in caplog.records)


def test_a_store_that_cannot_delete_fails_clear_tokens(sandbox):
    class StuckStore(DictStore):
        def delete(self, key):
            raise OSError("read-only file system")

    store = StuckStore()
    c = secucard.Client(sandbox.config(store={"type": "callback"}), store=store)
    try:
        c.smart.idents.get("smi_1")
        assert store.data
        with pytest.raises(secucard.StorageError) as ei:
            c.clear_tokens()
        assert ei.value.type == "storage"
    finally:
        c.close()


def test_a_store_that_cannot_write_is_logged_and_the_token_kept_in_memory(sandbox, caplog):
    class FullStore(DictStore):
        def put(self, key, value):
            raise OSError("disk full")

    with caplog.at_level(logging.ERROR, logger="secucard"):
        with secucard.Client(sandbox.config(store={"type": "callback"}), store=FullStore()) as c:
            assert c.smart.idents.get("smi_1")["id"] == "smi_1"
            assert c.smart.idents.get("smi_2")["id"] == "smi_2"
    assert c.stats()["token_requests"] == 1
    assert any(r.exc_info and "disk full" in str(r.exc_info[1]) for r in caplog.records)
    assert any("could not be stored" in r.getMessage() for r in caplog.records)


def test_storage_callbacks_need_store_type_callback(sandbox):
    with pytest.raises(secucard.InvalidArgument):
        secucard.Client(sandbox.config(), store=DictStore())


def test_credential_provider_supplies_missing_credentials(sandbox):
    asked = []

    def provide(request):
        asked.append(request)
        return {"client_id": sandbox.client_id, "client_secret": sandbox.client_secret}

    cfg = sandbox.config()
    del cfg["credentials"]
    with secucard.Client(cfg, credentials=provide) as c:
        assert c.smart.idents.get("smi_1")["id"] == "smi_1"
    assert len(asked) >= 1
    assert isinstance(asked[0], dict)


def test_declining_credential_provider_cancels_auth(sandbox):
    cfg = sandbox.config()
    del cfg["credentials"]
    c = secucard.Client(cfg)
    c.set_credential_provider(lambda request: None)
    try:
        with pytest.raises(secucard.AuthCanceled):
            c.smart.idents.get("smi_1")
    finally:
        c.close()


def test_raising_credential_provider_is_logged_and_declines(sandbox, caplog):
    def provide(request):
        raise KeyError("no such cashier")

    cfg = sandbox.config()
    del cfg["credentials"]
    c = secucard.Client(cfg, credentials=provide)
    try:
        with caplog.at_level(logging.ERROR, logger="secucard"):
            with pytest.raises(secucard.AuthCanceled):
                c.smart.idents.get("smi_1")
        assert any(r.exc_info and isinstance(r.exc_info[1], KeyError) for r in caplog.records)
    finally:
        c.close()


def test_without_credentials_or_provider(sandbox):
    cfg = sandbox.config()
    del cfg["credentials"]
    c = secucard.Client(cfg)
    try:
        with pytest.raises(secucard.AuthNoCredentials):
            c.smart.idents.get("smi_1")
    finally:
        c.close()
