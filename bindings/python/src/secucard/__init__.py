"""secucard: the secucard connect payment client for Python.

A thin binding over libsecucard (a C shared library): the library does the
protocol work, this package maps it onto Python objects and exceptions.

    import secucard

    with secucard.Client(config) as client:
        tx = client.smart.transactions.create({...})
        tx = client.smart.transactions.start(tx["id"], "demo")
        print(secucard.format_receipt(tx))
"""

from ._native import ABI_VERSION, library_path
from ._native import lib as _lib
from .cardpointe import CardPointe
from .client import (
    CallFuture,
    Client,
    Listing,
    Product,
    Resource,
    SmartTransactions,
    catalog,
    format_receipt,
)
from .errors import (
    ApiError,
    AuthCanceled,
    AuthDenied,
    AuthError,
    AuthExpired,
    AuthInvalidGrant,
    AuthNoCredentials,
    AuthNotAuthorized,
    AuthTimeout,
    AuthTokenRejected,
    CanceledError,
    ClosedError,
    Declined,
    DeclinedError,
    InternalError,
    InvalidArgument,
    InvalidHandle,
    NetworkError,
    SecucardError,
    StorageError,
    TimeoutError,  # noqa: A004 - the name is the API (it also derives from the builtin)
    error_from,
)


def library_version() -> str:
    """The version of the loaded libsecucard, e.g. "0.1.0"."""
    version: bytes = _lib.secucard_version()
    return version.decode("utf-8")


def _package_version() -> str:
    try:  # setup.py writes _version.py into wheels (from include/secucard.h)
        from ._version import version  # type: ignore[import-not-found, unused-ignore]
    except ImportError:  # a source checkout: the library built from the same header
        return library_version()
    return str(version)


__version__ = _package_version()


__all__ = [
    "ABI_VERSION",
    "ApiError",
    "AuthCanceled",
    "AuthDenied",
    "AuthError",
    "AuthExpired",
    "AuthInvalidGrant",
    "AuthNoCredentials",
    "AuthNotAuthorized",
    "AuthTimeout",
    "AuthTokenRejected",
    "CallFuture",
    "CanceledError",
    "CardPointe",
    "Client",
    "ClosedError",
    "Declined",
    "DeclinedError",
    "InternalError",
    "InvalidArgument",
    "InvalidHandle",
    "Listing",
    "NetworkError",
    "Product",
    "Resource",
    "SecucardError",
    "SmartTransactions",
    "StorageError",
    "TimeoutError",
    "catalog",
    "error_from",
    "format_receipt",
    "library_path",
    "library_version",
]
