"""Payable Studio II in a real Chromium (Debian's, through Playwright) against real processes (node, worker,
studio with its gateway): a paid generation from the playground, signed in the browser, streamed, then
followed to its highlighted spans and their contributions (snapshot proofs checked in the page), to the
settlement, to a contributor's earnings chart and to the explorer's block - with every number compared to
the chain's own queries. An account's balances are proven in the browser, and a tampered proof turns the
badge to failure. Live blocks, search, phone width, and no request leaving the studio's origin.
Screenshots go to the test's output folder (or $PAYABLE_SCREENSHOTS); look at them."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("peft")
playwright = pytest.importorskip("playwright.sync_api")

from payable.attribution.v1 import attribution_pb2 as at  # noqa: E402
from runtime.codec import decode_u128, format_open  # noqa: E402
from runtime.crypto import Keypair, encode_address  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cpu-heavy")]

expect = playwright.expect
GATEWAY_API_KEY = "studio-gateway-key-0123456789"


@pytest.fixture(scope="module")
def studio(tmp_path_factory, tiny_base):
    from conftest import HttpProcess
    from paid_world import paid_world

    root = tmp_path_factory.mktemp("studio2")
    with paid_world(root, tiny_base, steps=200, classifier=True) as world:
        node, worker = world["node"].target, world["workers"][0].target
        server = HttpProcess(root / "studio.log", "studio", "--node", node, "--worker", worker, "--gateway-key",
                             "//Alice", "--api-key", GATEWAY_API_KEY, ready_path="/api/chain")
        try:
            yield {**world, "url": server.url}
        finally:
            server.stop()


@pytest.fixture
def shots(tmp_path):
    return Path(os.environ.get("PAYABLE_SCREENSHOTS") or tmp_path / "screenshots")


def _as_requester(page, url: str) -> list[str]:
    """The requester's key in this browser's storage (as the Keys page leaves it); every request the page
    makes is recorded, to check that none leaves the studio's origin."""
    from paid_world import REQUESTER

    page.add_init_script(f"localStorage.setItem('payable.key', JSON.stringify({{name: '//Paying-User', "
                         f"seed: '{REQUESTER.seed.hex()}'}}))")
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


def _settlement(client, request_id: int) -> at.Settlement:
    return client.pallet_query("attribution", "get_settlement", at.SettlementRequest(request=request_id),
                               at.Settlement)


