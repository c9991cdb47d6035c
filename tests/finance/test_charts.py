"""Charts: the SVG renderer, and the dashboard's three charts from the book."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from ledger import utcnow
from marketplace.finance.charts import Datum, bar_chart, line_chart, tick_label, tick_step
from tests.finance.conftest import post

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(str(svg))
    assert root.tag == f"{SVG}svg"
    return root


def classed(root: ET.Element, tag: str, css: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{tag}") if e.get("class") == css]


def test_ticks_fall_on_round_major_units() -> None:
    assert tick_step(1_234_567, "USD") == 500_000  # 5,000.00 USD
    assert tick_step(40, "USD") == 100
    assert tick_step(90_000, "JPY") == 20_000
    assert tick_label(1_500_000, "USD") == "15,000"
    assert tick_label(150, "USD") == "1.50"


def test_a_bar_chart_is_valid_svg_with_a_bar_and_tooltip_per_datum() -> None:
    svg = bar_chart(
        "Payouts <per> month",
        [Datum("Jan & Feb", 150_000, "2 payouts"), Datum("Mar", 0), Datum("Apr", 70_000)],
        "USD",
    )
    root = parse(svg)
    bars = classed(root, "rect", "bar")
    assert [b.get("data-amount") for b in bars] == ["150000", "0", "70000"]
    assert bars[0].find(f"{SVG}title").text == "Jan & Feb: 1,500.00 USD (2 payouts)"
    assert root.find(f"{SVG}title").text == "Payouts <per> month"
    ticks = [t.text for t in classed(root, "text", "tick")]
    assert ticks == ["0", "500", "1,000", "1,500"]
    assert float(bars[0].get("height")) > float(bars[2].get("height")) > 0


def test_a_line_chart_has_a_point_per_datum_and_an_empty_one_says_so() -> None:
    root = parse(line_chart("Escrow", [Datum(f"d{i}", i * 100) for i in range(10)], "USD"))
    assert len(classed(root, "circle", "point")) == 10
    assert len(classed(root, "polyline", "line")) == 1
    empty = parse(line_chart("Escrow", [], "USD", "Nothing held."))
    assert classed(empty, "text", "empty")[0].text == "Nothing held."


def test_the_dashboard_charts_escrow_payouts_and_value_shared(app, client, auth, book) -> None:
    now = utcnow()
    cash, acme_receivable = "asset:cash:stripe:usd", f"asset:receivable:org:{book.acme}:usd"
    lead = f"liability:payable:solver:{book.lead_id}:usd"
    post(app, cash, book.acme_escrow, 100, "FUND_ESCROW", "early", when=now - timedelta(days=10))
    post(app, lead, cash, 200_000, "PAYOUT", "p1", when=now)
    two_months_ago = (now.replace(day=1) - timedelta(days=40)).replace(day=15)
    post(app, lead, cash, 300_000, "PAYOUT", "p2", when=two_months_ago)
    post(app, acme_receivable, lead, 40_000, "VALUE_SHARE", "vs1")
    post(app, f"asset:receivable:org:{book.rival}:usd", lead, 10_000, "VALUE_SHARE", "vs2")
    auth.login(book.staff)
    escrow = parse(client.get("/finance/charts/escrow.svg").get_data(as_text=True))
    points = [int(p.get("data-amount")) for p in classed(escrow, "circle", "point")]
    assert len(points) == 11 and points[0] == 100 and points[-1] == 2_200_100
    answer = client.get("/finance/charts/payouts.svg")
    assert answer.mimetype == "image/svg+xml"
    bars = classed(parse(answer.get_data(as_text=True)), "rect", "bar")
    assert [int(b.get("data-amount")) for b in bars] == [300_000, 0, 200_000]
    shared = parse(client.get("/finance/charts/value-shared.svg").get_data(as_text=True))
    labels = [t.find(f"{SVG}title").text for t in classed(shared, "text", "label")]
    assert labels[0] == "Acme" and len(labels) == 2
    page = client.get("/finance/").get_data(as_text=True)
    assert page.count("<svg") == 3 and "Escrow held" in page
    # drawn on the server: the page's only script is the site-wide one, no chart library
    assert [src for src in re.findall(r"<script[^>]*src=\"([^\"]+)\"", page)] == ["/static/app.js"]
    assert page.count("<script") == 1
    assert client.get("/finance/charts/pie.svg").status_code == 404


def test_an_organization_sees_its_own_figures_only(app, client, auth, book) -> None:
    post(app, f"asset:receivable:org:{book.rival}:usd",
         f"liability:payable:solver:{book.lead_id}:usd", 10_000, "VALUE_SHARE", "vs-rival",
         when=datetime(2025, 1, 1, tzinfo=UTC))  # fmt: skip
    auth.login(book.people.finance)
    figures = client.get("/api/v1/finance/charts").json
    assert figures["value_shared"] == [] and figures["payouts"] == []
    assert figures["escrow"][0]["points"][-1]["amount"] == 550_000
