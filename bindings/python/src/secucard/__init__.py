"""secucard: the secucard connect payment client for Python.

A thin binding over libsecucard (a C shared library): the library does the
protocol work, this package maps it onto Python objects and exceptions.

    import secucard

    with secucard.Client(config) as client:
        tx = client.smart.transactions.create({...})
        tx = client.smart.transactions.start(tx["id"], "demo")
        print(secucard.format_receipt(tx))
"""

from ._native import ABI_VERSION, lib as _lib, library_path
from .cardpointe import CardPointe
from .client import (
    CallFuture,
    Client,
    Listing,
    Product,
    Resource,
    SmartTransactions,
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
    NetworkError,
    SecucardError,
    StorageError,
    TimeoutError,
    error_from,
)

__version__ = "0.1.0"


def library_version() -> str:
    """The version of the loaded libsecucard, e.g. "0.1.0"."""
    return _lib.secucard_version().decode("utf-8")


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
    "Listing",
    "NetworkError",
    "Product",
    "Resource",
    "SecucardError",
    "SmartTransactions",
    "StorageError",
    "TimeoutError",
    "error_from",
    "format_receipt",
    "library_path",
    "library_version",
]