def test_a_paid_generation_followed_to_its_spans_settlement_earnings_and_block(studio, shots):
    from conftest import chromium_page, shot

    from studio.generation import settled_attribution

    url, client = studio["url"], studio["client"]
    with chromium_page(shots) as page:
        seen = _as_requester(page, url)
        page.goto(f"{url}/playground")
        expect(page.locator("#key-status")).to_contain_text("//Paying-User")
        page.select_option("#play-model", str(studio["models"][1]))
        expect(page.locator("#price")).to_contain_text("per output token")
        page.fill("#play-prompt", "What does builtins.BytesWarning do?")  # "Base class for warnings about…"
        page.fill("input[name=max_new_tokens]", "32")
        page.click("#play-go")
        expect(page.locator("#sign-dialog")).to_be_visible()
        expect(page.locator("#sign-summary")).to_contain_text("inference.request_inference")
        shot(page, "01-playground-sign")
        page.click("#sign-confirm")
        expect(page.locator("#answer .tok").first).to_be_visible()  # tokens stream in before settlement
        expect(page.locator("#play-progress")).to_contain_text("settled in block", timeout=180_000)
        shot(page, "02-playground-settled")

        request_id = int(page.locator("#settle-links a", has_text="permalink").get_attribute("href").split("/")[-1])
        settlement = _settlement(client, request_id)
        found = settled_attribution(client, settlement)
        # the answer's spans as the worker signed them, highlighted; every contribution's proof verified here
        marks = page.locator("#answer mark.span")
        expect(marks).to_have_count(len(found.result.spans))
        assert found.result.spans, "a prompt from the adapter's own training rows reproduces some of them"
        items = page.locator("#contributions li.contribution")
        expect(items).to_have_count(len(found.result.top_k))
        expect(page.locator("#contributions .badge.ok")).to_have_count(len(found.result.top_k))
        for credit, item in zip(found.result.top_k, items.all(), strict=True):
            assert item.get_attribute("data-contribution") == str(credit.contribution_id)
            assert item.get_attribute("data-leaf-contributor") == credit.contributor.hex()
            expect(item).to_contain_text(f"{credit.score_ppb / 1e7:.2f}%")
        first = found.result.spans[0]
        marks.first.click()
        visible = [i.get_attribute("data-contribution") for i in items.all() if i.is_visible()]
        assert sorted(visible) == sorted(str(c) for c in first.contribution_ids
                                         if c in {x.contribution_id for x in found.result.top_k})
        shot(page, "03-span-filters-contributions")
        page.click("#show-all")
        items.first.click()
        located = page.locator("#answer mark.span.located")
        wanted = [s for s in found.result.spans if found.result.top_k[0].contribution_id in s.contribution_ids]
        expect(located).to_have_count(len(wanted))

        # the settlement: every payment and the refund, as the chain recorded them
        rows = page.locator("#payments tbody tr")
        expect(rows).to_have_count(len(settlement.payments) + 1)
        for payment, row in zip(settlement.payments, rows.all(), strict=False):
            expect(row).to_contain_text(f"{format_open(decode_u128(payment.amount))} OPEN")
            expect(row).to_contain_text(payment.role)
        expect(page.locator("#settle-summary")).to_contain_text(f"charged {format_open(decode_u128(settlement.fee))} "
                                                                f"OPEN")
        expect(page.locator("#settle-summary")).to_contain_text(f"{format_open(decode_u128(settlement.refund))} OPEN "
                                                                "refunded")

        # a contributor's earnings: the total and the payout are the chain's
        contributor = next(p.account for p in settlement.payments if p.role == "contributor")
        page.goto(f"{url}/earnings/contributors/{encode_address(contributor)}")
        earnings = client.pallet_query("attribution", "get_earnings", at.EarningsRequest(contributor=contributor),
                                       at.Earnings)
        expect(page.locator("#earned-total")).to_have_text(format_open(decode_u128(earnings.total)))
        expect(page.locator(f"#payouts tr[data-request='{request_id}']")).to_be_visible()
        expect(page.locator("#earnings-chart polyline")).to_have_count(1)
        page.check("input[name=by][value=model]")
        expect(page.locator("#earnings-chart polyline[data-series='model #1']")).to_have_count(1)
        shot(page, "04-earnings")

        # the settling block in the explorer: one Paid event per payment, plus the refund
        page.locator(f"#payouts tr[data-request='{request_id}'] a").first.click()
        expect(page.locator("h1")).to_have_text(f"Block #{settlement.settled_at}")
        paid = page.locator("#event-list tr[data-event='attribution.Paid']")
        assert paid.count() >= len(settlement.payments) + (1 if decode_u128(settlement.refund) else 0)
        expect(page.locator("#event-list")).to_contain_text("Settled")
        expect(paid.first.locator(f"a[href='/requests/{request_id}']")).to_be_visible()  # ids link to their page
        shot(page, "05-settling-block")

        # the model's earnings page agrees with the chain's totals
        page.goto(f"{url}/earnings/models/{studio['models'][1]}")
        totals = client.pallet_query("attribution", "get_model_earnings", at.ModelEarningsRequest(
            model=studio["models"][1]), at.ModelEarnings)
        expect(page.locator("#model-requests")).to_have_text(str(totals.settled))
        expect(page.locator("#model-revenue")).to_have_text(format_open(decode_u128(totals.fees)))
        shot(page, "06-model-earnings")
        outside = [u for u in seen if not u.startswith(url) and not u.startswith("data:")]
        assert outside == []  # nothing loads from anywhere but the studio


def test_a_classifier_from_the_playground_a_drawn_digit_its_class_and_its_contributors(studio, shots):
    from conftest import chromium_page, shot

    from studio.generation import settled_attribution

    url, client = studio["url"], studio["client"]
    with chromium_page(shots) as page:
        _as_requester(page, url)
        page.goto(f"{url}/playground")
        page.select_option("#play-model", str(studio["classifier"]))
        expect(page.locator("#for-classifier")).to_be_visible()
        expect(page.locator("#play-go")).to_have_text("Pay and classify")
        for row in range(8):  # a "1": the fourth column, top to bottom
            page.click(f"#draw-grid .cell[data-cell='{row * 8 + 3}']")
        features = page.input_value("#play-features").split()
        assert len(features) == 64 and features.count("1") == 8
        page.click("#play-go")
        expect(page.locator("#sign-summary")).to_contain_text("inference.request_inference")
        page.click("#sign-confirm")
        expect(page.locator("#play-progress")).to_contain_text("settled in block", timeout=180_000)
        shot(page, "12-classifier-settled")
        request_id = int(page.locator("#settle-links a", has_text="permalink").get_attribute("href").split("/")[-1])
        found = settled_attribution(client, _settlement(client, request_id))
        assert found.result.HasField("label")
        expect(page.locator("#prediction")).to_have_text(f"class {found.result.label}")
        expect(page.locator("#contributions .badge.ok")).to_have_count(len(found.result.top_k))
        expect(page.locator("#payments tbody tr")).to_have_count(len(_settlement(client, request_id).payments) + 1)


