"""The OpenAI-compatible gateway, driven by the official `openai` Python client against real processes (node,
worker, `payable gateway`): every call is a paid on-chain request whose usage is the charged token counts;
plain and streamed completions and chat; an unknown model, a call above the spending cap, an empty balance
and a prompt too long for the base's context each come back as a clear OpenAI-style error (the last before
anything is paid). Only callers with the API key, from an allowed Host and Origin, sending JSON, may spend the
key, within its budget; 64 concurrent calls all settle, each paid once; the OpenAI parameters clients rely on
are honoured (`n` choices, each paid; `logprobs` as the worker read them) or refused by name before anything is
paid."""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("peft")
openai = pytest.importorskip("openai")

from payable.attribution.v1 import attribution_pb2 as at  # noqa: E402
from payable.inference.v1 import inference_pb2 as inf  # noqa: E402
from runtime.codec import decode_u128, format_open, parse_open  # noqa: E402
from runtime.crypto import Keypair  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cpu-heavy")]

GATEWAY_KEY = Keypair.from_uri("//Gateway")
EMPTY_KEY = Keypair.from_uri("//Gateway-Without-Funds")
BUDGET_KEY = Keypair.from_uri("//Gateway-On-A-Budget")
API_KEY = "test-api-key-0123456789abcdef"
PROMPT = "What does builtins.len do?"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, tiny_base):
    from conftest import HttpProcess
    from paid_world import paid_world

    root = tmp_path_factory.mktemp("gateway")
    with paid_world(root, tiny_base, datanets=1) as world:
        client = world["client"]
        for key in (GATEWAY_KEY, BUDGET_KEY):
            client.submit_call(Keypair.from_uri("//Alice"), "token", "transfer_keep_alive", dest=key.public,
                               amount="100")
        keyfile = root / "gateway.key"
        keyfile.write_text(GATEWAY_KEY.seed.hex())
        node = world["node"].target
        servers = [HttpProcess(root / "gateway.log", "gateway", "--node", node, "--key", str(keyfile), "--max-fee",
                               "2", "--api-key", API_KEY, "--allowed-origin", "http://app.example",
                               ready_path="/v1/models"),
                   HttpProcess(root / "empty.log", "gateway", "--node", node, "--key", EMPTY_KEY.seed.hex(),
                               "--insecure-no-api-key", ready_path="/v1/models"),
                   HttpProcess(root / "budget.log", "gateway", "--node", node, "--key", BUDGET_KEY.seed.hex(),
                               "--api-key", API_KEY, "--budget-total", "0.3", ready_path="/v1/models")]
        try:
            yield {**world, "model": str(world["models"][1]), "url": servers[0].url, "logs": root,
                   "api": openai.OpenAI(base_url=servers[0].url + "/v1", api_key=API_KEY, max_retries=0,
                                        timeout=300),
                   "empty": openai.OpenAI(base_url=servers[1].url + "/v1", api_key="unused", max_retries=0,
                                          timeout=300),
                   "budget": openai.OpenAI(base_url=servers[2].url + "/v1", api_key=API_KEY, max_retries=0,
                                           timeout=300)}
        finally:
            for server in servers:
                server.stop()


def _settlement(client, request_id: int) -> at.Settlement:
    return client.pallet_query("attribution", "get_settlement", at.SettlementRequest(request=request_id),
                               at.Settlement)


def test_models_lists_the_published_adapters_with_their_base_as_parent(gateway):
    listed = gateway["api"].models.list().data
    assert [m.id for m in listed] == [gateway["model"]]
    assert listed[0].model_extra["parent"] == f"base:{gateway['base']['base_model']}"
    assert gateway["api"].models.retrieve(gateway["model"]).id == gateway["model"]


