"""OpenLoRA in the paid flow, end to end in real processes: two adapters fine-tuned and published through
ModelFactory on two DataNets, served on one base by two replicated workers, paid per token, streamed to
their requesters alone, attributed to their own fine-tuning rows, and settled when both replicas agree
byte for byte; an adapter whose bytes do not match its hash is refused, and so is a request longer than
the base's context - with signed refusals that close the request, refund it and slash nobody; a worker
killed mid-stream leaves the request to expire and be refunded, once."""

from __future__ import annotations

import os
import signal
import threading
import time

import grpc
import pytest

from payable.attribution.v1 import attribution_pb2 as at
from payable.content.v1 import content_pb2
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.worker.v1 import worker_pb2 as wp
from payable.worker.v1 import worker_pb2_grpc
from runtime.codec import ONE_OPEN, decode_u128
from runtime.crypto import Keypair
from sdk.artifacts import manifest_bytes, read_manifest
from sdk.client import ClientError
from sdk.wire import stream_read_message

pytest.importorskip("peft")

from conftest import wait_until
from paid_world import REQUESTER, cli_json, paid_world

UPLOADER = Keypair.from_uri("//Alice")  # signs the blobs the tests store (an account on chain)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cpu-heavy")]


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_base):
    with paid_world(tmp_path_factory.mktemp("paid"), tiny_base, replication=2) as built:
        yield built


def _collect(client, signer, request_id, out: dict, endpoint=None):
    from studio.generation import stream_tokens

    try:
        events = list(stream_tokens(client, signer, request_id, endpoint))
        out[request_id] = events
    except grpc.RpcError as exc:
        out[request_id] = exc