def test_balances_are_proven_in_the_browser_and_a_tampered_proof_fails(studio, shots):
    from conftest import chromium_page, shot

    url, client = studio["url"], studio["client"]
    bob = Keypair.from_uri("//Bob")
    with chromium_page(shots) as page:
        page.goto(f"{url}/explorer/accounts/{bob.address}")
        expect(page.locator("#proof-badge")).to_contain_text("Proof verified in this browser")
        account = client.account(bob.public)
        for name in ("free", "reserved", "bonded"):
            value = format_open(decode_u128(getattr(account, name)))
            expect(page.locator(f"#bal-{name}")).to_have_text(f"{value} OPEN")
        expect(page.locator("#history tbody tr").first).to_contain_text("#")
        earned = client.pallet_query("attribution", "get_earnings", at.EarningsRequest(contributor=bob.public),
                                     at.Earnings)
        expect(page.locator("#account-earned")).to_have_text(format_open(decode_u128(earned.total)))
        shot(page, "07-account-proven")

        def tamper(route):
            answer = json.loads(route.fetch().text())
            level = bytearray(bytes.fromhex(answer["proof"]["levels"][-1]))
            level[-1] ^= 1
            answer["proof"]["levels"][-1] = level.hex()
            route.fulfill(status=200, content_type="application/json", body=json.dumps(answer))

        page.route("**/api/accounts/*/proof", tamper)
        page.reload()
        expect(page.locator("#proof-badge")).to_contain_text("Proof check FAILED")
        expect(page.locator("#bal-free")).to_have_text("unverified")
        shot(page, "08-account-tampered")


def test_live_blocks_search_phone_width_and_the_gateway_inside_the_studio(studio, shots):
    from conftest import chromium_page, shot

    url, client = studio["url"], studio["client"]
    with chromium_page(shots, viewport=(390, 844)) as page:
        page.goto(f"{url}/explorer")
        first = int(page.locator("#blocks").get_attribute("data-best"))
        expect(page.locator(f"#blocks tr[data-block='{first + 2}']")).to_be_visible(timeout=30_000)  # blocks arrive
        expect(page.locator("#live-status")).to_contain_text("Live")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        shot(page, "09-explorer-phone")
        transfer = client.submit_call(Keypair.from_uri("//Alice"), "token", "transfer_keep_alive",
                                      dest=Keypair.from_uri("//Dave").address, amount="1.5")
        page.fill("#search-box", transfer.hash.hex())
        page.press("#search-box", "Enter")
        expect(page.locator("h1")).to_have_text(f"Extrinsic {transfer.block_number}-{transfer.extrinsic_index}")
        expect(page.locator("#extrinsic")).to_contain_text("token.transfer_keep_alive")
        expect(page.locator("#args")).to_contain_text("1.5 OPEN")
        expect(page.locator("#result")).to_have_text("success")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        shot(page, "10-extrinsic-phone")
        page.fill("#search-box", "not-a-thing")
        page.press("#search-box", "Enter")
        expect(page.locator("[role=alert]")).to_contain_text("nothing matches")
        page.goto(f"{url}/playground")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        shot(page, "11-playground-phone")
        # keyboard: the skip link is the first stop, and every form field has a label
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        unlabeled = page.evaluate("[...document.querySelectorAll('input, select, textarea')].filter(e => "
                                  "e.type !== 'hidden' && !e.labels?.length && !e.getAttribute('aria-label'))"
                                  ".map(e => e.name || e.id)")
        assert unlabeled == []
    listing = urllib.request.Request(f"{url}/v1/models", headers={"Authorization": f"Bearer {GATEWAY_API_KEY}"})
    models = json.loads(urllib.request.urlopen(listing, timeout=30).read())
    assert sorted(m["id"] for m in models["data"]) == sorted(str(m) for m in studio["models"].values())
