"""Fixtures: secucard-sandbox processes (started on port 0, stopped with SIGTERM)
and clients configured for them.

The Makefile's `test` target sets SECUCARD_LIBRARY (the library under test)
and SECUCARD_SANDBOX (the sandbox binary).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

import secucard

HERE = os.path.dirname(os.path.abspath(__file__))
BINDING = os.path.dirname(HERE)
TOP = os.path.dirname(os.path.dirname(BINDING))


class Sandbox:
    """One running secucard-sandbox and its admin API."""

    def __init__(self, *flags: str) -> None:
        binary = os.environ.get("SECUCARD_SANDBOX")
        if not binary or not os.access(binary, os.X_OK):
            raise RuntimeError("SECUCARD_SANDBOX must name the secucard-sandbox binary (make sandbox)")
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [binary, "-http", "127.0.0.1:0", *flags],
            stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL,
        )
        line = self._ready_line(timeout=30)
        self.info = json.loads(line)
        # Nothing else is expected on stdout; drain it so a chatty sandbox never blocks.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        self.url = self.info["sandbox_url"]
        self.admin_url = self.info["admin_url"]
        self.client_id = self.info["client_id"]
        self.client_secret = self.info["client_secret"]

    def _ready_line(self, timeout: float) -> bytes:
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            self.stop()
            raise RuntimeError(f"secucard-sandbox printed nothing within {timeout}s: {self.log()}")
        line = self.proc.stdout.readline()
        if not line.strip():
            self.stop()
            raise RuntimeError(f"secucard-sandbox exited before it was ready: {self.log()}")
        return line

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def config(self, **overrides) -> dict:
        """A client config for this sandbox (client_credentials grant)."""
        cfg = {
            "environment": "sandbox",
            "sandbox_url": self.url,
            "credentials": {"client_id": self.client_id, "client_secret": self.client_secret},
            "stomp": {"enabled": False},
        }
        cfg.update(overrides)
        return cfg

    def device_config(self, uuid: str, **overrides) -> dict:
        cfg = self.config(**overrides)
        cfg["credentials"] = dict(cfg["credentials"], grant="device", device_uuid=uuid)
        return cfg

    def admin(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.admin_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            raise AssertionError(f"admin {method} {path}: {e.code} {e.read()!r}") from None

    def requests(self) -> list[dict]:
        return self.admin("GET", "/requests")

    def fault(self, **fault) -> None:
        self.admin("POST", "/faults", fault)


def wait_for(predicate, timeout: float, what: str):
    """Polls predicate until it is true; fails the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout}s for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def sandbox():
    # Device polls every second (the wire's smallest interval) keep the
    # device-flow tests short.
    sb = Sandbox("-device-interval", "1")
    yield sb
    sb.stop()


@pytest.fixture(scope="session")
def auto_sandbox():
    """A second sandbox that approves device codes as soon as they are issued."""
    sb = Sandbox("-device-auto-approve", "0s", "-device-interval", "1")
    yield sb
    sb.stop()


@pytest.fixture
def faults(sandbox):
    """The sandbox, with every fault cleared after the test."""
    yield sandbox
    sandbox.admin("DELETE", "/faults")


@pytest.fixture
def client(sandbox):
    c = secucard.Client(sandbox.config())
    yield c
    c.close()
