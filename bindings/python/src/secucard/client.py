"""The secucard client: a thin Python face over libsecucard's C interface.

All protocol work (authentication, retries, channels, event parsing) happens in
the library. This module only turns Python values into the library's JSON,
library errors into exceptions, and C callbacks into Python calls.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import difflib
import functools
import itertools
import json
import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, TypeVar

from . import _native
from ._native import lib, take_string
from .cardpointe import CardPointe
from .errors import ClosedError, error_from

logger = logging.getLogger("secucard")

# Python logging level for each SECUCARD_LOG_* level. The library's TRACE sits
# below DEBUG; it gets a name only if nobody named level 5 already.
TRACE = 5
if logging.getLevelName(TRACE) == f"Level {TRACE}":
    logging.addLevelName(TRACE, "TRACE")
_PY_LEVEL = {
    _native.LOG_ERROR: logging.ERROR,
    _native.LOG_WARN: logging.WARNING,
    _native.LOG_INFO: logging.INFO,
    _native.LOG_DEBUG: logging.DEBUG,
    _native.LOG_TRACE: TRACE,
}


def _native_level(level: int) -> int:
    """The SECUCARD_LOG_* threshold that forwards what a logger at `level` emits."""
    if level <= TRACE:
        return _native.LOG_TRACE
    if level <= logging.DEBUG:
        return _native.LOG_DEBUG
    if level <= logging.INFO:
        return _native.LOG_INFO
    if level <= logging.WARNING:
        return _native.LOG_WARN
    if level <= logging.CRITICAL:
        return _native.LOG_ERROR
    return _native.LOG_OFF


def _check(status: int, err: ctypes.c_void_p | None = None) -> None:
    """Raises the mapped exception for a failed status (freeing the error JSON)."""
    text = take_string(err) if err is not None else None
    if status != _native.OK:
        raise error_from(status, text)


def _dumps(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _loads(text: str | bytes | None) -> Any:
    return None if text is None else json.loads(text)


# How long a blocking call waits in the library before Python gets a chance to
# run its signal handlers: Ctrl-C raises KeyboardInterrupt within about this
# long (a thread blocked inside a C call cannot be interrupted).
_WAIT_SLICE = 0.05

_T = TypeVar("_T")


def _wait(future: concurrent.futures.Future[Any], on_interrupt: Callable[[], Any]) -> Any:
    """Waits for `future` in short slices so that Ctrl-C (or any exception a
    signal handler raises) interrupts the wait at once; `on_interrupt` then
    cancels the work in the library before the exception propagates."""
    try:
        # Not future.result(timeout=...): the call's own secucard.TimeoutError
        # is a builtins.TimeoutError too and would read as "not done yet".
        while not future.done():
            concurrent.futures.wait((future,), timeout=_WAIT_SLICE)
    except BaseException:
        if not future.done():  # interrupted, not failed
            on_interrupt()
        raise
    return future.result()


def _interruptible() -> bool:
    """Python raises KeyboardInterrupt only in the main thread: only there does
    a blocking call need to leave the main thread free. Elsewhere (worker
    threads, library callbacks) calls block in the library as they are."""
    return threading.current_thread() is threading.main_thread()


def _in_thread(fn: Callable[[], _T]) -> concurrent.futures.Future[_T]:
    """Runs a blocking library call on a helper thread (the main thread stays
    free for Ctrl-C) and returns its Future."""
    future: concurrent.futures.Future[_T] = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(fn())
        except BaseException as e:  # noqa: BLE001 - handed to the waiting thread
            future.set_exception(e)

    threading.Thread(target=run, name="secucard-blocking-call", daemon=True).start()
    return future


@functools.lru_cache(maxsize=1)
def catalog() -> dict[str, list[str]]:
    """The products and resources the library knows (secucard_catalog):
    ``{"products": [...], "resources": ["smart.transactions", ...]}``."""
    out = ctypes.c_void_p()
    status = lib.secucard_catalog(ctypes.byref(out))
    text = take_string(out)
    if status != _native.OK or text is None:
        raise error_from(status, None)
    names: dict[str, list[str]] = json.loads(text)
    return names


def _guard(what: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Runs a user callback; an exception is logged, never handed to the library."""
    try:
        return fn(*args)
    except BaseException:
        logger.exception("secucard: the %s callback raised; ignored", what)
        return None