def test_two_adapters_interleaved_streamed_and_settled_by_replicas_that_agree(world):
    from studio.generation import request_generation, settled_attribution, wait_closed

    client, models = world["client"], world["models"]
    before = _balance(client, REQUESTER)
    prompts = [(models[1], "What does builtins.len do?", 0.0), (models[2], "upper: print while class", 0.0),
               (models[1], "What does builtins.sorted do?", 0.9), (models[2], "bracket: open range list", 0.0)]
    ids, streams, readers = [], {}, []
    for model, prompt, temperature in prompts:
        request_id = request_generation(client, REQUESTER, model, prompt, max_new_tokens=24, temperature=temperature)
        ids.append(request_id)
        reader = threading.Thread(target=_collect, args=(client, REQUESTER, request_id, streams))
        reader.start()
        readers.append(reader)
    for reader in readers:
        reader.join(timeout=120)
    workers = {Keypair.from_uri(w.key).public for w in world["workers"]}
    fees, paid_contributors = 0, {}
    for request_id, (model, _, _) in zip(ids, prompts, strict=True):
        request, settlement = wait_closed(client, request_id)
        assert settlement is not None, f"request {request_id} expired"
        assert set(settlement.agreeing_workers) == workers and not settlement.slashed_workers  # byte for byte
        events = streams[request_id]
        assert not isinstance(events, Exception), events
        tokens = [e.token for e in events if e.HasField("token")]
        end = events[-1].end
        assert not end.error and [t.index for t in tokens] == list(range(len(tokens)))
        assert (end.input_tokens, end.output_tokens) == (settlement.input_tokens, settlement.output_tokens)
        assert len(tokens) == settlement.output_tokens and 1 <= settlement.output_tokens <= 24
        assert len(settlement.evidence) == len(settlement.agreeing_workers)
        for worker, where in zip(settlement.agreeing_workers, settlement.evidence, strict=True):
            stored = client.pallet_query("attribution", "get_result",
                                         at.ResultRequest(request=request_id, worker=worker), at.StoredResult)
            assert stored.output_hash == end.output_hash
            assert stored.included == where
            _assert_submit_result(client, where, worker, request_id, end.output_hash)
        found = settled_attribution(client, settlement)  # one block read: where the settlement points
        assert found.block_number == settlement.evidence[0].block and found.result.output_hash == end.output_hash
        fee = decode_u128(settlement.fee)
        assert fee == (ONE_OPEN // 10 + ONE_OPEN // 1000 * settlement.input_tokens
                       + ONE_OPEN // 100 * settlement.output_tokens)
        assert decode_u128(settlement.refund) == decode_u128(request.escrow) - fee > 0
        assert sum(decode_u128(p.amount) for p in settlement.payments) == fee
        own = _net_of(world, model)
        contributors = [p for p in settlement.payments if p.role == "contributor"]
        assert all(p.datanet == own for p in contributors), (request_id, model, settlement)
        paid_contributors[model] = paid_contributors.get(model, False) or bool(contributors)
        fees += fee
    # contributors are paid for what their data shaped: an answer the adapter did not make likelier than the
    # base would (a weak adapter's runaway continuation) pays them nothing, and that share is the owner's
    assert all(paid_contributors.values()), paid_contributors
    after = _balance(client, REQUESTER)
    assert decode_u128(after.reserved) == decode_u128(before.reserved) == 0
    assert decode_u128(before.free) - decode_u128(after.free) - fees == _tx_fees(client, ids)


def _assert_submit_result(client, where, worker: bytes, request_id: int, output_hash: bytes) -> None:
    """The recorded (block, index) is the worker's attribution.submit_result for this request, and the node's
    own extrinsic index puts that extrinsic at exactly that place."""
    from payable.runtime.v1.extrinsic_pb2 import Extrinsic, ExtrinsicBody
    from runtime.crypto import blake2_256

    raw = client.block(where.block).block.extrinsics[where.index]
    body = ExtrinsicBody.FromString(Extrinsic.FromString(raw).signed.body)
    submit_result = next(c.index for p in client.metadata.pallets if p.name == "attribution"
                         for c in p.calls if c.name == "submit_result")
    assert body.signer == worker and (body.call.pallet, body.call.call_index) == ("attribution", submit_result)
    args = at.SubmitResult.FromString(body.call.args)
    signed = at.SignedAttribution.FromString(args.signed_attribution)
    assert args.request == request_id and at.AttributionResult.FromString(signed.result).output_hash == output_hash
    located = client.extrinsic(blake2_256(raw))
    assert (located.block_number, located.index) == (where.block, where.index)
    assert any(e.name == "ResultAccepted" for e in located.events)


def _tx_fees(client, request_ids) -> int:
    """What the requester paid in transaction fees for its request_inference extrinsics (system events)."""
    from payable.system.v1 import system_pb2

    total = 0
    for request_id in request_ids:
        request = client.pallet_query("inference", "get_request", inf.RequestRef(request=request_id), inf.Request)
        events = client.events(request.created_at).events
        index = next(e.extrinsic_index for e in events if e.name == "InferenceRequested" and
                     inf.InferenceRequested.FromString(e.data).request == request_id)
        outcome = next(e for e in events if e.pallet == "system" and e.name == "ExtrinsicSuccess"
                       and e.extrinsic_index == index)
        total += decode_u128(system_pb2.ExtrinsicSuccess.FromString(outcome.data).fee)
    return total


def _net_of(world, model_id: int) -> int:
    return next(net for net, m in world["models"].items() if m == model_id)


def _balance(client, signer):
    from payable.token.v1 import token_pb2

    return client.pallet_query("token", "account", token_pb2.AccountRequest(account=signer.public),
                               token_pb2.AccountData)


def test_payable_generate_streams_the_text_and_reports_the_settlement(world):
    from decimal import Decimal

    done = cli_json(world["node"], "generate", str(world["models"][2]), "hyphen: class yield print", "--max-new-tokens",
                "16", "--from", "//Paying-User")
    assert done["text"] and 1 <= done["output_tokens"] <= 16 and done["input_tokens"] > 5
    fee = Decimal(done["fee"])
    assert fee == Decimal("0.1") + Decimal("0.001") * done["input_tokens"] + Decimal("0.01") * done["output_tokens"]
    assert sum(Decimal(p["amount"]) for p in done["payments"]) == fee and Decimal(done["refund"]) > 0
    assert done["status"] == "settled" and done["paid"] is True
    dave, alice = (Keypair.from_uri(n).address for n in ("//Dave", "//Alice"))  # addresses, as everywhere
    assert {p["account"] for p in done["payments"] if p["role"] == "contributor"} <= {dave, alice}


def test_the_stream_is_refused_to_anyone_but_the_requester(world):
    from studio.generation import request_generation, stream_tokens, wait_closed, worker_endpoint

    client = world["client"]
    request_id = request_generation(client, REQUESTER, world["models"][1], "What does builtins.abs do?",
                                    max_new_tokens=8)
    endpoint = worker_endpoint(client, request_id)
    with pytest.raises(grpc.RpcError) as someone_else:  # a valid signature, by the wrong account
        list(stream_tokens(client, Keypair.from_uri("//Bob"), request_id, endpoint))
    assert someone_else.value.code() == grpc.StatusCode.PERMISSION_DENIED
    stub = worker_pb2_grpc.OpenLoRAStub(grpc.insecure_channel(endpoint))
    now = int(time.time())
    forged = wp.PaidStreamRequest(request=request_id, requester=REQUESTER.public, issued_at=now,  # not its key
                                  signature=Keypair.from_uri("//Bob").sign(
                                      stream_read_message(client.genesis_hash, request_id, REQUESTER.public, now)))
    stale = wp.PaidStreamRequest(request=request_id, requester=REQUESTER.public, issued_at=now - 3600,
                                 signature=REQUESTER.sign(stream_read_message(client.genesis_hash, request_id,
                                                                              REQUESTER.public, now - 3600)))
    for refused in (forged, stale):
        with pytest.raises(grpc.RpcError) as caught:
            list(stub.StreamPaid(refused, timeout=30))
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    events = list(stream_tokens(client, REQUESTER, request_id, endpoint))
    assert events[-1].HasField("end") and not events[-1].end.error and len(events) == events[-1].end.output_tokens + 1
    assert wait_closed(client, request_id)[1] is not None


def test_an_adapter_whose_bytes_do_not_match_its_hash_is_refused_and_the_request_refunded(world):
    """A model record pointing at a manifest whose adapter weights do not hash to what it lists."""
    from studio.generation import request_generation, stream_tokens, wait_closed

    client = world["client"]
    genuine = client.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=world["models"][2]), mr.Model)
    manifest = read_manifest(client, genuine.artifact_hash)
    forged = content_pb2.Manifest()
    forged.CopyFrom(manifest)
    weights = next(f for f in forged.files if f.path.endswith(".safetensors"))
    weights.hash = bytes(32)  # the parts are the real ones; the file they make is not what the manifest says
    forged_hash = client.upload(manifest_bytes(forged), uploader=UPLOADER).hash
    record = mr.RegisterModel(base_model=genuine.base_model, snapshots=genuine.snapshots,
                              training_config_hash=genuine.training_config_hash, artifact_hash=forged_hash,
                              attribution_method=genuine.attribution_method,
                              attribution_index_hash=genuine.attribution_index_hash,
                              span_weight_bps=genuine.span_weight_bps, price_per_inference=genuine.price_per_inference,
                              price_per_input_token=genuine.price_per_input_token,
                              price_per_output_token=genuine.price_per_output_token, split=genuine.split,
                              format=mr.PEFT_LORA)
    alice = Keypair.from_uri("//Alice")
    result = client.submit_and_wait(client.sign(alice, client.call_with("modelregistry", "register_model", record)))
    assert result.success, result.error
    from cli.common import created

    model_id = created(client, result, "ModelRegistered", mr.ModelEvent).model
    before = _balance(client, REQUESTER)
    request_id = request_generation(client, REQUESTER, model_id, "upper: class def", max_new_tokens=8)
    events = list(stream_tokens(client, REQUESTER, request_id))
    assert len(events) == 1 and "does not match its hash" in events[0].end.error
    request, settlement = wait_closed(client, request_id, timeout=60)
    # both workers refused, signed (the adapter is unavailable: an abstention): closed at once, nobody slashed
    assert request.status == inf.REFUSED and request.refused == inf.ARTIFACT_UNAVAILABLE
    assert settlement is not None and decode_u128(settlement.fee) == 0 and not settlement.slashed_workers
    after = _balance(client, REQUESTER)
    assert decode_u128(after.reserved) == 0
    assert decode_u128(before.free) - decode_u128(after.free) == _tx_fees(client, [request_id])  # all refunded