def test_a_plain_completion_is_a_paid_request_and_usage_is_what_was_charged(gateway):
    client = gateway["client"]
    before = decode_u128(client.account(GATEWAY_KEY.public).free)
    response = gateway["api"].completions.create(model=gateway["model"], prompt="What does builtins.len do?",
                                                 max_tokens=12)
    extension = response.model_extra["payable"]
    request_id = extension["request"]
    settlement = _settlement(client, request_id)
    assert response.usage.prompt_tokens == settlement.input_tokens > 0
    assert response.usage.completion_tokens == settlement.output_tokens > 0
    assert response.usage.total_tokens == settlement.input_tokens + settlement.output_tokens
    assert response.choices[0].text and response.choices[0].finish_reason in ("stop", "length")
    assert extension["settlement"]["fee"] == format_open(decode_u128(settlement.fee))
    assert extension["settlement"]["refund"] == format_open(decode_u128(settlement.refund))
    assert {p["role"] for p in extension["settlement"]["payments"]} >= {"contributor", "model_owner"}
    assert extension["attribution"]["method"] and extension["attribution"]["contributions"]
    request = client.pallet_query("inference", "get_request", inf.RequestRef(request=request_id), inf.Request)
    assert request.requester == GATEWAY_KEY.public and request.max_new_tokens == 12
    spent = before - decode_u128(client.account(GATEWAY_KEY.public).free)
    tx_fee = parse_open(extension["transaction_fee"])
    assert tx_fee > 0 and spent == decode_u128(settlement.fee) + tx_fee  # the fee, and the transaction's own
    assert abs(response.created - time.time()) < 600  # Unix seconds