def format_receipt(lines_or_transaction: Any, width: int = 40) -> str:
    """Renders receipt lines (or a smart transaction's "receipt") as till text.

    `lines_or_transaction` is the list of receipt lines, a transaction dict, or
    their JSON text; `width` is the printer's columns (20..200).
    """
    text = ctypes.c_void_p()
    err = ctypes.c_void_p()
    status = lib.secucard_format_receipt(
        _dumps(lines_or_transaction), int(width), ctypes.byref(text), ctypes.byref(err)
    )
    rendered = take_string(text)
    _check(status, err)
    return rendered or ""


class _Hooks:
    """The Python callables a client's C callbacks lead to.

    The C trampolines reach this object through a weak reference only, so a
    user callback that refers to its client does not keep the client alive.
    """

    def __init__(self) -> None:
        self.on_event: Callable[[dict[str, Any]], Any] | None = None
        self.on_device_code: Callable[[str, str, int], Any] | None = None
        self.credentials: Callable[[dict[str, Any]], Any] | None = None
        self.store: Any = None

    def event(self, raw: bytes) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            logger.error("secucard: the library delivered an event that is not JSON; ignored")
            return
        device = self.on_device_code
        if device and event.get("kind") == "auth" and event.get("state") == "device_code":
            _guard(
                "on_device_code",
                device,
                event.get("user_code"),
                event.get("verification_url"),
                event.get("expires_in"),
            )
        fn = self.on_event
        if fn:
            _guard("on_event", fn, event)


