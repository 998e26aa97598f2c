"""The studio's own guards and error pages, in-process (FastAPI's TestClient): a page of another origin or a
rebound Host changes nothing; the studio's /v1 takes the gateway's flags (API key, hosts, budget); an
unknown id, a malformed address and a node that does not answer are the studio's error page, not raw JSON.
Where a chain is needed it is a real dev node on a free port."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from cli.main import build_parser
from payable.datanet.v1 import datanet_pb2 as dn
from runtime.codec import ONE_OPEN
from runtime.crypto import Keypair, blake2_256
from studio.app import create_app
from studio.gateway import Access

UPLOADER = Keypair.from_uri("//Alice")  # signs the blobs the tests store (an account on chain)

PORT = 8080
SITE = f"http://127.0.0.1:{PORT}"
NOWHERE = "127.0.0.1:1"  # answers nothing
HTML = {"Accept": "text/html"}


def _studio(node: str = NOWHERE, **kwargs) -> TestClient:
    site = Access.local(PORT, None, ["studio.lan:8080"], ["http://app.example"])
    return TestClient(create_app(node, NOWHERE, site_access=site, **kwargs), base_url=SITE)


def _token(client: TestClient) -> str:
    page = client.get("/no/such/page", headers=HTML).text  # any page carries it
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)


def test_pages_of_other_origins_and_rebound_hosts_change_nothing():
    with _studio() as client:
        token = _token(client)
        refused = [
            {"Origin": "http://attacker.example", "Content-Type": "text/plain"},
            {"Origin": "http://attacker.example", "Content-Type": "application/json"},
            {"Origin": "http://attacker.example", "X-CSRF-Token": token},
            {"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"},
            {"Origin": SITE, "Content-Type": "text/plain"},  # same origin, but neither JSON nor the token
            {"Origin": SITE, "X-CSRF-Token": token[:-1] + "x", "Content-Type": "multipart/form-data"},
        ]
        for headers in refused:
            for path in ("/api/upload", "/api/jobs", "/api/jobs/j1/abort", "/api/prepare", "/factory/preview"):
                answer = client.post(path, content=b"", headers=headers)
                assert answer.status_code == 403, (path, headers, answer.text)
        for path in ("/explorer", "/api/chain", "/no/such/page"):  # nothing of the studio shows in another's frame
            answer = client.get(path, headers=HTML)
            assert answer.headers["x-frame-options"] == "DENY", path
            assert answer.headers["content-security-policy"] == "frame-ancestors 'none'", path
        rebound = client.get("/explorer", headers={"Host": "attacker.example:8080"})
        assert rebound.status_code == 400 and "Host" in rebound.json()["detail"]
        # past the guard: the route itself answers (an upload nobody signed, a body without a signer)
        for headers in ({"X-CSRF-Token": token}, {"Origin": SITE, "X-CSRF-Token": token},
                        {"Origin": "http://app.example", "X-CSRF-Token": token},
                        {"Host": "studio.lan:8080", "X-CSRF-Token": token, "Origin": "http://studio.lan:8080"}):
            answer = client.post("/api/upload", content=b"", headers=headers)
            assert answer.status_code == 401 and answer.json()["detail"].startswith("sign the upload"), headers
        answer = client.post("/api/prepare", json={}, headers={"Origin": SITE})
        assert answer.status_code == 400 and answer.json()["detail"] == "signer is required"


def test_a_request_repeating_a_header_the_guard_decides_on_is_refused():
    """Two Origins, Hosts or Content-Types: the guard and the routes behind it would each read another (the
    guard judged by the last, Starlette serves the first), so a foreign Origin followed by the studio's own
    passed. No browser sends one; refused whole, naming the header."""
    with _studio() as client:
        token = _token(client)
        for pair in (("Origin", "http://attacker.example", SITE), ("Origin", SITE, "http://attacker.example"),
                     ("Content-Type", "text/plain", "application/json"), ("X-CSRF-Token", token, token),
                     ("Host", "127.0.0.1:8080", "attacker.example:8080")):
            name, first, second = pair
            answer = client.post("/api/prepare", content=b"{}", headers=[(name, first), (name, second)])
            assert answer.status_code == 400, (pair, answer.text)
            assert answer.json()["detail"] == f"the request carries more than one {name.lower()} header"
        answer = client.post("/api/prepare", json={}, headers={"Origin": SITE})  # one of each: the route answers
        assert answer.status_code == 400 and answer.json()["detail"] == "signer is required"


def test_a_body_past_the_limit_is_refused_before_a_route_reads_it(monkeypatch):
    """Found by an outside client: the studio's own routes read any body whole. Past MAX_BODY it is refused
    413 - declared, or as it arrives without a length - while a body within it reaches its route intact, and an
    upload (which streams its own to disk, to the node's blob limit) is not held to it."""
    from studio import guard
    from studio.routes import datanets

    monkeypatch.setattr(guard, "MAX_BODY", 4096)
    with _studio() as client:
        for content in (b"{" + b" " * 5000 + b"}", iter([b"{", *[b" " * 1000] * 5, b"}"])):
            answer = client.post("/api/prepare", content=content, headers={"Content-Type": "application/json"})
            assert answer.status_code == 413 and "the body is over" in answer.json()["detail"]
        within = client.post("/api/prepare", content=iter([b'{"signer"', b': "//Alice"}']),
                             headers={"Content-Type": "application/json"})
        assert within.status_code == 400 and within.json()["detail"] == "pallet is required"  # its signer was read
        body = b"x" * 5000
        monkeypatch.setattr(datanets, "MAX_UPLOAD_BYTES", 4500)
        answer = client.post("/api/upload", content=body,
                             headers={"X-CSRF-Token": _token(client), **_signed_for(monkeypatch, body)})
        assert answer.status_code == 413 and "the largest blob a node stores" in answer.json()["detail"]


def _studio_args(*flags: str):
    return build_parser().parse_args(["studio", "--node", NOWHERE, "--worker", NOWHERE, "--port", str(PORT),
                                      *flags])


def test_the_studios_gateway_takes_the_gateways_flags(monkeypatch):
    from cli.studio import build_studio

    monkeypatch.delenv("PAYABLE_GATEWAY_API_KEY", raising=False)
    with pytest.raises(ValueError, match="API key"):
        build_studio(_studio_args("--gateway-key", "//Alice"))
    with pytest.raises(ValueError, match="shorter than 16"):
        build_studio(_studio_args("--gateway-key", "//Alice", "--api-key", "short"))
    key = "k" * 24
    app = build_studio(_studio_args("--gateway-key", "//Alice", "--api-key", key, "--allowed-host", "gw.lan:8080",
                                    "--budget-per-hour", "2", "--budget-total", "5", "--max-fee", "0.5"))
    gateway = app.state.gateway
    assert gateway.budget.per_hour == 2 * ONE_OPEN and gateway.budget.total == 5 * ONE_OPEN
    assert gateway.spend_cap == ONE_OPEN // 2 and "gw.lan:8080" in gateway.access.hosts
    with TestClient(app, base_url=SITE) as client:
        assert client.get("/v1/models").json()["error"]["code"] == "invalid_api_key"
        answer = client.get("/v1/models", headers={"Authorization": f"Bearer {key}", "Host": "rebound.example"})
        assert answer.json()["error"]["code"] == "host_not_allowed"
        assert client.get("/explorer", headers={"Host": "rebound.example"}).status_code == 400
    opted_out = build_studio(_studio_args("--gateway-key", "//Alice", "--insecure-no-api-key"))
    assert opted_out.state.gateway.access.api_key is None
    assert build_studio(_studio_args()).state.gateway is None


def test_a_node_that_does_not_answer_is_the_error_page():
    with _studio() as client:
        for path in ("/explorer", "/datanets/1", "/earnings"):
            answer = client.get(path, headers=HTML)
            assert answer.status_code == 503 and answer.headers["content-type"].startswith("text/html"), path
            assert "does not answer" in answer.text and "--node" in answer.text
        assert client.get("/api/chain").json()["detail"].startswith("the node at")  # the script gets JSON


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    from conftest import NodeProcess

    started = NodeProcess(tmp_path_factory.mktemp("studio-node") / "node", "--dev", "--instant-seal")
    client = started.client()
    alice = Keypair.from_uri("//Alice")
    client.submit_call(alice, "datanet", "create_datanet", name="towns", domain="text", license="MIT",
                       contribution_deposit="1", accepted_formats=["text"])
    try:
        yield started
    finally:
        client.close()
        started.kill()


def test_unknown_ids_and_malformed_addresses_are_the_error_page(node):
    with _studio(node.target) as client:
        for path, status in (("/datanets/999999", 404), ("/requests/abc", 404), ("/requests/999999", 404),
                             ("/earnings/models/999999", 404), ("/earnings/datanets/abc", 404)):
            answer = client.get(path, headers=HTML)
            assert answer.status_code == status, (path, answer.text[:300])
            assert answer.headers["content-type"].startswith("text/html") and 'role="alert"' in answer.text, path
        assert client.get("/api/earnings/models/999999").status_code == 404
        assert client.get("/api/generations/abc").status_code == 422  # the API keeps FastAPI's detail
        # an id no chain can hold (negative, past u64: a search box's 20 digits) is a page that does not exist
        address = Keypair.from_uri("//Bob").address
        for path in ("/datanets/-1", "/datanets/99999999999999999999", "/models/-1", "/requests/99999999999999999999",
                     "/earnings/models/99999999999999999999", "/earnings/datanets/-1",
                     "/explorer/blocks/99999999999999999999", f"/explorer/accounts/{address}?before=-5"):
            answer = client.get(path, headers=HTML)
            assert answer.status_code == 404 and 'role="alert"' in answer.text, (path, answer.text[:300])
        for path in ("/api/earnings/models/-1", "/api/earnings/datanets/99999999999999999999",
                     "/api/generations/-1", "/api/jobs/j1?since=-1"):
            assert client.get(path).status_code == 422, path
        # a worker that does not answer is said so, with what to do
        answer = client.get("/factory/jobs/j1", headers=HTML)
        assert answer.status_code == 503 and "the worker does not answer" in answer.text and "--worker" in answer.text
        # the Earnings page links each DataNet to its ranking, which answers
        links = re.findall(r'href="(/earnings/datanets/[^"]*)"', client.get("/earnings", headers=HTML).text)
        assert links == ["/earnings/datanets/1"]
        assert client.get(links[0], headers=HTML).status_code == 200


def test_a_forms_bad_numbers_and_fields_are_400s_that_name_them(node):
    """What a browser's number input accepts (1e2) is a number; what no field can be - a word, a file for a
    text field, a list where a number goes, a split that does not sum to 10000 - is a 400 (422 for a body of
    the wrong shape) that names the field, before anything reaches the worker or a signing dialog."""
    alice = Keypair.from_uri("//Alice")
    with _studio(node.target) as client:
        token = {"X-CSRF-Token": _token(client)}
        form = {"base_model": "1", "snapshots": "1:1", "eval_per_mille": "1e2", "max_steps": "2e1"}
        for change, said in (({"base_model": "abc"}, "base_model: 'abc' is not a whole number"),
                             ({"snapshots": "abc"}, "snapshots: 'abc'"), ({"snapshots": "1"}, "DATANET:VERSION"),
                             ({"eval_per_mille": "1.5"}, "eval_per_mille: '1.5'"),
                             ({"learning_rate": "nan"}, "learning_rate: 'nan' is not a number")):
            answer = client.post("/api/jobs/prepare", data={**form, **change}, headers=token)
            assert answer.status_code == 400 and said in answer.json()["detail"], (change, answer.text)
        as_file = client.post("/api/jobs/prepare", data=form, files={"prompts": ("p.txt", b"hi")}, headers=token)
        assert as_file.status_code == 400 and "prompts: a file where the form takes text" in as_file.json()["detail"]
        accepted = client.post("/api/jobs/prepare", data=form, headers=token)  # 1e2 read as 100: the base is next
        assert accepted.status_code == 404 and "base model 1" in accepted.json()["detail"].lower(), accepted.text
        assert client.post("/api/jobs", json={"prompts": 5}).status_code == 422
        assert client.post("/api/jobs/j1/try", json={"prompts": {"a": 1}}).status_code == 422
        owner = {"owner": alice.public.hex(), "issued_at": 1, "signature": "00" * 64, "signer": alice.public.hex()}
        for split in ("a,b,c,d", "-1,2000,500,500", "4294967296,0,0,0", "9000,2000,500,500"):
            answer = client.post("/api/jobs/j1/publish", json={**owner, "split": split})
            assert answer.status_code == 400 and "split" in answer.json()["detail"], (split, answer.text)
        # a try goes to the worker exactly as signed: prompts that are not texts, or empty, and a token bound
        # out of range are refused by name, never quietly dropped (the signature would no longer verify)
        for asked, said in (({"prompts": ["  "]}, "prompts[0]: a prompt is a text, and not an empty one"),
                            ({"prompts": []}, "prompts: a try asks at least one"),
                            ({"prompts": ["hi", 5]}, "prompts[1]: a prompt is a text"),
                            ({"prompts": ["hi", "\ud800"]}, "prompts[1] is not valid Unicode text"),
                            ({"prompts": ["hi"], "max_new_tokens": 1000}, "max_new_tokens: '1000'")):
            answer = client.post("/api/jobs/j1/try", content=json.dumps({**owner, **asked}),  # escapes surrogates
                                 headers={"Content-Type": "application/json"})
            assert answer.status_code == 400 and said in answer.json()["detail"], (asked, answer.text)
        for prompts, said in ((["ok", ""], "prompts[1]: a prompt is a text"), (["\udfff"], "prompts[0] is not valid")):
            answer = client.post("/api/jobs", content=json.dumps({**owner, "config_json": "{}", "prompts": prompts}),
                                 headers={"Content-Type": "application/json"})
            assert answer.status_code == 400 and said in answer.json()["detail"], (prompts, answer.text)
        for fields, said in (({"model": "-1"}, "model: '-1'"), ({"model": "99999999999999999999999"}, "model:"),
                             ({"model": "1", "max_new_tokens": "1e1", "temperature": "inf"}, "temperature: 'inf'")):
            answer = client.post("/api/playground/prepare", json={"prompt": "hi", "signer": alice.address, **fields})
            assert answer.status_code == 400 and said in answer.json()["detail"], (fields, answer.text)


def test_calls_sure_to_fail_are_refused_before_anything_is_signed(node):
    from sdk.client import Client

    alice, bob = Keypair.from_uri("//Alice"), Keypair.from_uri("//Bob")
    create = {"name": "n", "domain": "text", "license": "MIT", "contribution_deposit": "1",
              "accepted_formats": ["text"]}
    with _studio(node.target) as client, Client(node.target) as chain:
        def prepare(signer: Keypair, call: str, **fields):
            return client.post("/api/prepare", json={"signer": signer.address, "pallet": "datanet", "call": call,
                                                     "fields": fields})

        assert prepare(alice, "create_datanet", **{**create, "name": "  "}).json()["detail"].startswith("name is blank")
        empty = Keypair.from_uri("//never-funded")
        unfunded = prepare(empty, "create_datanet", **create)
        assert unfunded.status_code == 400 and unfunded.json()["detail"].startswith(
            f"{empty.address} holds no OPEN, so it cannot pay the fee: fund it first")
        assert "at most 4096" in prepare(alice, "create_datanet", **create, description="d" * 4097).json()["detail"]
        assert prepare(bob, "publish_snapshot", datanet=1).status_code == 403
        bad = prepare(alice, "create_datanet", **{**create, "license": "not a license!!"})
        assert bad.status_code == 400 and "the chain would refuse it" in bad.json()["detail"]
        empty = prepare(alice, "publish_snapshot", datanet=1)  # the owner may; the chain would fail it (dry run)
        assert empty.status_code == 400 and "datanet.NothingApproved" in empty.json()["detail"] and \
            "nothing was signed" in empty.json()["detail"]
        stored = chain.upload(b"a row of text\n", uploader=UPLOADER)
        chain.submit_call(bob, "datanet", "contribute", datanet=1, content_hash=stored.hash, size=stored.size,
                          format="text")
        again = prepare(alice, "contribute", datanet=1, content_hash=stored.hash.hex(), size=stored.size,
                        format="text")
        assert again.status_code == 400 and "already holds this file" in again.json()["detail"]
        # the limits are the chain's: at the boundary the chain accepts what passes and refuses what does not
        from sdk.client import ClientError

        assert prepare(alice, "create_datanet", **{**create, "name": "x" * 64}).status_code == 200
        assert chain.submit_call(alice, "datanet", "create_datanet", **{**create, "name": "x" * 64}).success
        assert prepare(alice, "create_datanet", **{**create, "name": "x" * 65}).status_code == 400
        with pytest.raises(ClientError, match="rejected_by_pallet: datanet.BadInput: name is 65 characters"):
            chain.submit_call(alice, "datanet", "create_datanet", **{**create, "name": "x" * 65})  # at the door


def test_modelfactory_offers_only_what_a_lora_job_can_use(node):
    """Snapshots of DataNets holding text rows, not a classifier's "examples" (the worker cannot map those)."""
    from sdk.client import Client
    from studio.routes import modelfactory as factory

    alice, charlie = Keypair.from_uri("//Alice"), Keypair.from_uri("//Charlie")
    with Client(node.target) as chain:
        made = {}
        for name, fmt, blob in (("digits", "examples", b"\x08\x01"), ("answers", "jsonl", b'{"prompt": "a", '
                                                                                          b'"response": "b"}')):
            assert chain.submit_call(alice, "datanet", "create_datanet", name=name, domain="x", license="MIT",
                                     contribution_deposit="1", accepted_formats=[fmt]).success
            made[name] = max(n.datanet.id for n in factory.all_datanets(chain))
            stored = chain.upload(blob, uploader=UPLOADER)
            assert chain.submit_call(charlie, "datanet", "contribute", datanet=made[name], content_hash=stored.hash,
                                     size=stored.size, format=fmt).success
            pending = chain.pallet_query("datanet", "list_contributions",
                                         dn.ContributionsRequest(datanet=made[name], limit=100),
                                         dn.ContributionList).contributions
            for contribution in pending:
                assert chain.submit_call(alice, "datanet", "approve", contribution=contribution.id).success
            assert chain.submit_call(alice, "datanet", "publish_snapshot", datanet=made[name]).success
        offered = [n.datanet.id for n in factory.lora_datanets(chain)]
        assert made["answers"] in offered and made["digits"] not in offered
    from gpu_worker.finetune.dataset import READERS

    assert set(READERS) == factory.ROW_FORMATS


def test_the_signing_dialog_shows_the_fee_the_chain_then_takes(node):
    """The dialog's fee row (from /api/prepare) is, to the base unit, what the chain charges the signed body:
    the ExtrinsicSuccess event's fee - for calls of different weights and lengths."""
    alice = Keypair.from_uri("//Alice")
    calls = (("create_datanet", {"name": "fees", "domain": "text", "license": "MIT", "contribution_deposit": "1",
                                 "accepted_formats": ["text"]}),
             ("update_metadata", {"datanet": 1, "description": "d" * 900, "license": "MIT",
                                  "accepted_formats": ["text"]}))
    shown_fees = []
    with _studio(node.target) as client:
        for call, fields in calls:
            prepared = client.post("/api/prepare", json={"signer": alice.address, "pallet": "datanet", "call": call,
                                                         "fields": fields}).json()
            shown = dict(prepared["summary"])["fee"]
            body = bytes.fromhex(prepared["body"])
            done = client.post("/api/submit", json={"body": prepared["body"], "signature": alice.sign(body).hex()})
            assert done.status_code == 200 and done.json()["success"], done.text
            charged = next(e for e in done.json()["events"] if e["name"] == "system.ExtrinsicSuccess")["data"]["fee"]
            assert shown == charged, (call, shown, charged)
            shown_fees.append(shown)
            # a creation holds a deposit besides the fee: the dialog says how much (the chain's configured one)
            held = dict(prepared["summary"]).get("held")
            assert (held == "10 OPEN deposit, returned when it is retired") is (call == "create_datanet"), held
    assert len(set(shown_fees)) == 2 and all(fee.endswith(" OPEN") for fee in shown_fees)


def test_two_tabs_signing_with_one_nonce_are_told_so_not_to_pay_a_tip(node):
    """Both tabs prepared before either submitted, so both bodies carry one nonce: the second is told the
    nonce was taken (another tab?) and to sign again - not the pool's "pay a higher tip", which would replace
    the first tab's call."""
    alice = Keypair.from_uri("//Alice")
    fields = {"name": "tabs", "domain": "text", "license": "MIT", "contribution_deposit": "1",
              "accepted_formats": ["text"]}
    with _studio(node.target) as client:
        tabs = [client.post("/api/prepare", json={"signer": alice.address, "pallet": "datanet",
                                                  "call": "create_datanet", "fields": {**fields, "name": name}}).json()
                for name in ("tab one", "tab two")]
        assert [dict(tab["summary"])["nonce"] for tab in tabs] == [dict(tabs[0]["summary"])["nonce"]] * 2
        answers = [client.post("/api/submit", json={"body": tab["body"],
                                                    "signature": alice.sign(bytes.fromhex(tab["body"])).hex()})
                   for tab in tabs]
        assert answers[0].status_code == 200 and answers[0].json()["success"]
        assert answers[1].status_code == 400
        assert re.search(r"nonce \d+ was taken by an extrinsic of this key already in a block \(signed in another "
                         r"tab or client\?\): nothing was charged", answers[1].json()["detail"]), answers[1].text


def test_amounts_in_the_chains_refusals_are_in_open(node):
    """What the studio shows of a refusal names amounts in OPEN, not in base units (10^-18 OPEN)."""
    alice, broke = Keypair.from_uri("//Alice"), Keypair.from_uri("//Nobody with no OPEN")
    create = {"name": "cheap", "domain": "text", "license": "MIT", "accepted_formats": ["text"]}

    with _studio(node.target) as client:
        from runtime.extrinsic import extrinsic_body
        from sdk.client import Client  # a body the studio's prepare no longer makes for a key with no OPEN

        with Client(node.target) as chain:
            body = extrinsic_body(broke.public, chain.call("datanet", "create_datanet", **{
                **create, "contribution_deposit": "1"}), nonce=0, genesis_hash=chain.genesis_hash)
        refused = client.post("/api/submit", json={"body": body.hex(), "signature": broke.sign(body).hex()})
        assert refused.status_code == 400
        assert re.search(r"free balance 0 OPEN cannot pay the fee 0\.\d+ OPEN", refused.json()["detail"]), refused.text
        failed = client.post("/api/prepare", json={"signer": alice.address, "pallet": "datanet",
                                                   "call": "create_datanet",
                                                   "fields": {**create, "contribution_deposit": "0.001"}})
        assert failed.status_code == 400 and "contribution_deposit must be at least 0.01 OPEN" in failed.json()[
            "detail"], failed.text  # the pool's door, in OPEN, before anything is signed


def test_the_studios_gateway_answers_unknown_paths_and_methods_in_openais_shape():
    """As `payable gateway` does (an outside client met FastAPI's {"detail": ...} under the studio's /v1);
    the studio's own pages keep its error page."""
    key = "k" * 24
    with _studio(gateway_key=Keypair.from_uri("//Alice"), gateway_access=Access.local(PORT, key)) as client:
        auth = {"Authorization": f"Bearer {key}"}
        for method, path, status, code in (("GET", "/v1/chat/completions", 405, "method_not_allowed"),
                                           ("POST", "/v1/embeddings", 404, "not_found"),
                                           ("GET", "/v1", 404, "not_found"),
                                           ("OPTIONS", "/v1/chat/completions", 405, "method_not_allowed")):
            answer = client.request(method, path, headers=auth)
            assert answer.status_code == status and answer.json()["error"]["code"] == code, (method, path)
        page = client.get("/no-such-page", headers=HTML)
        assert page.status_code == 404 and "text/html" in page.headers["content-type"]



def test_the_studios_gateway_answers_browsers_of_its_allowed_origins_as_the_gateway_does():
    """CORS for /v1 and its preflights (with the headers OpenAI's browser client adds), for the allowed origins;
    the studio's own routes send no CORS headers (an outside client's preflight got a 405, its POST no
    Access-Control-Allow-Origin)."""
    key = "k" * 24
    access = Access.local(PORT, key, (), ["http://app.example"])
    with _studio(gateway_key=Keypair.from_uri("//Alice"), gateway_access=access) as client:
        asked = {"Origin": "http://app.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type,x-stainless-os,x-stainless-lang"}
        preflight = client.options("/v1/chat/completions", headers=asked)
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "http://app.example"
        assert "x-stainless-os" in preflight.headers["access-control-allow-headers"].lower()
        answer = client.post("/v1/chat/completions", json={"messages": []},
                             headers={"Authorization": f"Bearer {key}", "Origin": "http://app.example"})
        assert answer.status_code == 400 and answer.headers["access-control-allow-origin"] == "http://app.example"
        assert client.options("/v1/models", headers={**asked, "Origin": "http://attacker.example"}).status_code == 400
        own = client.options("/api/upload", headers=asked)
        assert "access-control-allow-origin" not in own.headers


def test_a_slow_worker_call_does_not_hold_up_every_other_page(monkeypatch):
    """A preview the worker takes minutes over (a contributor's 5 MB of near-identical rows did) runs on the
    thread pool: the studio keeps serving its other pages meanwhile, not only once the worker answers."""
    import threading

    from studio.routes import modelfactory

    entered, release, finished = threading.Event(), threading.Event(), threading.Event()

    class SlowWorker:
        def Preview(self, request, timeout=None):  # the gRPC stub's method name
            entered.set()
            release.wait(30)
            finished.set()
            raise ValueError("the worker answered at last")

    monkeypatch.setattr(modelfactory, "training_config", lambda client, form: {
        "dataset": {"snapshots": [[1, 1]]}, "base_model": "00" * 32, "cutoff": 64})
    with _studio() as client:
        token = _token(client)
        client.app.state.finetune = SlowWorker()
        preview = threading.Thread(target=client.post, args=("/factory/preview",),
                                   kwargs={"data": {"snapshots": "1:1"}, "headers": {"X-CSRF-Token": token}})
        preview.start()
        assert entered.wait(30)
        other = client.get("/no/such/page", headers=HTML)  # answered while the preview still waits
        assert other.status_code == 404 and not finished.is_set()
        release.set()
        preview.join(30)
        assert finished.is_set()


GENESIS = bytes(range(32))  # the chain the uploads below are signed for (its node stood in: `_signed_for`)


def _signed_for(monkeypatch, body: bytes, issued_at: int | None = None) -> dict[str, str]:
    """The headers of an upload of `body` signed by UPLOADER for GENESIS, the chain the studio's node client
    is made to report (the studio reads the genesis hash from its node to check an upload's signature)."""
    import time

    from sdk.client import Client
    from sdk.wire import content_upload_message

    monkeypatch.setattr(Client, "genesis_hash", property(lambda self: GENESIS))
    digest, stamp = blake2_256(body), int(time.time()) if issued_at is None else issued_at
    return {"X-Content-Hash": digest.hex(), "X-Uploader": UPLOADER.public.hex(), "X-Issued-At": str(stamp),
            "X-Signature": UPLOADER.sign(content_upload_message(GENESIS, digest, UPLOADER.public, stamp)).hex()}


def test_an_upload_past_the_blob_limit_is_refused_as_it_streams(monkeypatch):
    """Refused once the body passes the limit, not stored whole on the studio's disk and refused after."""
    from studio.routes import datanets

    monkeypatch.setattr(datanets, "MAX_UPLOAD_BYTES", 1024)
    body = b"x" * 5000
    with _studio() as client:
        answer = client.post("/api/upload", content=body,
                             headers={"X-CSRF-Token": _token(client), **_signed_for(monkeypatch, body)})
        assert answer.status_code == 413 and "the largest blob a node stores" in answer.json()["detail"]


def test_an_upload_whose_signature_or_time_does_not_check_out_is_refused_before_its_bytes_are_kept(monkeypatch):
    """A stranger's upload costs the studio no disk: its signature and time are checked before the body is
    read, each refusal saying what was wrong."""
    import time

    from studio.routes import datanets

    kept = []
    real = datanets.tempfile.NamedTemporaryFile
    monkeypatch.setattr(datanets.tempfile, "NamedTemporaryFile", lambda *a, **k: kept.append(1) or real(*a, **k))
    body = b"rows" * 1000
    good = _signed_for(monkeypatch, body)
    forged = good["X-Signature"][:-2] + ("01" if good["X-Signature"].endswith("00") else "00")
    with _studio() as client:
        token = _token(client)
        for change, status, words in (
                ({"X-Signature": forged}, 401, "does not verify"),
                ({"X-Uploader": Keypair.from_uri("//Bob").public.hex()}, 401, "does not verify"),
                (_signed_for(monkeypatch, body, int(time.time()) - 3600), 401, "sign it afresh"),
                ({"X-Issued-At": "99999999999999999999999999"}, 400, "uint64"),
                ({"X-Issued-At": "-1"}, 400, "whole seconds"), ({"X-Issued-At": "1_000"}, 400, "whole seconds"),
                ({"X-Uploader": "00" * 31}, 400, "32 bytes"), ({"X-Signature": "zz"}, 400, "are hex")):
            answer = client.post("/api/upload", content=body, headers={"X-CSRF-Token": token, **good, **change})
            assert answer.status_code == status and words in answer.json()["detail"], (change, answer.text)
    assert kept == []