def test_a_streamed_chat_arrives_token_by_token_and_ends_with_the_charged_usage(gateway):
    stream = gateway["api"].chat.completions.create(
        model=gateway["model"], messages=[{"role": "user", "content": "What does builtins.sorted do?"}],
        max_tokens=10, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 2  # streamed, not one blob
    opening = chunks[0].choices[0].delta  # as OpenAI's streams open: the role, no text yet
    assert (opening.role, opening.content) == ("assistant", "")
    assert all(c.choices[0].delta.role is None for c in chunks[1:] if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish in (["stop"], ["length"])
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    settlement = _settlement(gateway["client"], last.model_extra["payable"]["request"])
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (settlement.input_tokens,
                                                                        settlement.output_tokens)
    assert last.id == chunks[0].id == f"chatcmpl-{settlement.request}"


def test_an_unknown_model_is_a_not_found_error(gateway):
    with pytest.raises(openai.NotFoundError) as caught:
        gateway["api"].completions.create(model="9999", prompt="hello", max_tokens=4)
    assert caught.value.code == "model_not_found" and "9999" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        gateway["api"].chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


def test_a_call_above_the_spending_cap_is_refused_before_anything_is_paid(gateway):
    client = gateway["client"]
    nonce = client.nonce(GATEWAY_KEY.public)
    with pytest.raises(openai.BadRequestError) as caught:  # 0.1 + 0.01 × 300 tokens > the 2 OPEN cap
        gateway["api"].completions.create(model=gateway["model"], prompt="What does builtins.len do?",
                                          max_tokens=300)  # within the base's context of 512
    assert caught.value.code == "spending_cap_exceeded"
    assert "spending cap of 2 OPEN" in caught.value.message and "max_tokens" in caught.value.message
    assert client.nonce(GATEWAY_KEY.public) == nonce  # nothing was submitted


def test_an_empty_balance_is_an_insufficient_quota_error(gateway):
    with pytest.raises(openai.RateLimitError) as caught:
        gateway["empty"].completions.create(model=gateway["model"], prompt="What does builtins.len do?",
                                            max_tokens=4)
    assert caught.value.code == "insufficient_quota"
    assert EMPTY_KEY.address in caught.value.message and "fund the account" in caught.value.message
    assert decode_u128(gateway["client"].account(EMPTY_KEY.public).free) == 0


def _post(gateway, path: str, body: bytes, headers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(gateway["url"] + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_only_callers_with_the_api_key_from_allowed_hosts_and_origins_sending_json_spend_the_key(gateway):
    client = gateway["client"]
    nonce = client.nonce(GATEWAY_KEY.public)
    body = json.dumps({"model": gateway["model"], "prompt": PROMPT, "max_tokens": 2}).encode()
    auth = {"Authorization": f"Bearer {API_KEY}"}
    # a web page's "simple" cross-origin POST: text/plain, no preflight
    status, answer = _post(gateway, "/v1/completions", body, {**auth, "Content-Type": "text/plain"})
    assert status == 415 and answer["error"]["code"] == "unsupported_media_type"
    status, answer = _post(gateway, "/v1/completions", body, {"Content-Type": "application/json"})
    assert status == 401 and answer["error"]["code"] == "invalid_api_key"
    status, _ = _post(gateway, "/v1/completions", body, {"Content-Type": "application/json",
                                                         "Authorization": f"Bearer {API_KEY[:-1]}x"})
    assert status == 401
    status, answer = _post(gateway, "/v1/completions", body, {**auth, "Content-Type": "application/json",
                                                              "Host": "attacker.example:80"})  # DNS rebinding
    assert status == 400 and answer["error"]["code"] == "host_not_allowed"
    status, answer = _post(gateway, "/v1/completions", body, {**auth, "Content-Type": "application/json",
                                                              "Origin": "http://attacker.example"})
    assert status == 403 and answer["error"]["code"] == "origin_not_allowed"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=gateway["url"] + "/v1", api_key="wrong", max_retries=0).models.list()
    assert client.nonce(GATEWAY_KEY.public) == nonce  # nothing was paid
    status, answer = _post(gateway, "/v1/completions", body, {**auth, "Content-Type": "application/json",
                                                              "Origin": "http://app.example"})
    assert status == 200 and answer["choices"][0]["text"]  # an allowed origin may
    assert "gateway_without_api_key" in (gateway["logs"] / "empty.log").read_text()  # the opt-out is loud


def test_a_call_past_the_total_budget_is_refused_before_anything_is_paid(gateway):
    client, api = gateway["client"], gateway["budget"]
    api.completions.create(model=gateway["model"], prompt=PROMPT, max_tokens=4)  # escrows ~0.23 of 0.3
    nonce = client.nonce(BUDGET_KEY.public)
    with pytest.raises(openai.RateLimitError) as caught:
        api.completions.create(model=gateway["model"], prompt=PROMPT, max_tokens=4)
    assert caught.value.code == "budget_exceeded" and "0.3 OPEN in total" in caught.value.message
    assert caught.value.response.headers["x-should-retry"] == "false"  # a default client would ask twice more
    assert client.nonce(BUDGET_KEY.public) == nonce


def test_sixty_four_concurrent_calls_all_settle_each_paid_once(gateway):
    client = gateway["client"]
    nonce, before = client.nonce(GATEWAY_KEY.public), decode_u128(client.account(GATEWAY_KEY.public).free)

    def call(i: int):
        return gateway["api"].completions.create(model=gateway["model"], prompt=f"What does builtins.len do? {i}",
                                                 max_tokens=2)

    with ThreadPoolExecutor(64) as pool:
        responses = list(pool.map(call, range(64)))
    requests = {r.model_extra["payable"]["request"] for r in responses}
    assert len(requests) == 64
    assert client.nonce(GATEWAY_KEY.public) == nonce + 64  # 64 request_inference extrinsics, no more
    charged = sum(decode_u128(_settlement(client, r).fee) for r in requests)
    tx_fees = sum(parse_open(r.model_extra["payable"]["transaction_fee"]) for r in responses)
    assert before - decode_u128(client.account(GATEWAY_KEY.public).free) == charged + tx_fees


def test_openai_parameters_are_honoured_or_refused_by_name_before_paying(gateway):
    client, api, model = gateway["client"], gateway["api"], gateway["model"]
    nonce = client.nonce(GATEWAY_KEY.public)
    refused = [({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
               ({"response_format": {"type": "json_object"}}, "response_format"), ({"logprobs": 1}, "logprobs"),
               ({"n": 9}, "n"), ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
               ({"max_tokens": 0}, "max_tokens"), ({"stream": True, "stream_options": "yes"}, "stream_options")]
    for extra, param in refused:
        with pytest.raises(openai.BadRequestError) as caught:
            api.chat.completions.create(model=model, messages=[{"role": "user", "content": PROMPT}],
                                        **{"max_tokens": 4, **extra})
        assert caught.value.param == param and param in caught.value.message
    with pytest.raises(openai.BadRequestError) as caught:  # a chat has messages, not a prompt
        api.chat.completions.create(model=model, messages=[{"role": "user", "content": " "}], max_tokens=4)
    assert caught.value.param == "messages" and "empty" in caught.value.message
    status, answer = _post(gateway, "/v1/chat/completions", json.dumps({"messages": [
        {"role": "user", "content": "hi"}]}).encode(), {"Authorization": f"Bearer {API_KEY}",
                                                        "Content-Type": "application/json"})
    assert status == 400 and answer["error"]["param"] == "model"
    assert client.nonce(GATEWAY_KEY.public) == nonce  # nothing was paid
    for path in ("/v1/nowhere", "/v1/chat/completions"):
        request = urllib.request.Request(gateway["url"] + path, headers={"Authorization": f"Bearer {API_KEY}"})
        with pytest.raises(urllib.error.HTTPError) as http:
            urllib.request.urlopen(request, timeout=30)
        assert http.value.code in (404, 405) and json.loads(http.value.read())["error"]["message"]

    greedy = api.completions.create(model=model, prompt=PROMPT, max_tokens=8, temperature=0).choices[0].text
    # top_p 0 means the most likely token only, whatever the temperature
    assert api.completions.create(model=model, prompt=PROMPT, max_tokens=8, temperature=1.5,
                                  top_p=0).choices[0].text == greedy
    seeded = [api.completions.create(model=model, prompt=PROMPT, max_tokens=8, temperature=1.5, seed=42)
              .choices[0].text for _ in range(2)]
    assert seeded[0] == seeded[1]  # same seed, same text
    cut = next(i for i in range(1, len(greedy)) if greedy[i].strip())
    stopped = api.completions.create(model=model, prompt=PROMPT, max_tokens=8, stop=[greedy[cut:cut + 2]])
    assert stopped.choices[0].text == greedy[:greedy.index(greedy[cut:cut + 2])]
    assert stopped.choices[0].finish_reason == "stop"
    text_parts = [{"type": "text", "text": "What does "}, {"type": "text", "text": "builtins.len do?"}]
    parts = api.chat.completions.create(model=model, max_tokens=8, messages=[{"role": "user", "content": text_parts}])
    plain = api.chat.completions.create(model=model, max_tokens=8, messages=[{"role": "user", "content": PROMPT}])
    assert parts.choices[0].message.content == plain.choices[0].message.content
    # without stream_options.include_usage every chunk has a choice (the cookbook's chunk.choices[0] works)
    chunks = list(api.chat.completions.create(model=model, max_tokens=4, stream=True,
                                              messages=[{"role": "user", "content": PROMPT}]))
    assert all(c.choices for c in chunks) and chunks[-1].choices[0].finish_reason
    assert chunks[-1].model_extra["payable"]["request"] and all(c.usage is None for c in chunks)


def test_n_choices_are_n_paid_requests_and_the_same_seed_gives_the_same_texts(gateway):
    """n=3 is three paid requests (three extrinsics, three settlements; usage and the charge are their sums);
    the same seed gives the same three texts, the first of them what n=1 with that seed gives; streamed, each
    chunk names its choice and every choice ends with its own finish reason."""
    client, api, model = gateway["client"], gateway["api"], gateway["model"]
    nonce, before = client.nonce(GATEWAY_KEY.public), decode_u128(client.account(GATEWAY_KEY.public).free)
    asked = {"model": model, "prompt": PROMPT, "max_tokens": 6, "temperature": 1.5, "seed": 42}
    response = api.completions.create(n=3, **asked)
    extension = response.model_extra["payable"]
    assert [c.index for c in response.choices] == [0, 1, 2] and len(set(extension["requests"])) == 3
    assert client.nonce(GATEWAY_KEY.public) == nonce + 3  # one request_inference per choice
    settlements = [_settlement(client, r) for r in extension["requests"]]
    assert response.usage.completion_tokens == sum(s.output_tokens for s in settlements)
    assert response.usage.prompt_tokens == sum(s.input_tokens for s in settlements)
    fees = sum(decode_u128(s.fee) for s in settlements)
    assert extension["fee"] == format_open(fees) and [c["request"] for c in extension["choices"]] == \
        extension["requests"]
    spent = before - decode_u128(client.account(GATEWAY_KEY.public).free)
    assert spent == fees + parse_open(extension["transaction_fee"])  # charged three times, nothing else
    texts = [c.text for c in response.choices]
    assert len(set(texts)) > 1  # each choice samples from its own seed
    assert [c.text for c in api.completions.create(n=3, **asked).choices] == texts  # same seed, same texts
    assert api.completions.create(**asked).choices[0].text == texts[0]
    messages = [{"role": "user", "content": PROMPT}]
    plain = api.chat.completions.create(model=model, messages=messages, n=2, max_tokens=6, temperature=1.5, seed=7)
    chunks = list(api.chat.completions.create(model=model, messages=messages, n=2, max_tokens=6, temperature=1.5,
                                              seed=7, stream=True))
    streamed = ["".join(c.choices[0].delta.content or "" for c in chunks if c.choices[0].index == i) for i in (0, 1)]
    assert streamed == [c.message.content for c in plain.choices]
    assert sorted(c.choices[0].index for c in chunks if c.choices[0].finish_reason) == [0, 1]
    assert len(chunks[-1].model_extra["payable"]["requests"]) == 2


def test_logprobs_are_the_workers_own_for_each_token_in_openais_shapes(gateway):
    """Greedy: every token's log-probability is ≤ 0, its alternatives sorted, the chosen token the most likely of
    them (exp of its log-probability is their maximum) and its bytes the text's; streamed, the same tokens and
    numbers. They are the content's: every token generated but the end-of-sequence one a model stops on (it shows
    no text; the choice's finish_reason says "stop"), their bytes the text's. A completion's `logprobs: 3` gives
    the legacy shape: tokens, their log-probabilities, up to 4 alternatives each with the chosen one among them,
    offsets into the text."""
    api, model = gateway["api"], gateway["model"]
    messages = [{"role": "user", "content": PROMPT}]
    response = api.chat.completions.create(model=model, messages=messages, max_tokens=8, temperature=0, logprobs=True,
                                           top_logprobs=5)
    content = response.choices[0].logprobs.content
    ended = response.choices[0].finish_reason == "stop"  # on end-of-sequence: there is no stop sequence
    assert len(content) == response.usage.completion_tokens - ended
    for entry in content:
        assert entry.logprob <= 0 and len(entry.top_logprobs) == 5
        values = [t.logprob for t in entry.top_logprobs]
        assert values == sorted(values, reverse=True)
        assert entry.top_logprobs[0].token == entry.token and bytes(entry.top_logprobs[0].bytes) == bytes(entry.bytes)
        assert math.exp(entry.logprob) == max(math.exp(v) for v in values)
    text = response.choices[0].message.content
    assert b"".join(bytes(e.bytes) for e in content) == text.encode()
    chunks = list(api.chat.completions.create(model=model, messages=messages, max_tokens=8, temperature=0,
                                              logprobs=True, top_logprobs=5, stream=True))
    streamed = [e for c in chunks if c.choices[0].logprobs for e in c.choices[0].logprobs.content]
    assert [(e.token, e.logprob) for e in streamed] == [(e.token, e.logprob) for e in content]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == text
    plain = api.chat.completions.create(model=model, messages=messages, max_tokens=8, temperature=0)
    assert plain.choices[0].logprobs is None and plain.choices[0].message.content == text

    legacy = api.completions.create(model=model, prompt=PROMPT, max_tokens=6, temperature=1.0, seed=5, logprobs=3)
    found, text = legacy.choices[0].logprobs, legacy.choices[0].text
    assert len(found.tokens) == len(found.token_logprobs) == len(found.top_logprobs) == len(found.text_offset) == \
        legacy.usage.completion_tokens - (legacy.choices[0].finish_reason == "stop")
    assert found.text_offset == sorted(found.text_offset) and found.text_offset[0] == 0
    for token, logprob, top, offset in zip(found.tokens, found.token_logprobs, found.top_logprobs, found.text_offset,
                                           strict=True):
        assert logprob <= 0 and top[token] == logprob and 3 <= len(top) <= 4
        assert text[offset:].startswith(token) or "\ufffd" in token


def test_a_generation_that_ends_on_its_last_allowed_token_stopped(gateway):
    """finish_reason is "length" only when max_tokens cut the answer: a model that says its end-of-sequence token
    as the last token it was allowed stopped (an outside client read "length" and asked for more)."""
    api, model = gateway["api"], gateway["model"]
    messages = [{"role": "user", "content": PROMPT}]
    whole = api.chat.completions.create(model=model, messages=messages, max_tokens=32, temperature=0)
    assert whole.choices[0].finish_reason == "stop"  # the tiny model ends this answer well within 32 tokens
    used = whole.usage.completion_tokens
    exact = api.chat.completions.create(model=model, messages=messages, max_tokens=used, temperature=0)
    assert exact.choices[0].finish_reason == "stop"
    assert exact.choices[0].message.content == whole.choices[0].message.content
    cut = api.completions.create(model=model, prompt=PROMPT, max_tokens=used - 1, temperature=0)
    assert cut.choices[0].finish_reason == "length" and cut.usage.completion_tokens == used - 1
    chunks = list(api.chat.completions.create(model=model, messages=messages, max_tokens=used, temperature=0,
                                              stream=True))
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["stop"]


def test_a_prompt_past_the_bases_context_is_refused_before_paying_with_openais_code(gateway):
    """The gateway counts the prompt with the base's tokenizer after the adapter's template, as the worker does
    (the count is the worker's own: a settled call's prompt_tokens): with max_tokens one past what is left of
    the base's context the call is a 400 `context_length_exceeded` naming the numbers, for a completion and a
    chat alike, and nothing is signed; with exactly what is left it passes the count (and is then above the
    spending cap, so still nothing is paid)."""
    client, api, model = gateway["client"], gateway["api"], gateway["model"]
    context = gateway["base"]["context_length"]
    tokens = api.completions.create(model=model, prompt=PROMPT, max_tokens=2).usage.prompt_tokens  # the worker's
    nonce, account = client.next_nonce(GATEWAY_KEY.public), client.account(GATEWAY_KEY.public)
    over = context - tokens + 1
    with pytest.raises(openai.BadRequestError) as caught:
        api.completions.create(model=model, prompt=PROMPT, max_tokens=over)
    assert caught.value.code == "context_length_exceeded" and caught.value.param == "prompt"
    assert f"maximum context length is {context} tokens" in caught.value.message
    assert f"you requested {context + 1} tokens ({tokens} in your prompt" in caught.value.message
    with pytest.raises(openai.BadRequestError) as chat:
        api.chat.completions.create(model=model, messages=[{"role": "user", "content": PROMPT}], max_tokens=over)
    assert chat.value.code == "context_length_exceeded" and chat.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as fits:  # 0.01 OPEN a token: the cap refuses, after the count
        api.completions.create(model=model, prompt=PROMPT, max_tokens=over - 1)
    assert fits.value.code == "spending_cap_exceeded"
    after = client.account(GATEWAY_KEY.public)
    assert client.next_nonce(GATEWAY_KEY.public) == nonce  # nothing signed: no request, no fee, no escrow
    assert (after.free, after.reserved) == (account.free, account.reserved)


def test_an_unreachable_worker_is_a_502_in_openais_shape(gateway):
    """Last in this file: it stops the only worker."""
    for worker in gateway["workers"]:
        worker.stop()
    with pytest.raises(openai.InternalServerError) as caught:
        gateway["api"].completions.create(model=gateway["model"], prompt=PROMPT, max_tokens=2)
    assert caught.value.status_code == 502 and caught.value.code == "worker_unreachable"
    # it was paid (the escrow comes back when the request expires): a default client must not pay again
    assert caught.value.response.headers["x-should-retry"] == "false"


def test_the_spending_cap_advice_names_only_what_lowers_the_escrow():
    """A flat-priced model's escrow does not move with max_tokens: advising it would send a user round in
    circles; a per-token one's does, and so does n."""
    from payable.modelregistry.v1 import modelregistry_pb2 as mr
    from runtime.codec import ONE_OPEN, encode_u128
    from studio.gateway import cap_advice

    flat = mr.Model(price_per_inference=encode_u128(ONE_OPEN))
    per_token = mr.Model(price_per_inference=encode_u128(ONE_OPEN), price_per_output_token=encode_u128(10**16))
    assert cap_advice(flat, 1) == ("this model's flat price alone is above it: raise the cap (--max-fee)", None)
    assert cap_advice(flat, 2) == ("lower n or raise the cap (--max-fee)", "n")
    assert cap_advice(per_token, 2) == ("lower max_tokens or n or raise the cap (--max-fee)", "max_tokens")
