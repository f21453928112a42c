"""Exceptions raised by the secucard package, mapped from the library's error JSON.

Every exception carries the error JSON as ``.raw`` and its fields as
attributes (None when absent): ``status`` (the library's status code), ``type``,
``message``, ``retryable``, ``outcome``, ``idempotency_key``,
``retry_after_ms``, ``object_id``, ``field``, ``reason``, ``op``,
``http_status``, ``error``, ``error_details``, ``error_user``, ``code`` and
``support_id``.

What a failed call may have done, and what is safe next (the library decides
these once, the same for every channel; see include/secucard.h):

``outcome``
    ``"not_sent"``: the request provably never left the machine.
    ``"rejected"``: the server answered that it did not carry it out.
    ``"unknown"``: the server may have acted (answer lost or timed out, 5xx).
``retryable``
    True promises that repeating this exact request *with the same
    ``idempotency_key``* may succeed and cannot execute twice. False with
    ``outcome == "unknown"`` means: look the object up (``object_id``)
    before doing anything again.
``idempotency_key``
    The key a mutating call was sent with. Repeat with
    ``{"idempotency_key": e.idempotency_key, ...}``, never with a new one.
``retry_after_ms``
    The server's Retry-After, whenever it sent one.
``object_id``
    With ``outcome == "unknown"``: the object to look up first (the
    transaction of a payment start).

A payment start that ends without a payment raises ``DeclinedError`` with
the transaction (``.transaction``, ``.receipt``); it never returns normally.

Errors of CardPointe calls (``client.cardpointe``) also carry the Gateway's
answer: ``respstat`` ("A", "B", "C"), ``respcode``, ``resptext``,
``respproc``, ``retref``, ``avsresp``, ``cvvresp``, and on every error of an
auth its ``orderid``. Their ``outcome`` may also be ``"voided"``: the answer
of an auth was lost and the library voided it, so nothing stands and
``retryable`` is True. A temporary decline (respstat "B") is a
``DeclinedError`` with ``temporary`` True and ``retryable`` True.
"""

from __future__ import annotations

import builtins
import json
from typing import Any

from . import _native


class SecucardError(Exception):
    """Base class of every error the library reports.

    Before repeating a failed call, read ``retryable`` and ``outcome`` (see the
    module documentation): a till that repeats only what ``retryable`` allows,
    with ``idempotency_key``, never charges twice.
    """

    def __init__(self, raw: dict[str, Any]):
        self.raw: dict[str, Any] = raw
        self.status: int = raw.get("status", _native.ERR_INTERNAL)
        self.type: str | None = raw.get("type")
        self.message: str = raw.get("message") or "unknown error"
        #: True: repeating this exact request with the same idempotency_key
        #: may succeed and cannot execute twice.
        self.retryable: bool = bool(raw.get("retryable", False))
        #: "not_sent", "rejected", "unknown" or (CardPointe) "voided"; None for
        #: errors that are not about a request, such as a bad config.
        self.outcome: str | None = raw.get("outcome")
        #: The idempotency key (X-Action) a mutating call was sent with.
        self.idempotency_key: str | None = raw.get("idempotency_key")
        #: The server's Retry-After in milliseconds, when it sent one.
        self.retry_after_ms: int | None = raw.get("retry_after_ms")
        #: With outcome "unknown": the object to look up before repeating.
        self.object_id: str | None = raw.get("object_id")
        self.field: str | None = raw.get("field")
        self.reason: str | None = raw.get("reason")
        self.op: str | None = raw.get("op")
        self.http_status: int | None = raw.get("http_status")
        self.error: str | None = raw.get("error")
        self.error_details: str | None = raw.get("error_details")
        self.error_user: str | None = raw.get("error_user")
        self.code: str | None = raw.get("code")
        self.support_id: str | None = raw.get("support_id")
        # The CardPointe Gateway's answer (None for secucard calls).
        self.respstat: str | None = raw.get("respstat")
        self.respcode: str | None = raw.get("respcode")
        self.resptext: str | None = raw.get("resptext")
        self.respproc: str | None = raw.get("respproc")
        self.retref: str | None = raw.get("retref")
        self.avsresp: str | None = raw.get("avsresp")
        self.cvvresp: str | None = raw.get("cvvresp")
        #: A CardPointe auth's orderid: look it up by it before charging again.
        self.orderid: str | None = raw.get("orderid")
        super().__init__(self.message)

    def __str__(self) -> str:
        text = self.message
        if self.op and not text.startswith(self.op):
            text = f"{self.op}: {text}"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.raw!r})"

    def __reduce__(self) -> tuple[type[SecucardError], tuple[dict[str, Any]]]:
        # Rebuild from the error JSON (args holds only the message), so the
        # exception survives pickling, e.g. across a process pool.
        return type(self), (self.raw,)


class InvalidArgument(SecucardError, ValueError):
    """Bad input: invalid config or request; ``.field`` names the key at fault."""


class InvalidHandle(InvalidArgument):
    """The client handle is not live (closed and freed, or never created)."""


class AuthError(SecucardError):
    """Credentials or token refused; ``.reason`` refines it (see the subclasses)."""


class AuthDenied(AuthError):
    """The credentials or the device authorization were refused."""


