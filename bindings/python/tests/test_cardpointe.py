"""client.cardpointe against the sandbox's CardPointe Gateway: every
operation, declines versus errors versus temporary declines, amounts, the
recovery of a lost auth, and no card data in anything the library emits."""

import json
import logging
import re
import time

import pytest

import secucard

from conftest import Sandbox

PAN = "4111111111111111"
TOKEN = "9418594164541111"  # CardSecure's recorded token of PAN
CVV = "7391"
EXPIRY = "0931"


def cardpointe_config(sandbox, **section):
    info = sandbox.info
    cp = {"url": info["cardpointe_url"], "username": info["cardpointe_username"],
          "password": info["cardpointe_password"], "merchid": info["cardpointe_merchid"]}
    cp.update(section)
    return sandbox.config(cardpointe=cp, retry={"initial_backoff_ms": 1, "max_backoff_ms": 5})


@pytest.fixture(scope="module")
def sandbox():
    """A sandbox of this module's own: the faults here hold requests back,
    which must not show in the shared sandbox's request log."""
    sb = Sandbox()
    yield sb
    sb.stop()


@pytest.fixture
def faults(sandbox):
    yield sandbox
    sandbox.admin("DELETE", "/faults")


# The sandbox's Gateway answers at once, not within the real one's 32 s: a
# short answer window keeps the recovery of a lost auth quick.
WINDOW = {"gateway_ms": 500}


@pytest.fixture
def cp_client(sandbox):
    c = secucard.Client(cardpointe_config(sandbox, timeouts=WINDOW))
    yield c
    c.close()


def approvals(client, orderid):
    """Approved records under orderid that still stand."""
    try:
        recs = client.cardpointe.inquire_by_orderid(orderid)
    except secucard.ApiError as e:
        assert e.respcode == "29"
        return 0
    if isinstance(recs, dict):
        recs = [recs]
    return sum(1 for r in recs if r["respstat"] == "A" and r.get("setlstat") != "Voided")


def test_every_operation(sandbox, cp_client):
    cp = cp_client.cardpointe
    assert cp.test_credentials() == {"valid": True, "text": "CardConnect REST Servlet"}
    token = cp.tokenize(PAN, expiry=EXPIRY, cvv=CVV)["token"]
    assert token == TOKEN

    sale = cp.auth(account=token, expiry=EXPIRY, amount=1999, capture=True)
    assert sale["respstat"] == "A" and sale["amount"] == "19.99" and sale["amount_minor"] == 1999
    assert sale["partial"] is False and sale["recovered"] is False
    assert sale["orderid"].startswith("LSC")
    assert cp.inquire(sale["retref"])["setlstat"] == "Queued for Capture"
    assert cp.inquire_by_orderid(sale["orderid"])["retref"] == sale["retref"]
    assert cp.void(sale["retref"])["authcode"] == "REVERS"
    assert cp.inquire(sale["retref"])["setlstat"] == "Voided"

    a = cp.auth(account=token, expiry=EXPIRY, amount=500, orderid="PY-ORDER-1")
    cap = cp.capture(a["retref"], amount=400)
    assert cap["setlstat"] == "Queued for Capture" and cap["amount_minor"] == 400
    cp.auth(account=token, expiry=EXPIRY, amount=700, orderid="PY-ORDER-2")
    assert cp.void_by_order_id("PY-ORDER-2")["respstat"] == "A"

    sold = cp.auth(account=token, expiry=EXPIRY, amount=2500, capture=True)
    with pytest.raises(secucard.Declined) as ei:
        cp.refund(sold["retref"])
    assert ei.value.respcode == "28"  # Txn not settled
    sandbox.admin("POST", "/cardpointe/settle", {})
    refund = cp.refund(sold["retref"], amount=1000)
    assert refund["respstat"] == "A" and refund["amount_minor"] == 1000
    assert cp.sigcap(sold["retref"], "H4sIAAAAAAAA")["respcode"] == "02"

    today = time.strftime("%m%d", time.gmtime())
    batches = cp.settlestat(date=today)
    assert batches and "chargetotal_minor" in batches[0]
    assert cp.settlestat(batchid=batches[0]["batchid"])[0]["batchid"] == batches[0]["batchid"]
    assert cp.funding(date=time.strftime("%Y%m%d", time.gmtime()))["txns"]

    p = cp.profile_create(PAN, expiry=EXPIRY, name="Erika Mustermann")
    ref = f'{p["profileid"]}/{p["acctid"]}'
    assert cp.profile_update(ref, postal="19406")["resptext"] == "Profile Saved"
    assert cp.profile_get(p["profileid"])[0]["postal"] == "19406"
    assert cp.auth(profile=ref, amount=300)["respstat"] == "A"
    assert cp.profile_delete(p["profileid"])["respcode"] == "08"
    with pytest.raises(secucard.ApiError) as ei:
        cp.profile_get(p["profileid"])
    assert ei.value.respcode == "96"

    assert cp.auth(account="5454545454545454", expiry=EXPIRY, amount=100, profile=True)["profileid"]
    verify = cp.auth(account=token, expiry=EXPIRY, amount=0)
    assert verify["amount"] == "0.00" and verify["partial"] is False
    credit = cp.auth(account=token, expiry=EXPIRY, amount=-1500, capture=True)
    assert credit["amount"] == "-15.00" and credit["amount_minor"] == -1500
    assert cp.bin(token)["success"] is True
    assert cp.inquire_merchant()["merchid"] == sandbox.info["cardpointe_merchid"]
    # the secucard side of the same client
    assert "count" in cp_client.call({"resource": "smart.idents", "op": "list"})