class _Pending:
    """Async calls in flight, by the token passed to the library as user_data."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: dict[int, CallFuture] = {}
        self.tokens = itertools.count(1)

    def add(self, future: CallFuture) -> int:
        with self.lock:
            token = next(self.tokens)
            self.calls[token] = future
            return token

    def pop(self, token: int | None) -> CallFuture | None:
        with self.lock:
            return self.calls.pop(token or 0, None)

    def pop_all(self) -> list[CallFuture]:
        with self.lock:
            calls, self.calls = list(self.calls.values()), {}
            return calls


def _trampolines(hooks_ref: weakref.ref[_Hooks], pending: _Pending) -> dict[str, Any]:
    """The CFUNCTYPE objects of one client. They must stay referenced for as
    long as the library may call them: until secucard_client_free returns."""

    def on_event(_user_data: int | None, event_json: bytes | None) -> None:
        hooks = hooks_ref()
        if hooks is not None and event_json is not None:
            hooks.event(event_json)

    def on_log(_user_data: int | None, level: int, message: bytes | None) -> None:
        text = (message or b"").decode("utf-8", "replace")
        logger.log(_PY_LEVEL.get(level, logging.INFO), "%s", text)

    def on_call_done(user_data: int | None, _call_id: int, status: int, result_json: bytes | None,
                     err_json: bytes | None) -> None:
        future = pending.pop(user_data)
        if future is None:
            return
        try:
            if status == _native.OK:
                future._finish(result=_loads(result_json))
            else:
                text = err_json.decode("utf-8", "replace") if err_json else None
                future._finish(error=error_from(status, text))
        except BaseException as e:  # noqa: BLE001 - e.g. an unparsable result
            future._finish(error=e)

    def on_credentials(_user_data: int | None, request_json: bytes | None, reply: int | None) -> int:
        hooks = hooks_ref()
        fn = hooks.credentials if hooks is not None else None
        if fn is None:
            return 1
        try:
            request = _loads(request_json)
        except ValueError:
            request = {}
        creds = _guard("credentials", fn, request)
        if creds is None:
            return 1  # declined: the pending open or call fails with AuthCanceled
        try:
            data = _dumps(creds)
        except (TypeError, ValueError):
            logger.error("secucard: the credentials callback returned something that is not JSON")
            return 1
        if lib.secucard_reply_set(reply, data, len(data)) != _native.OK:
            logger.error("secucard: could not hand the credentials to the library")
            return 1
        return 0

    def store_of() -> Any:
        hooks = hooks_ref()
        return hooks.store if hooks is not None else None

    def store_get(_user_data: int | None, key: bytes, reply: int | None) -> int:
        store = store_of()
        if store is None:
            return _native.STORE_ERROR
        try:
            value = store.get(key.decode("utf-8"))
            if value is None:
                return _native.STORE_NOT_FOUND
            value = bytes(value)
            if lib.secucard_reply_set(reply, value, len(value)) != _native.OK:
                return _native.STORE_ERROR
            return _native.STORE_OK
        except BaseException:
            logger.exception("secucard: the store's get raised; reported as a storage error")
            return _native.STORE_ERROR

    def store_put(_user_data: int | None, key: bytes, value: int | None, length: int) -> int:
        store = store_of()
        if store is None:
            return _native.STORE_ERROR
        try:
            store.put(key.decode("utf-8"), ctypes.string_at(value, length) if value and length else b"")
            return _native.STORE_OK
        except BaseException:
            logger.exception("secucard: the store's put raised; reported as a storage error")
            return _native.STORE_ERROR

    def store_del(_user_data: int | None, key: bytes) -> int:
        store = store_of()
        if store is None:
            return _native.STORE_ERROR
        try:
            store.delete(key.decode("utf-8"))
            return _native.STORE_OK
        except BaseException:
            logger.exception("secucard: the store's delete raised; reported as a storage error")
            return _native.STORE_ERROR

    return {
        "event": _native.EVENT_CB(on_event),
        "log": _native.LOG_CB(on_log),
        "call": _native.CALL_CB(on_call_done),
        "credentials": _native.CREDENTIALS_CB(on_credentials),
        "store_get": _native.STORE_GET_CB(store_get),
        "store_put": _native.STORE_PUT_CB(store_put),
        "store_del": _native.STORE_DEL_CB(store_del),
    }


def _release(handle: int, trampolines: dict[str, Any], pending: _Pending) -> None:
    """Frees the handle (closing the client first if needed). Runs once, as the
    weakref.finalize safety net: at garbage collection or interpreter exit.
    The finalizer holds `trampolines`, which keeps the C callbacks alive until
    secucard_client_free has returned (no callback runs after that)."""
    lib.secucard_client_free(handle)
    for future in pending.pop_all():  # normally none: close completes them all
        future._finish(error=ClosedError({"status": _native.ERR_CLOSED, "type": "closed",
                                          "message": "the client was freed"}))


if TYPE_CHECKING:
    _Future = concurrent.futures.Future[Any]
else:  # Future is subscriptable at run time from Python 3.9 only
    _Future = concurrent.futures.Future


class CallFuture(_Future):
    """A concurrent.futures.Future for one secucard_call_async call.

    cancel() asks the library to cancel the call (secucard_cancel) and marks
    the future cancelled. A request the server had already received may still
    take effect there: check before repeating a payment.
    """

    def __init__(self, handle: int) -> None:
        super().__init__()
        self._handle = handle
        self.call_id: int | None = None

    def cancel(self) -> bool:
        if self.done():
            return False
        if self.call_id is not None:
            lib.secucard_cancel(self._handle, self.call_id)
        return super().cancel()

    def _finish(self, result: Any = None, error: BaseException | None = None) -> None:
        try:
            if error is not None:
                self.set_exception(error)
            else:
                self.set_result(result)
        except concurrent.futures.InvalidStateError:
            if not self.cancelled():
                raise
            if error is None:
                logger.warning(
                    "secucard: async call %s completed after it was cancelled; "
                    "its result was discarded", self.call_id)


def _request(resource: str, op: str, *, id: Any = None, action: str | None = None,
             arg: Any = None, data: Any = None, query: dict[str, Any] | None = None,
             timeout: float | None = None, idempotency_key: str | None = None,
             channel: str | None = None, app_id: str | None = None) -> dict[str, Any]:
    """Builds the request JSON object of secucard_call."""
    req: dict[str, Any] = {"resource": resource, "op": op}
    if id is not None:
        req["id"] = str(id)
    if action is not None:
        req["action"] = action
    if arg is not None:
        req["arg"] = str(arg)
    if data is not None:
        req["data"] = data
    if query is not None:
        req["query"] = query
    if timeout is not None:
        req["timeout_ms"] = max(1, int(timeout * 1000))
    if idempotency_key is not None:
        req["idempotency_key"] = idempotency_key
    if channel is not None:
        req["channel"] = channel
    if app_id is not None:
        req["app_id"] = app_id
    return req


class Listing:
    """Every object of a list, fetched page by page as you iterate.

    A Listing can be iterated any number of times; each iteration starts again
    at the first page and fetches the pages anew. ``len(listing)`` is how many
    objects an iteration yields according to the server's total ``count``
    (fetching one small page if no page has arrived yet); ``total`` is that
    count as of the latest page.

    Paging is by offset, and the list is not a snapshot: when objects are
    created or deleted while you iterate, the offsets shift, so an object may
    be skipped or yielded twice. An iteration ends at the total of the latest
    page, at an empty page, or at ``limit``. Sort by a field that does not
    change (``sort={"created": "asc"}``) and narrow with ``q`` to keep the
    window stable; an object created during the iteration may or may not
    appear.
    """

    def __init__(self, client: Client, resource: str, query: dict[str, Any], limit: int | None,
                 options: dict[str, Any]) -> None:
        self.total: int | None = None
        self._client = client
        self._resource = resource
        self._query = dict(query)
        self._offset = self._query.pop("offset", 0) or 0
        self._limit = limit
        self._options = options

    def __iter__(self) -> Iterator[Any]:
        return self._pages()

    def __len__(self) -> int:
        if self.total is None:
            self._page(self._offset, count=1)
        n = max(0, (self.total or 0) - self._offset)
        return n if self._limit is None else min(n, self._limit)

    def __repr__(self) -> str:
        return f"<secucard listing {self._resource} total={self.total}>"

    def _page(self, offset: int, **query: Any) -> list[Any]:
        page = self._client.call(_request(self._resource, "list",
                                          query=dict(self._query, offset=offset, **query),
                                          **self._options))
        self.total = page.get("count")
        return page.get("data") or []

    def _pages(self) -> Iterator[Any]:
        offset, yielded, limit = self._offset, 0, self._limit
        while limit is None or yielded < limit:
            data = self._page(offset)
            for item in data:
                if limit is not None and yielded >= limit:
                    return
                yield item
                yielded += 1
            offset += len(data)
            if not data or (self.total is not None and offset >= self.total):
                return


class Resource:
    """One product.resource, e.g. ``client.smart.transactions``.

    Every method takes these keyword options: ``timeout`` (seconds),
    ``idempotency_key``, ``channel`` ("rest" or "stomp"), ``app_id``.
    Results are the decoded JSON answers (dicts).
    """

    def __init__(self, client: Client, name: str) -> None:
        self._client = client
        self.name = name

    def __repr__(self) -> str:
        return f"<secucard resource {self.name}>"

    def get(self, id: str, **options: Any) -> Any:
        return self._client.call(_request(self.name, "get", id=id, **options))

    def list(self, *, count: int | None = None, offset: int = 0, q: str | None = None,
             sort: Mapping[str, str] | None = None, fields: list[str] | None = None,
             limit: int | None = None, **options: Any) -> Listing:
        """Iterates over the objects matching `q`; `count` is the page size,
        `limit` stops after that many objects."""
        query: dict[str, Any] = {"offset": offset}
        if count is not None:
            query["count"] = count
        if q is not None:
            query["q"] = q
        if sort is not None:
            query["sort"] = dict(sort)
        if fields is not None:
            query["fields"] = list(fields)
        return Listing(self._client, self.name, query, limit, options)

    def create(self, data: Any, **options: Any) -> Any:
        return self._client.call(_request(self.name, "create", data=data, **options))

    def update(self, id: str, data: Any, **options: Any) -> Any:
        return self._client.call(_request(self.name, "update", id=id, data=data, **options))

    def delete(self, id: str, **options: Any) -> Any:
        return self._client.call(_request(self.name, "delete", id=id, **options))

    def execute(self, id: str | None, action: str, arg: Any = None, data: Any = None,
                **options: Any) -> Any:
        return self._client.call(
            _request(self.name, "execute", id=id, action=action, arg=arg, data=data, **options))

    # Async variants: the same calls, returning a concurrent.futures.Future.

    def get_async(self, id: str, **options: Any) -> CallFuture:
        return self._client.call_async(_request(self.name, "get", id=id, **options))

    def create_async(self, data: Any, **options: Any) -> CallFuture:
        return self._client.call_async(_request(self.name, "create", data=data, **options))

    def update_async(self, id: str, data: Any, **options: Any) -> CallFuture:
        return self._client.call_async(_request(self.name, "update", id=id, data=data, **options))

    def delete_async(self, id: str, **options: Any) -> CallFuture:
        return self._client.call_async(_request(self.name, "delete", id=id, **options))

    def execute_async(self, id: str | None, action: str, arg: Any = None, data: Any = None,
                      **options: Any) -> CallFuture:
        return self._client.call_async(
            _request(self.name, "execute", id=id, action=action, arg=arg, data=data, **options))


class SmartTransactions(Resource):
    """smart.transactions with the POS core's actions."""

    def start(self, id: str, type: str, **options: Any) -> Any:
        """Starts payment of a created transaction; `type` e.g. "demo", "cash",
        "auto". Returns the paid transaction (status, receipt lines). A payment
        that ended without being made raises DeclinedError; its
        ``.transaction`` holds the transaction and receipt."""
        return self.execute(id, "start", arg=type, **options)

    def start_async(self, id: str, type: str, **options: Any) -> CallFuture:
        return self.execute_async(id, "start", arg=type, **options)

    def cancel(self, id: str, **options: Any) -> Any:
        return self.execute(id, "cancel", **options)

    def diagnosis(self, **options: Any) -> Any:
        return self.execute(None, "Diagnosis", **options)

    def end_of_day(self, **options: Any) -> Any:
        return self.execute(None, "EndofDay", **options)

    def cancel_trx(self, receipt_number: str | int, **options: Any) -> Any:
        """Cancels a finished payment by its receipt number."""
        return self.execute(str(receipt_number), "cancelTrx", **options)


