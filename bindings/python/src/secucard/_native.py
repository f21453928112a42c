"""Loading libsecucard and declaring its C interface (include/secucard.h).

Everything that touches ctypes lives here: where the library is found, the one
table of argument and result types, the callback types, and the helpers that
turn library-owned strings into Python strings (and free them with
secucard_free, never with the host's free).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from ctypes import (
    CFUNCTYPE,
    POINTER,
    c_char_p,
    c_int,
    c_size_t,
    c_uint64,
    c_void_p,
)
from typing import Iterable

# The ABI this package was written for (SECUCARD_ABI_VERSION in secucard.h).
ABI_VERSION = 1

# Status codes (secucard_status).
OK = 0
ERR_INVALID_ARGUMENT = 1
ERR_INVALID_HANDLE = 2
ERR_AUTH = 3
ERR_API = 4
ERR_DECLINED = 5
ERR_NETWORK = 6
ERR_TIMEOUT = 7
ERR_CANCELED = 8
ERR_CLOSED = 9
ERR_STORAGE = 10
ERR_NO_EVENT = 11
ERR_INTERNAL = 12

# Host storage callback results.
STORE_OK = 0
STORE_NOT_FOUND = 1
STORE_ERROR = 2

# Log levels (SECUCARD_LOG_*).
LOG_OFF = 0
LOG_ERROR = 1
LOG_WARN = 2
LOG_INFO = 3
LOG_DEBUG = 4
LOG_TRACE = 5

# Callback types. Strings handed to callbacks are valid only during the call;
# c_char_p arguments arrive as bytes copies, which is exactly that copy.
CALL_CB = CFUNCTYPE(None, c_void_p, c_uint64, c_int, c_char_p, c_char_p)
EVENT_CB = CFUNCTYPE(None, c_void_p, c_char_p)
CREDENTIALS_CB = CFUNCTYPE(c_int, c_void_p, c_char_p, c_void_p)
STORE_GET_CB = CFUNCTYPE(c_int, c_void_p, c_char_p, c_void_p)
STORE_PUT_CB = CFUNCTYPE(c_int, c_void_p, c_char_p, c_void_p, c_size_t)
STORE_DEL_CB = CFUNCTYPE(c_int, c_void_p, c_char_p)
LOG_CB = CFUNCTYPE(None, c_void_p, c_int, c_char_p)

_OUT = POINTER(c_void_p)  # char **: library-owned strings come back as raw pointers
_HANDLE = c_void_p  # secucard_client *

# The one table: every function of secucard.h with its result and argument types.
FUNCTIONS = {
    "secucard_version": (c_char_p, []),
    "secucard_version_number": (c_int, []),
    "secucard_abi_version": (c_int, []),
    "secucard_strerror": (c_char_p, [c_int]),
    "secucard_free": (None, [c_void_p]),
    "secucard_client_new": (c_int, [c_char_p, POINTER(_HANDLE), _OUT]),
    "secucard_client_open": (c_int, [_HANDLE, _OUT]),
    "secucard_client_close": (c_int, [_HANDLE, _OUT]),
    "secucard_client_free": (None, [_HANDLE]),
    "secucard_client_release": (None, [_HANDLE]),
    "secucard_client_clear_tokens": (c_int, [_HANDLE, _OUT]),
    "secucard_cancel_auth": (c_int, [_HANDLE]),
    "secucard_call": (c_int, [_HANDLE, c_char_p, _OUT, _OUT]),
    "secucard_call_async": (c_int, [_HANDLE, c_char_p, CALL_CB, c_void_p, POINTER(c_uint64), _OUT]),
    "secucard_cancel": (c_int, [_HANDLE, c_uint64]),
    "secucard_set_event_callback": (c_int, [_HANDLE, EVENT_CB, c_void_p]),
    "secucard_next_event": (c_int, [_HANDLE, c_int, _OUT]),
    "secucard_handle_event": (c_int, [_HANDLE, c_char_p, _OUT]),
    "secucard_reply_set": (c_int, [c_void_p, c_char_p, c_size_t]),
    "secucard_set_credentials_callback": (c_int, [_HANDLE, CREDENTIALS_CB, c_void_p]),
    "secucard_set_storage_callbacks": (
        c_int,
        [_HANDLE, STORE_GET_CB, STORE_PUT_CB, STORE_DEL_CB, c_void_p],
    ),
    "secucard_set_log_callback": (c_int, [_HANDLE, LOG_CB, c_void_p, c_int]),
    "secucard_format_receipt": (c_int, [c_char_p, c_int, _OUT, _OUT]),
    "secucard_client_stats": (c_int, [_HANDLE, _OUT]),
    "secucard_catalog": (c_int, [_OUT]),
}


def _library_names() -> list[str]:
    if sys.platform == "win32":
        return ["secucard.dll"]
    if sys.platform == "darwin":
        return ["libsecucard.dylib"]
    return ["libsecucard.so"]


def _find() -> tuple[str, str] | None:
    """Where the library is, as (how it was found, path or name): the env
    SECUCARD_LIBRARY, then the package directory (wheels bundle the library
    there), then the system search path. The first place that names one wins:
    an explicit SECUCARD_LIBRARY that cannot be loaded is an error, not a
    reason to silently pick another copy."""
    env = os.environ.get("SECUCARD_LIBRARY")
    if env:
        return "SECUCARD_LIBRARY", env
    here = os.path.dirname(os.path.abspath(__file__))
    for name in _library_names():
        path = os.path.join(here, name)
        if os.path.exists(path):
            return "package directory", path
    system = ctypes.util.find_library("secucard")
    if system:
        return "system search path", system
    return None


def _declare(lib: ctypes.CDLL, names: Iterable[str], path: str, how: str) -> None:
    for name in names:
        restype, argtypes = FUNCTIONS[name]
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise ImportError(
                f"secucard: {path} ({how}) is not a compatible libsecucard: "
                f"it does not export {name}"
            ) from None
        fn.restype = restype
        fn.argtypes = argtypes


def load() -> tuple[ctypes.CDLL, str]:
    """Finds, loads and checks the library; returns it with its path."""
    found = _find()
    if found is None:
        raise ImportError(
            "secucard: libsecucard not found. Set SECUCARD_LIBRARY to the path of "
            f"{_library_names()[0]}, install a secucard wheel (which bundles it), or put "
            "it on the system library search path."
        )
    how, path = found
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"secucard: cannot load libsecucard from {path} ({how}): {e}") from e
    # The ABI is checked before anything else is declared: a library of another
    # ABI may lack functions, and "wrong ABI" is the message that helps.
    _declare(lib, ["secucard_abi_version", "secucard_version"], path, how)
    abi = lib.secucard_abi_version()
    if abi != ABI_VERSION:
        version = lib.secucard_version().decode("utf-8", "replace")
        raise ImportError(
            f"secucard: {path} ({how}) is libsecucard {version} with ABI version {abi}, "
            f"but this Python package was written for ABI version {ABI_VERSION}. "
            "Install the secucard package that matches the library (or point "
            "SECUCARD_LIBRARY at a matching library)."
        )
    _declare(lib, FUNCTIONS, path, how)
    return lib, path


lib, library_path = load()

# secucard_free is C's free(): it never blocks and never calls back, so it is
# called without releasing the GIL (PyDLL). A CDLL call releases and retakes
# it, which with several threads calling costs a GIL hand-off per string.
_holding_gil = ctypes.PyDLL(library_path)
_declare(_holding_gil, ["secucard_free"], library_path, "PyDLL")
_free = _holding_gil.secucard_free


def take_string(ptr: c_void_p) -> str | None:
    """Decodes a string the library returned and releases it."""
    if not ptr.value:
        return None
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        _free(ptr)
        ptr.value = None


def encode(text: str) -> bytes:
    return text.encode("utf-8")