def test_a_request_longer_than_the_base_model_s_context_is_refused_with_the_reason_and_refunded(world):
    """The tiny base holds 512 positions (its record says so): 512 new tokens leave no room for a prompt, and
    the chain refuses them before any fee is taken or anything escrowed; 511 pass the chain (sent past the
    clients' own token count), but with the prompt they cannot fit, so no worker generates past what the
    base was made for: the stream ends saying why, both replicas submit the same signed refusal, and the
    request closes REFUSED with its numbers - the requester pays only the workers' part of the flat fee,
    and no worker is slashed for being right."""
    from studio.generation import request_generation, stream_tokens, wait_closed

    client = world["client"]
    before = _balance(client, REQUESTER)
    with pytest.raises(ClientError, match="ContextExceeded: max_new_tokens 512 leaves no room for a prompt: "
                                          "model .*'s base holds 512"):
        request_generation(client, REQUESTER, world["models"][1], "upper: class def", max_new_tokens=512)
    assert _balance(client, REQUESTER) == before  # nothing escrowed, no fee taken
    workers = [Keypair.from_uri(w.key).public for w in world["workers"]]
    bonds = [client.pallet_query("inference", "get_worker", inf.WorkerRef(worker=w), inf.Worker).bond
             for w in workers]
    request_id = request_generation(client, REQUESTER, world["models"][1], "upper: class def", max_new_tokens=511)
    events = list(stream_tokens(client, REQUESTER, request_id))
    assert len(events) == 1 and "511 new tokens need" in events[0].end.error
    assert "the base model's context is 512" in events[0].end.error
    request, settlement = wait_closed(client, request_id, timeout=60)
    assert request.status == inf.REFUSED and request.refused == inf.CONTEXT_EXCEEDED
    assert (settlement.refused, settlement.max_new_tokens, settlement.limit) == (inf.CONTEXT_EXCEEDED, 511, 512)
    assert settlement.input_tokens + 511 > 512 and not settlement.slashed_workers
    assert sorted(settlement.agreeing_workers) == sorted(request.workers)  # the replicas agreed byte for byte
    model = client.pallet_query("modelregistry", "get_model", mr.ModelRequest(model=world["models"][1]), mr.Model)
    worker_part = decode_u128(model.price_per_inference) * model.split.worker // 10_000
    assert decode_u128(settlement.fee) == worker_part > 0
    assert decode_u128(settlement.refund) == decode_u128(request.escrow) - worker_part
    assert [client.pallet_query("inference", "get_worker", inf.WorkerRef(worker=w), inf.Worker).bond
            for w in workers] == bonds  # nobody slashed
    after = _balance(client, REQUESTER)
    assert decode_u128(after.reserved) == 0
    assert decode_u128(before.free) - decode_u128(after.free) == _tx_fees(client, [request_id]) + worker_part


