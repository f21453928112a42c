"""Resource operations through attributes, paging, and the generic call."""

import uuid

import pytest

import secucard


def basket(sum_=1000, ref=None):
    return {
        "merchantRef": ref or "py-" + uuid.uuid4().hex[:12],
        "transactionRef": "ref-" + uuid.uuid4().hex[:8],
        "basket_info": {"sum": sum_, "currency": "EUR"},
        "basket": {"products": [
            {"id": 1, "articleNumber": "A-1", "desc": "Coffee", "quantity": 1,
             "priceOne": sum_, "tax": 19},
        ]},
    }


def test_get_returns_the_object(client):
    ident = client.smart.idents.get("smi_1")
    assert ident["id"] == "smi_1"
    assert ident["object"] == "smart.idents"
    assert ident["type"] == "card" and ident["prefix"] == "9276"


def test_list_yields_every_seeded_ident(client):
    listing = client.smart.idents.list()
    ids = [i["id"] for i in listing]
    assert ids == ["smi_1", "smi_2", "smi_3"]
    assert listing.total == 3


def test_create_update_delete_round_trip(client):
    txs = client.smart.transactions
    created = txs.create(basket(500))
    assert created["id"].startswith("STX_")
    assert created["status"] == "created"
    assert created["basket_info"] == {"sum": 500, "currency": "EUR"}

    updated = txs.update(created["id"], {"basket_info": {"sum": 750, "currency": "EUR"}})
    assert updated["basket_info"]["sum"] == 750
    assert txs.get(created["id"])["basket_info"]["sum"] == 750

    txs.delete(created["id"])
    with pytest.raises(secucard.ApiError) as ei:
        txs.get(created["id"])
    assert ei.value.http_status == 404


def test_list_pages_with_offset_until_the_total(sandbox, client):
    ref = "page-" + uuid.uuid4().hex[:10]
    made = [client.smart.transactions.create(basket(100 + i, ref=ref))["id"] for i in range(5)]
    sandbox.admin("DELETE", "/requests")

    listing = client.smart.transactions.list(count=2, q=f"merchantRef:{ref}",
                                            sort={"basket_info.sum": "asc"})
    assert iter(listing) is not listing  # each iteration starts afresh
    got = [t["id"] for t in listing]
    assert got == made
    assert listing.total == 5
    lists = [r for r in sandbox.requests()
             if r["method"] == "GET" and r["path"].lower() == "/api/v2/smart/transactions"]
    assert len(lists) == 3  # pages of 2, 2 and 1


def test_list_limit_stops_early(client):
    assert [i["id"] for i in client.smart.idents.list(count=1, limit=2)] == ["smi_1", "smi_2"]


def test_list_with_query_sort_and_fields(client):
    rows = list(client.smart.idents.list(q="type:checkin", sort={"prefix": "desc"},
                                         fields=["id", "prefix"]))
    assert [r["id"] for r in rows] == ["smi_3", "smi_2"]  # PPT_ sorts after CKI_
    assert all("name" not in r for r in rows)


def test_execute_runs_an_action(client):
    tx = client.smart.transactions.create(basket(500))
    result = client.smart.transactions.execute(tx["id"], "start", arg="cash")
    assert result["id"] == tx["id"]
    assert result["status"] == "ok"
    assert result["payment_method"] == "cash"


def test_generic_call(client):
    page = client.call({"resource": "smart.idents", "op": "list", "query": {"count": 1}})
    assert page["count"] == 3
    assert [i["id"] for i in page["data"]] == ["smi_1"]
    assert client.call('{"resource": "smart.idents", "op": "get", "id": "smi_2"}')["id"] == "smi_2"


def test_resource_by_name(client):
    assert client.resource("smart.idents").get("smi_3")["prefix"] == "PPT_"
    assert isinstance(client.resource("smart.transactions"), secucard.SmartTransactions)


def test_pos_actions_of_smart_transactions(client):
    txs = client.smart.transactions
    paid = txs.start(txs.create(basket(1234))["id"], "cash")
    assert paid["status"] == "ok"
    number = paid["receipt_number"]

    canceled = txs.cancel_trx(number)
    assert canceled["id"] == paid["id"]
    assert canceled["status"] == "canceled"

    open_tx = txs.create(basket(100))
    assert txs.cancel(open_tx["id"])["status"] == "canceled"

    diag = txs.diagnosis()
    assert diag["status"] == "ok" and diag["receipt"]
    eod = txs.end_of_day()
    assert eod["status"] == "ok" and eod["receipt"]


def test_starting_twice_is_refused_by_the_api(client):
    txs = client.smart.transactions
    tx = txs.start(txs.create(basket(100))["id"], "cash")
    with pytest.raises(secucard.ApiError) as ei:
        txs.start(tx["id"], "cash")
    assert ei.value.error == "ProductNotAllowedException"