@pytest.mark.parametrize("minor, text", [(1, "0.01"), (99, "0.99"), (100, "1.00"), (123456789, "1234567.89")])
def test_amounts_round_trip(cp_client, minor, text):
    a = cp_client.cardpointe.auth(account=TOKEN, expiry=EXPIRY, amount=minor, capture=True)
    assert (a["amount_minor"], a["requested_minor"], a["amount"]) == (minor, minor, text)
    assert cp_client.cardpointe.inquire_by_orderid(a["orderid"])["amount"] == text


@pytest.mark.parametrize("amount", [19.99, "19.99", True])
def test_amount_must_be_minor_units(cp_client, amount):
    with pytest.raises(secucard.InvalidArgument) as ei:
        cp_client.cardpointe.auth(account=TOKEN, amount=amount)
    assert ei.value.field == "data.amount"


def test_decline_carries_the_gateway_fields(cp_client):
    with pytest.raises(secucard.Declined) as ei:
        cp_client.cardpointe.auth(account="4387751111111038", expiry=EXPIRY, amount=1000, postal="19406",
                                  cvv2="112", orderid="PY-DECL-1")
    e = ei.value
    assert isinstance(e, secucard.DeclinedError) and e.status == 5
    assert (e.respstat, e.respcode, e.resptext, e.respproc) == ("C", "05", "Do not honor", "FNOR")
    assert (e.avsresp, e.cvvresp, e.orderid) == ("Y", "M", "PY-DECL-1")
    assert len(e.retref) == 12
    assert e.retryable is False and e.outcome == "rejected" and e.temporary is False


def test_partial_approval_is_a_success(cp_client):
    a = cp_client.cardpointe.auth(account="4387750101010101", expiry=EXPIRY, amount=750)
    assert a["partial"] is True and a["amount_minor"] == 500 and a["requested_minor"] == 750


def test_temporary_decline_is_retryable(cp_client):
    with pytest.raises(secucard.DeclinedError) as ei:
        cp_client.cardpointe.auth(account="4999006200620062", expiry=EXPIRY, amount=100)
    e = ei.value
    assert e.temporary and e.reason == "temporary"
    assert (e.respstat, e.respcode) == ("B", "62")
    assert e.retryable is True and e.outcome == "rejected"


def test_errors_that_are_not_declines(sandbox, cp_client):
    with pytest.raises(secucard.ApiError) as ei:
        cp_client.cardpointe.inquire("999999999999")
    assert ei.value.respcode == "29"
    with pytest.raises(secucard.InvalidArgument) as ei:
        cp_client.cardpointe.call("auth", {"Amount": 100, "account": TOKEN})
    assert ei.value.field == "data.Amount" and "did you mean" in str(ei.value)
    with pytest.raises(secucard.AuthDenied) as ei:
        with secucard.Client(cardpointe_config(sandbox, password="not-the-password")) as c:
            c.cardpointe.inquire_merchant()
    assert ei.value.http_status == 401 and "not-the-password" not in ei.value.raw["message"]
    with secucard.Client(sandbox.config()) as plain:
        with pytest.raises(secucard.InvalidArgument) as ei:
            plain.cardpointe.inquire_merchant()
        assert ei.value.field == "system"