_TYPED: dict[str, type[Resource]] = {"smart.transactions": SmartTransactions}


class Product:
    """A product namespace: ``client.smart`` gives ``client.smart.idents``, ...

    Names are checked by the library when a call is made, so new server
    resources need no new binding (see the config's allow_unknown_resources).
    """

    def __init__(self, client: Client, name: str) -> None:
        self._client = client
        self.name = name

    def __getattr__(self, name: str) -> Resource:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._client.resource(f"{self.name}.{name}")

    def __repr__(self) -> str:
        return f"<secucard product {self.name}>"


class Client:
    """A secucard connect client.

    ``config`` is the config object of secucard_client_new (a dict or its JSON
    text). Keyword arguments:

    - ``credentials``: a callable ``(request: dict) -> dict | None`` asked for
      credentials the config does not hold; return None to decline.
    - ``store``: an object with ``get(key) -> bytes | None``, ``put(key, value)``
      and ``delete(key)`` holding the (already encrypted) tokens; needs
      ``{"store": {"type": "callback"}}`` in the config.
    - ``on_event``: a callable receiving every event dict (push, connection, auth).
    - ``on_device_code``: ``(user_code, verification_url, expires_in)``, called
      when the device authorization needs a person to enter the code.
    - ``log_level``: the Python logging level from which library log lines are
      forwarded to the ``secucard`` logger; default: that logger's effective level.

    Use it as a context manager (open on enter, close on exit). Every method
    may be called from any thread. Callbacks run on library threads.
    """

    def __init__(self, config: Mapping[str, Any] | str, *,
                 credentials: Callable[[dict[str, Any]], Any] | None = None,
                 store: Any = None,
                 on_event: Callable[[dict[str, Any]], Any] | None = None,
                 on_device_code: Callable[[str, str, int], Any] | None = None,
                 log_level: int | str | None = None) -> None:
        if isinstance(config, Mapping):
            config_json = _dumps(dict(config))
            allow_unknown = config.get("allow_unknown_resources") is True
        elif isinstance(config, str):
            config_json = config.encode("utf-8")
            try:
                allow_unknown = json.loads(config).get("allow_unknown_resources") is True
            except (ValueError, AttributeError):
                allow_unknown = False  # the library names what is wrong with it
        else:
            raise TypeError(f"config must be a dict or a JSON string, not {type(config).__name__}")
        self._allow_unknown = allow_unknown
        self._hooks = _Hooks()
        self._pending = _Pending()
        self._callbacks = _trampolines(weakref.ref(self._hooks), self._pending)
        handle = ctypes.c_void_p()
        err = ctypes.c_void_p()
        _check(lib.secucard_client_new(config_json, ctypes.byref(handle), ctypes.byref(err)), err)
        self._handle: int = handle.value or 0  # not NULL: secucard_client_new succeeded
        self._finalizer = weakref.finalize(self, _release, self._handle, self._callbacks,
                                           self._pending)
        try:
            self.set_log_level(logger.getEffectiveLevel() if log_level is None else log_level)
            if store is not None:
                self._hooks.store = store
                c = self._callbacks
                _check(lib.secucard_set_storage_callbacks(
                    self._handle, c["store_get"], c["store_put"], c["store_del"], None))
            if credentials is not None:
                self.set_credential_provider(credentials)
            self._hooks.on_event = on_event
            self._hooks.on_device_code = on_device_code
            self._update_event_callback()
        except BaseException:
            self._finalizer()
            raise

    # --- lifecycle ---

    def open(self) -> Client:
        """Authenticates (running the device authorization if needed) and connects.
        Ctrl-C cancels it (as cancel_auth() does) and raises KeyboardInterrupt."""
        handle = self._handle

        def run() -> None:
            err = ctypes.c_void_p()
            _check(lib.secucard_client_open(handle, ctypes.byref(err)), err)

        if _interruptible():
            _wait(_in_thread(run), self.cancel_auth)
        else:
            run()
        return self

    def close(self) -> None:
        """Closes the client: calls in flight end with CanceledError, later calls
        raise ClosedError. Closing twice is harmless. Stored tokens are kept."""
        err = ctypes.c_void_p()
        _check(lib.secucard_client_close(self._handle, ctypes.byref(err)), err)

    def __enter__(self) -> Client:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def clear_tokens(self) -> None:
        """Deletes the stored tokens. With the client_credentials grant the next
        call authenticates by itself; with the device and appuser grants only
        open() authorizes again (a new device authorization), and calls raise
        AuthNotAuthorized until then."""
        err = ctypes.c_void_p()
        _check(lib.secucard_client_clear_tokens(self._handle, ctypes.byref(err)), err)

    def cancel_auth(self) -> None:
        """Cancels a device authorization in progress (open raises AuthCanceled).
        Safe from any thread, including callbacks."""
        _check(lib.secucard_cancel_auth(self._handle))

    def stats(self) -> dict[str, Any]:
        out = ctypes.c_void_p()
        status = lib.secucard_client_stats(self._handle, ctypes.byref(out))
        text = take_string(out)
        if status != _native.OK or text is None:
            raise error_from(status, None)
        stats: dict[str, Any] = json.loads(text)
        return stats

    # --- calls ---

    def call(self, request: Mapping[str, Any] | str) -> Any:
        """Performs one call described by a request object (see secucard_call)
        and returns the decoded answer.

        Ctrl-C raises KeyboardInterrupt at once and cancels the call in the
        library (the request is abandoned on the wire). A payment the server
        had already received may still complete there: look it up before
        repeating it."""
        if _interruptible():
            future = self.call_async(request)
            return _wait(future, future.cancel)
        result = ctypes.c_void_p()
        err = ctypes.c_void_p()
        status = lib.secucard_call(self._handle, _dumps(request), ctypes.byref(result),
                                   ctypes.byref(err))
        text = take_string(result)
        _check(status, err)
        return _loads(text)

    def call_async(self, request: Mapping[str, Any] | str) -> CallFuture:
        """Starts a call and returns a Future of its decoded answer.
        ``future.cancel()`` cancels the call in the library."""
        future = CallFuture(self._handle)
        token = self._pending.add(future)
        call_id = ctypes.c_uint64()
        err = ctypes.c_void_p()
        status = lib.secucard_call_async(self._handle, _dumps(request), self._callbacks["call"],
                                         token, ctypes.byref(call_id), ctypes.byref(err))
        if status != _native.OK:
            self._pending.pop(token)
            _check(status, err)
        future.call_id = call_id.value
        return future

    @property
    def cardpointe(self) -> CardPointe:
        """The CardPointe Gateway (needs a "cardpointe" section in the config):
        ``client.cardpointe.auth(amount=1999, account=token, capture=True)``."""
        return CardPointe(self)

    def resource(self, name: str) -> Resource:
        """The resource "product.resource", e.g. ``client.resource("smart.idents")``."""
        return _TYPED.get(name.lower(), Resource)(self, name)

    def __getattr__(self, name: str) -> Product:
        """``client.smart`` and the other products of the library's catalog;
        with the config's allow_unknown_resources, any lower-case name."""
        if name.startswith("_") or not name.isidentifier() or name.lower() != name:
            raise AttributeError(name)
        products = catalog()["products"]
        if name in products or self.__dict__.get("_allow_unknown"):
            return Product(self, name)
        known = products + [m for m in dir(type(self)) if not m.startswith("_")]
        hint = difflib.get_close_matches(name, known, n=1)
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}"
            + (f"; did you mean {hint[0]!r}?" if hint else "; it is no method and no product"))

    # --- events ---

    def on_event(self, fn: Callable[[dict[str, Any]], Any] | None) -> None:
        """Delivers every event dict to `fn` on a library thread (None stops).
        While a callback is set, events() cannot be used."""
        self._hooks.on_event = fn
        self._update_event_callback()

    def on_device_code(self, fn: Callable[[str, str, int], Any] | None) -> None:
        """Calls fn(user_code, verification_url, expires_in) when a person must
        approve this device. Set it before open()."""
        self._hooks.on_device_code = fn
        self._update_event_callback()

    def _update_event_callback(self) -> None:
        wanted = self._hooks.on_event is not None or self._hooks.on_device_code is not None
        cb = self._callbacks["event"] if wanted else _native.EVENT_CB()
        _check(lib.secucard_set_event_callback(self._handle, cb, None))

    def events(self, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Yields queued events; stops when none arrives within `timeout`
        seconds (None: wait for ever). Only without on_event/on_device_code."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            # Wait in slices so that Ctrl-C reaches a thread waiting for ever.
            slice_ms = int(_WAIT_SLICE * 1000)
            if deadline is not None:
                slice_ms = max(0, min(slice_ms, int((deadline - time.monotonic()) * 1000)))
            out = ctypes.c_void_p()
            status = lib.secucard_next_event(self._handle, slice_ms, ctypes.byref(out))
            text = take_string(out)
            if status == _native.ERR_NO_EVENT:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                continue
            if status == _native.ERR_INVALID_ARGUMENT:
                raise error_from(status, {"type": "invalid_argument", "message": (
                    "events() cannot be used while on_event or on_device_code is set")})
            if status != _native.OK:
                raise error_from(status, None)
            yield json.loads(text or "null")
            if timeout is not None:
                deadline = time.monotonic() + timeout

    def handle_webhook(self, body: Mapping[str, Any] | str | bytes) -> None:
        """Feeds a body your webhook endpoint received into the event pipeline;
        it is delivered as a "push" event."""
        err = ctypes.c_void_p()
        _check(lib.secucard_handle_event(self._handle, _dumps(body), ctypes.byref(err)), err)

    # --- host services ---

    def set_credential_provider(self, fn: Callable[[dict[str, Any]], Any] | None) -> None:
        """fn(request) -> credentials dict (keys of the config's "credentials"),
        or None to decline. Called on a library thread."""
        self._hooks.credentials = fn
        cb = self._callbacks["credentials"] if fn is not None else _native.CREDENTIALS_CB()
        _check(lib.secucard_set_credentials_callback(self._handle, cb, None))

    def set_log_level(self, level: int | str) -> None:
        """Forwards library log lines at or above the Python logging `level`."""
        if isinstance(level, str):
            named = logging.getLevelName(level.upper())
            if not isinstance(named, int):
                raise ValueError(f"unknown logging level {level!r}")
            level = named
        native = _native_level(level)
        cb = self._callbacks["log"] if native != _native.LOG_OFF else _native.LOG_CB()
        _check(lib.secucard_set_log_callback(self._handle, cb, None, native))