class AuthInvalidGrant(AuthError):
    """A refresh token or device code is no longer valid."""


class AuthExpired(AuthError):
    """The device code expired before anyone approved it."""


class AuthTimeout(AuthError):
    """The device authorization ran past auth.wait_timeout_ms."""


class AuthCanceled(AuthError):
    """The host canceled the device authorization or declined to give credentials."""


class AuthNoCredentials(AuthError):
    """No credentials were configured and no provider gave any."""


class AuthNotAuthorized(AuthError):
    """An interactive grant (device, appuser) is needed: call open() first."""


class AuthTokenRejected(AuthError):
    """The API refused a freshly issued token."""


class ApiError(SecucardError):
    """The secucard API answered with its error envelope (see ``.error``,
    ``.error_details``, ``.error_user``, ``.code``, ``.support_id``, ``.http_status``)."""


class DeclinedError(SecucardError):
    """A payment was declined.

    A smart.transactions start that ended without a payment (the terminal,
    processor or gateway declined it): ``.reason`` is the transaction's
    status ("failed", "aborted", "canceled", "timeout", ...),
    ``.transaction`` the transaction as it ended and ``.receipt`` its receipt
    lines (print them: ``secucard.format_receipt(e.transaction)``).

    A CardPointe decline: ``respstat``, ``respcode``, ``resptext``,
    ``respproc``, ``retref``, ``avsresp``, ``cvvresp`` and ``orderid`` say what
    the Gateway answered. ``temporary`` is True for a decline for now
    (respstat "B", e.g. PPS 62 "Timed out"): nothing was charged and
    ``retryable`` is True.
    """

    def __init__(self, raw: dict[str, Any]):
        super().__init__(raw)
        #: The transaction as the payment left it (a dict), or None.
        self.transaction: dict[str, Any] | None = raw.get("transaction")
        #: Its receipt lines (a list), or None.
        self.receipt: list[Any] | None = (self.transaction or {}).get("receipt")

    @property
    def temporary(self) -> bool:
        """Declined for now (CardPointe respstat "B"): a new attempt may pass."""
        return self.reason == "temporary"


#: The name the CardPointe documentation of this package uses.
Declined = DeclinedError


class NetworkError(SecucardError, ConnectionError):
    """The connection failed, was reset, or the answer was unreadable."""


class TimeoutError(SecucardError, builtins.TimeoutError):  # noqa: A001 - the name is the API
    """The call's deadline passed; the outcome may be unknown."""


class CanceledError(SecucardError):
    """The call was canceled (by the host, or because the client closed)."""


class ClosedError(SecucardError):
    """The client is closed."""


class StorageError(SecucardError):
    """Token storage failed."""


class InternalError(SecucardError):
    """A bug in the library (or a status this package does not know)."""


_BY_TYPE: dict[str, type[SecucardError]] = {
    "invalid_argument": InvalidArgument,
    "invalid_handle": InvalidHandle,
    "auth": AuthError,
    "api": ApiError,
    "declined": DeclinedError,
    "network": NetworkError,
    "timeout": TimeoutError,
    "canceled": CanceledError,
    "closed": ClosedError,
    "storage": StorageError,
    "internal": InternalError,
}

_AUTH_BY_REASON: dict[str, type[AuthError]] = {
    "denied": AuthDenied,
    "invalid_grant": AuthInvalidGrant,
    "expired": AuthExpired,
    "timeout": AuthTimeout,
    "canceled": AuthCanceled,
    "no_credentials": AuthNoCredentials,
    "not_authorized": AuthNotAuthorized,
    "token_rejected": AuthTokenRejected,
}

# Used when the error JSON lacks a known "type" (codes may be added).
_BY_STATUS: dict[int, str] = {
    _native.ERR_INVALID_ARGUMENT: "invalid_argument",
    _native.ERR_INVALID_HANDLE: "invalid_handle",
    _native.ERR_AUTH: "auth",
    _native.ERR_API: "api",
    _native.ERR_DECLINED: "declined",
    _native.ERR_NETWORK: "network",
    _native.ERR_TIMEOUT: "timeout",
    _native.ERR_CANCELED: "canceled",
    _native.ERR_CLOSED: "closed",
    _native.ERR_STORAGE: "storage",
}


def error_from(status: int, err_json: str | dict[str, Any] | None) -> SecucardError:
    """The one mapping from a failed status and its error JSON to an exception."""
    raw: dict[str, Any]
    if isinstance(err_json, dict):
        raw = dict(err_json)
    elif err_json:
        try:
            parsed = json.loads(err_json)
        except ValueError:
            parsed = None
        raw = parsed if isinstance(parsed, dict) else {"message": err_json}
    else:
        raw = {}
    raw.setdefault("status", status)
    if not raw.get("message"):
        raw["message"] = _native.lib.secucard_strerror(status).decode("utf-8", "replace")
    kind = raw.get("type")
    if kind not in _BY_TYPE:
        kind = _BY_STATUS.get(raw["status"], "internal")
    cls = _BY_TYPE[kind]
    if cls is AuthError:
        cls = _AUTH_BY_REASON.get(raw.get("reason") or "", AuthError)
    return cls(raw)
