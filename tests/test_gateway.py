"""The OpenAI-compatible gateway, driven by the official `openai` Python client against real processes (node,
worker, `payable gateway`): every call is a paid on-chain request whose usage is the charged token counts;
plain and streamed completions and chat; an unknown model, a call above the spending cap and an empty
balance each come back as a clear OpenAI-style error."""

from __future__ import annotations

import pytest

pytest.importorskip("peft")
openai = pytest.importorskip("openai")

from payable.attribution.v1 import attribution_pb2 as at  # noqa: E402
from payable.inference.v1 import inference_pb2 as inf  # noqa: E402
from runtime.codec import decode_u128, format_open  # noqa: E402
from runtime.crypto import Keypair  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cpu-heavy")]

GATEWAY_KEY = Keypair.from_uri("//Gateway")
EMPTY_KEY = Keypair.from_uri("//Gateway-Without-Funds")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, tiny_base):
    from conftest import HttpProcess
    from paid_world import paid_world

    root = tmp_path_factory.mktemp("gateway")
    with paid_world(root, tiny_base, datanets=1) as world:
        client = world["client"]
        client.submit_call(Keypair.from_uri("//Alice"), "token", "transfer_keep_alive", dest=GATEWAY_KEY.public,
                           amount="100")
        keyfile = root / "gateway.key"
        keyfile.write_text(GATEWAY_KEY.seed.hex())
        node = world["node"].target
        servers = [HttpProcess(root / "gateway.log", "gateway", "--node", node, "--key", str(keyfile), "--max-fee",
                               "2", ready_path="/v1/models"),
                   HttpProcess(root / "empty.log", "gateway", "--node", node, "--key", EMPTY_KEY.seed.hex(),
                               ready_path="/v1/models")]
        try:
            yield {**world, "model": str(world["models"][1]),
                   "api": openai.OpenAI(base_url=servers[0].url + "/v1", api_key="unused", max_retries=0,
                                        timeout=300),
                   "empty": openai.OpenAI(base_url=servers[1].url + "/v1", api_key="unused", max_retries=0,
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
    assert spent >= decode_u128(settlement.fee)  # the fee, plus the transaction's own fee


def test_a_streamed_chat_arrives_token_by_token_and_ends_with_the_charged_usage(gateway):
    stream = gateway["api"].chat.completions.create(
        model=gateway["model"], messages=[{"role": "user", "content": "What does builtins.sorted do?"}],
        max_tokens=10, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 2  # streamed, not one blob
    assert chunks[0].choices[0].delta.role == "assistant"
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
    with pytest.raises(openai.BadRequestError) as caught:  # 0.1 + 0.01 × 1000 tokens > the 2 OPEN cap
        gateway["api"].completions.create(model=gateway["model"], prompt="What does builtins.len do?",
                                          max_tokens=1000)
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
