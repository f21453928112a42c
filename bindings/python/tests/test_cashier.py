"""The till's main job, end to end, and receipt formatting."""

import pytest

import secucard


def paying_card(client):
    """A seeded loyalty card with money on it, as the cashier would scan it."""
    for mc in client.loyalty.merchantcards.list():
        if mc.get("balance", 0) > 0 and mc.get("lock_status") != "locked":
            return mc["card"]["cardnumber"]
    pytest.fail("the sandbox has no usable loyalty card")


def test_cashier_flow(client):
    # 1. Which idents can the terminal read? Pick the customer card.
    idents = list(client.smart.idents.list())
    card_ident = next(i for i in idents if i["type"] == "card")
    card_number = paying_card(client)
    assert card_number.startswith(card_ident["prefix"])

    # 2. The basket: a coffee and a breakfast menu whose egg is a bundle child.
    products = [
        {"id": 1, "articleNumber": "C-1", "desc": "Coffee", "quantity": 2, "priceOne": 250, "tax": 7},
        {"id": 2, "articleNumber": "M-1", "desc": "Breakfast menu", "quantity": 1, "priceOne": 690, "tax": 7},
        {"id": 3, "parent": 2, "articleNumber": "M-1-E", "desc": "Egg", "quantity": 1, "priceOne": 0, "tax": 7},
    ]
    total = sum(p["priceOne"] * p["quantity"] for p in products)
    txs = client.smart.transactions

    # 3. Start a demo payment; the sandbox declines one demo in five at random,
    # like the real demo terminal, so a declined one is simply tried again.
    declined = 0
    for _ in range(25):
        tx = txs.create({
            "merchantRef": "till-1",
            "transactionRef": "bon-4711",
            "basket_info": {"sum": total, "currency": "EUR"},
            "basket": {"products": products},
            "idents": [dict(card_ident, value=card_number)],
        })
        assert tx["status"] == "created"
        assert tx["basket"]["products"][2]["parent"] == 2
        assert tx["idents"][0]["valid"] is True
        try:
            done = txs.start(tx["id"], "demo")
        except secucard.DeclinedError as e:
            # Issue 10.8a: a decline is an exception carrying the transaction
            # and the receipt to print, never a normal return.
            assert e.status == secucard._native.ERR_DECLINED
            assert e.reason == "failed" and e.outcome == "rejected" and e.retryable is False
            assert e.transaction["id"] == tx["id"] and e.transaction["status"] == "failed"
            assert e.receipt == e.transaction["receipt"] and e.receipt
            assert "11,90" in secucard.format_receipt(e.transaction, width=32)
            assert "11,90" in secucard.format_receipt(e.raw, width=32), "the error JSON prints too"
            declined += 1
            continue
        assert done["id"] == tx["id"]
        assert done["status"] == "ok", "a normal return is a payment"
        assert done["receipt"], "every finished start carries receipt lines"
        break
    else:
        pytest.fail("25 demo payments in a row were declined")

    assert done["payment_method"] == "demo"
    assert done["receipt_number"]

    # 4. Print the customer receipt for a 32-column till printer.
    text = secucard.format_receipt(done, width=32)
    lines = text.split("\n")
    assert len(lines) >= len(done["receipt"])
    assert all(len(line) <= 32 for line in lines)
    assert str(done["receipt_number"]) in text
    assert text == secucard.format_receipt(done["receipt"], width=32)


def test_format_receipt_lines():
    lines = [
        {"type": "separator", "value": {"caption": "Kundenbeleg"}},
        {"type": "textline", "value": {"text": "Danke", "decoration": ["align-center"]}},
        {"type": "space"},
        {"type": "name-value", "value": {"name": "Summe", "value": "12,50 EUR",
                                         "decoration": ["important"]}},
    ]
    text = secucard.format_receipt(lines, width=24)
    out = text.split("\n")
    assert all(len(line) <= 24 for line in out)
    assert "Kundenbeleg" in out[0]
    assert out[1].strip() == "Danke" and out[1].startswith(" ")
    assert out[2].strip() == ""
    assert out[3].startswith("SUMME") and out[3].endswith("12,50 EUR") and len(out[3]) == 24


@pytest.mark.parametrize("bad, width", [([], 40), ({"id": "STX_1"}, 40), ("not json", 40),
                                         ([{"type": "space"}], 5)])
def test_format_receipt_rejects_bad_input(bad, width):
    with pytest.raises(secucard.InvalidArgument):
        secucard.format_receipt(bad, width=width)