def test_a_worker_killed_mid_stream_leaves_the_request_to_expire_and_be_refunded_once(world):
    """Replicated: the other worker answers, but without every assigned result nothing settles; at the deadline
    the requester gets the escrow back and the dead worker is penalised - and after it restarts, it does not
    answer the expired request, so nothing settles twice."""
    from studio.generation import request_generation, stream_tokens, wait_closed

    client, eve = world["client"], world["workers"][0]
    before = _balance(client, REQUESTER)
    os.kill(eve.proc.pid, signal.SIGSTOP)  # frozen until the request is on chain, so it cannot finish first
    try:
        request_id = request_generation(client, REQUESTER, world["models"][1], "Explain builtins.print in detail.",
                                        max_new_tokens=200)
        reader = stream_tokens(client, REQUESTER, request_id, eve.target, timeout=60)
        os.kill(eve.proc.pid, signal.SIGCONT)
        first = next(reader)
        eve.kill()  # SIGKILL as soon as the first token arrives: mid-stream
    finally:
        if eve.proc.poll() is None:
            os.kill(eve.proc.pid, signal.SIGCONT)
    assert first.HasField("token")
    with pytest.raises(grpc.RpcError):
        for event in reader:
            assert not event.HasField("end"), "the killed worker finished its stream"
    request, settlement = wait_closed(client, request_id, timeout=120)
    assert settlement is None and request.status == inf.EXPIRED
    expired = [inf.RequestExpired.FromString(e.data) for e in client.events(request.deadline).events
               if e.name == "RequestExpired"]
    assert [(x.request, decode_u128(x.refunded)) for x in expired] == [(request_id, decode_u128(request.escrow))]
    assert list(expired[0].penalised) == [Keypair.from_uri(eve.key).public]
    eve.start()  # back on the same data: it catches up on the blocks it missed, and must not answer
    best = client.chain_info().best_number
    status = worker_pb2_grpc.WorkerInfoStub(eve.channel())
    wait_until(lambda: status.Status(wp.StatusRequest()).followed_block >= best, timeout=120,
               message=f"the restarted worker following the chain up to block {best}")
    request = client.pallet_query("inference", "get_request", inf.RequestRef(request=request_id), inf.Request)
    assert request.status == inf.EXPIRED and Keypair.from_uri(eve.key).public not in request.answered
    with pytest.raises(ClientError):
        client.pallet_query("attribution", "get_settlement", at.SettlementRequest(request=request_id), at.Settlement)
    after = _balance(client, REQUESTER)
    assert decode_u128(after.reserved) == 0
    assert decode_u128(before.free) - decode_u128(after.free) == _tx_fees(client, [request_id])
