"""CardPointe Gateway operations: ``client.cardpointe``.

Each method sends one request of the shape include/secucard.h documents
(``{"system": "cardpointe", "op": ..., "data": {...}}``) through the client's
``call``; the library does everything else (HTTP Basic, amounts, answers,
the recovery of a lost auth). Keyword arguments are the Gateway's own field
names, exactly (``cvv2``, ``postal``, ``ecomind``, ...); amounts are ints of
minor units (cents): ``amount=1999`` is 19.99. Y/N flags take True/False.
``timeout`` (seconds) bounds the wait for one answer.

Answers are the Gateway's dicts, plus ``amount_minor`` next to each decimal
amount and, for ``auth``, ``requested_minor``, ``partial``, ``orderid``,
``recovered`` and (when the timeout recovery voided a second approval)
``voided_duplicate``. Declines raise ``DeclinedError`` (alias ``Declined``) with the
Gateway's fields; see ``secucard.errors``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, cast

if TYPE_CHECKING:
    from .client import CallFuture, Client

#: One answer object of the Gateway.
Answer = Dict[str, Any]  # typing.Dict: the alias is evaluated at run time (Python 3.8)


def _drop_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class CardPointe:
    """The CardPointe Gateway of a client whose config has a ``cardpointe``
    section. Every method may be called from any thread."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<secucard.CardPointe of {self._client!r}>"

    @staticmethod
    def request(op: str, data: dict[str, Any] | None = None, *, timeout: float | None = None) -> dict[str, Any]:
        """The request object of one CardPointe operation (for Client.call)."""
        req: dict[str, Any] = {"system": "cardpointe", "op": op}
        if data:
            req["data"] = data
        if timeout is not None:
            req["timeout_ms"] = max(1, int(timeout * 1000))
        return req

    def call(self, op: str, data: dict[str, Any] | None = None, *, timeout: float | None = None) -> Any:
        """Runs any operation by its name in the header ("voidByOrderId", ...)."""
        return self._client.call(self.request(op, data, timeout=timeout))

    def call_async(self, op: str, data: dict[str, Any] | None = None, *,
                   timeout: float | None = None) -> CallFuture:
        """call, as a Future; ``future.cancel()`` cancels it in the library."""
        return self._client.call_async(self.request(op, data, timeout=timeout))

    def _obj(self, op: str, data: dict[str, Any], timeout: float | None) -> Answer:
        return cast(Answer, self.call(op, data, timeout=timeout))

    def _list(self, op: str, data: dict[str, Any], timeout: float | None) -> list[Answer]:
        return cast("list[Answer]", self.call(op, data, timeout=timeout))

    # --- operations, one per Gateway endpoint ---

    def test_credentials(self, *, timeout: float | None = None, **fields: Any) -> Answer:
        """Checks the credentials and merchid; raises AuthError when refused."""
        return self._obj("testCredentials", fields, timeout)

    def tokenize(self, account: str | None = None, *, timeout: float | None = None, **fields: Any) -> Answer:
        """CardSecure: a token for a card (``account``) or ``devicedata``."""
        return self._obj("tokenize", _drop_none({"account": account, **fields}), timeout)

    def auth(self, *, amount: int, timeout: float | None = None, **fields: Any) -> Answer:
        """An authorization: ``capture=True`` is a sale, ``amount=0`` an account
        verification, a negative amount a forced credit, ``profile=True`` saves
        the card. Raises DeclinedError on a decline (``temporary`` for respstat
        B). A lost answer is recovered by orderid before anything is repeated."""
        return self._obj("auth", {"amount": amount, **fields}, timeout)

    def auth_async(self, *, amount: int, timeout: float | None = None, **fields: Any) -> CallFuture:
        """auth, as a Future."""
        return self.call_async("auth", {"amount": amount, **fields}, timeout=timeout)

    def capture(self, retref: str, *, amount: int | None = None, timeout: float | None = None,
                **fields: Any) -> Answer:
        return self._obj("capture", _drop_none({"retref": retref, "amount": amount, **fields}), timeout)

    def void(self, retref: str, *, amount: int | None = None, timeout: float | None = None,
             **fields: Any) -> Answer:
        return self._obj("void", _drop_none({"retref": retref, "amount": amount, **fields}), timeout)

    def void_by_order_id(self, orderid: str, *, amount: int | None = None, timeout: float | None = None,
                         **fields: Any) -> Answer:
        return self._obj("voidByOrderId", _drop_none({"orderid": orderid, "amount": amount, **fields}),
                         timeout)

    def refund(self, retref: str, *, amount: int | None = None, timeout: float | None = None,
               **fields: Any) -> Answer:
        """Refunds a settled sale (all of it without ``amount``)."""
        return self._obj("refund", _drop_none({"retref": retref, "amount": amount, **fields}), timeout)

    def inquire(self, retref: str, *, timeout: float | None = None, **fields: Any) -> Answer:
        return self._obj("inquire", {"retref": retref, **fields}, timeout)

    def inquire_by_orderid(self, orderid: str, *, timeout: float | None = None, **fields: Any) -> Any:
        """One record, or a list when several carry the orderid."""
        return self.call("inquireByOrderid", {"orderid": orderid, **fields}, timeout=timeout)

    def settlestat(self, *, date: str | None = None, batchid: str | None = None,
                   timeout: float | None = None, **fields: Any) -> list[Answer]:
        """Settlement batches by ``date`` (MMDD or YYYYMMDD) or ``batchid``."""
        return self._list("settlestat", _drop_none({"date": date, "batchid": batchid, **fields}), timeout)

    def funding(self, *, date: str | None = None, timeout: float | None = None, **fields: Any) -> Answer:
        return self._obj("funding", _drop_none({"date": date, **fields}), timeout)

    def profile_create(self, account: str, *, timeout: float | None = None, **fields: Any) -> Answer:
        return self._obj("profileCreate", {"account": account, **fields}, timeout)

    def profile_get(self, profileid: str, acctid: str | None = None, *, timeout: float | None = None,
                    **fields: Any) -> list[Answer]:
        return self._list("profileGet", _drop_none({"profileid": profileid, "acctid": acctid, **fields}),
                         timeout)

    def profile_update(self, profile: str, *, timeout: float | None = None, **fields: Any) -> Answer:
        """Updates the account ``profile`` = "<profileid>/<acctid>"."""
        return self._obj("profileUpdate", {"profile": profile, **fields}, timeout)

    def profile_delete(self, profileid: str, acctid: str | None = None, *, timeout: float | None = None,
                       **fields: Any) -> Answer:
        return self._obj("profileDelete", _drop_none({"profileid": profileid, "acctid": acctid, **fields}),
                         timeout)

    def bin(self, token: str, *, timeout: float | None = None, **fields: Any) -> Answer:
        return self._obj("bin", {"token": token, **fields}, timeout)

    def sigcap(self, retref: str, signature: str, *, timeout: float | None = None, **fields: Any) -> Answer:
        return self._obj("sigcap", {"retref": retref, "signature": signature, **fields}, timeout)

    def inquire_merchant(self, *, timeout: float | None = None, **fields: Any) -> Answer:
        return self._obj("inquireMerchant", fields, timeout)