def test_lost_auth_is_recovered_never_charged_twice(sandbox, faults, cp_client):
    sale = {"account": TOKEN, "expiry": EXPIRY, "amount": 1234}
    # the connection dropped before the Gateway read the auth: one approval
    faults.fault(path="/cardconnect/rest/auth", drop="before_read")
    a = cp_client.cardpointe.auth(**sale, orderid="PY-DROP-1")
    assert a["respstat"] == "A"
    assert approvals(cp_client, "PY-DROP-1") == 1
    # the Gateway approved, the answer was lost: the inquiry's record
    faults.fault(path="/cardconnect/rest/auth", drop="after_execute")
    a = cp_client.cardpointe.auth(**sale, orderid="PY-LOST-1")
    assert a["respstat"] == "A" and a["recovered"] is True
    assert approvals(cp_client, "PY-LOST-1") == 1
    # held past the deadline before the Gateway recorded it: "Txn not found"
    # proves nothing inside the Gateway's answer window; after it, the
    # inquiry finds the held auth
    with secucard.Client(cardpointe_config(sandbox, timeouts={"gateway_ms": 5000})) as c:
        faults.fault(path="/cardconnect/rest/auth", delay_ms=1500)
        a = c.cardpointe.auth(**sale, orderid="PY-LATE-1", timeout=0.3)
        assert a["respstat"] == "A" and a["recovered"] is True
        assert approvals(c, "PY-LATE-1") == 1
    # the Gateway read the auth and ran nothing, the inquiry unanswered as
    # well, nothing to void: unknown
    faults.fault(path="/cardconnect/rest/auth", drop="after_read")
    faults.fault(path="/cardconnect/rest/inquireByOrderid", status=503, count=-1)
    with pytest.raises(secucard.SecucardError) as ei:
        cp_client.cardpointe.auth(**sale, orderid="PY-GONE-1")
    e = ei.value
    assert e.outcome == "unknown" and e.retryable is False and e.orderid == "PY-GONE-1"
    faults.admin("DELETE", "/faults")
    assert approvals(cp_client, "PY-GONE-1") == 0


def test_async_auth_and_cancel(faults, cp_client):
    fut = cp_client.cardpointe.auth_async(account=TOKEN, expiry=EXPIRY, amount=100)
    assert fut.result(timeout=60)["respstat"] == "A"
    faults.fault(path="/cardconnect/rest/auth", delay_ms=60000)
    fut = cp_client.cardpointe.call_async("auth", {"account": TOKEN, "expiry": EXPIRY, "amount": 100,
                                                   "orderid": "PY-CANCEL-1"})
    assert fut.cancel()
    assert fut.cancelled()


def test_no_card_data_in_logs_or_errors(sandbox, caplog):
    caplog.set_level(secucard.client.TRACE, logger="secucard")
    emitted = []
    password = sandbox.info["cardpointe_password"]
    with secucard.Client(cardpointe_config(sandbox), log_level=secucard.client.TRACE) as c:
        cp = c.cardpointe
        token = cp.tokenize(PAN, expiry=EXPIRY, cvv=CVV)["token"]
        cp.auth(account=PAN, expiry=EXPIRY, cvv2=CVV, amount=100, capture=True)
        cp.auth(account=token, expiry=EXPIRY, cvv2=CVV, amount=100)
        for bad in ({"account": "4387751111111038", "expiry": EXPIRY, "cvv2": CVV, "amount": 100},
                    {"account": "4111111111111112", "expiry": EXPIRY, "cvv2": CVV, "amount": 100},
                    {"track": "%B4788250000121443^MUSTERMANN/ERIKA^31091010000?", "amount": 100},
                    {"account": PAN, "cvv2": CVV, "amount": "1.00"}):
            with pytest.raises(secucard.SecucardError) as ei:
                cp.call("auth", bad)
            emitted.append(json.dumps(ei.value.raw))
            emitted.append(str(ei.value))
    logs = "\n".join(r.getMessage() for r in caplog.records if r.name == "secucard")
    assert "request body" in logs  # trace lines were forwarded
    everything = logs + "\n" + "\n".join(emitted)
    for secret in (PAN, "4387751111111038", "4111111111111112", "4788250000121443", "MUSTERMANN", password):
        assert secret not in everything, secret
    for short in (CVV, EXPIRY):
        assert not standalone(short).search(everything), short


def standalone(secret):
    """A short secret (CVV, expiry) where a leak would put it: a value of its
    own, not four digits inside a random retref, token or orderid."""
    return re.compile(r"(?<![0-9A-Za-z])" + re.escape(secret) + r"(?![0-9A-Za-z])")


def test_standalone_finds_a_leak_not_an_id():
    for leak in ('{"cvv2":"7391"}', "cvv2=7391&x", "7391", "expiry 7391."):
        assert standalone("7391").search(leak), leak
    for ident in ('"retref":"173910000012"', '"orderid":"LSC7391ABC"', '"token":"9417391111111111"'):
        assert not standalone("7391").search(ident), ident
