"""What a client in another language or a generic tool (grpcurl, grpc-js, Postman) meets on both gRPC servers,
the node's (asyncio) and the worker's (thread pool), in real processes: a request message that does not parse
is INVALID_ARGUMENT naming its type - unary and server-streaming, typed services and the pallets' generic
query handlers - not UNKNOWN with a Python exception; health's List lists every service; reflection finds a
method by its full name (`grpcurl describe pkg.Service.Method`) and still answers NOT_FOUND for none; a burst of
calls on one connection is answered, not cancelled."""

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from runtime.crypto import Keypair
from sdk.client import ClientError

pytestmark = pytest.mark.e2e

GARBAGE = b"\xff\xff\xff\xff\x0f"  # a field key whose varint never ends: no message of any type


def _refused_as_malformed(channel: grpc.Channel, method: str, kind: str, streaming: bool = False) -> None:
    call = (channel.unary_stream if streaming else channel.unary_unary)(method)
    with pytest.raises(grpc.RpcError) as info:
        answer = call(GARBAGE, timeout=10)
        if streaming:
            next(answer)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, info.value)
    assert f"not a valid {kind} message" in info.value.details(), info.value.details()
    assert "<class" not in info.value.details()


def _health_lists(channel: grpc.Channel, services: set[str]) -> None:
    listed = health_pb2_grpc.HealthStub(channel).List(health_pb2.HealthListRequest(), timeout=10).statuses
    assert services | {""} <= set(listed)
    assert {listed[name].status for name in services} == {health_pb2.HealthCheckResponse.SERVING}


def _reflection_finds_methods(channel: grpc.Channel, method: str, file: str) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    asked = [reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
             for symbol in (method, "grpc.health.v1.Health.Check", method + "Nope")]
    found, health, missing = stub.ServerReflectionInfo(iter(asked), timeout=10)
    names = [descriptor_pb2.FileDescriptorProto.FromString(raw).name
             for raw in found.file_descriptor_response.file_descriptor_proto]
    assert file in names
    assert health.file_descriptor_response.file_descriptor_proto
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


def test_the_nodes_grpc_server_for_outside_clients(start_node):
    node = start_node("dev", "--dev", "--instant-seal")
    channel = grpc.insecure_channel(node.target)
    grpc.channel_ready_future(channel).result(timeout=60)
    _refused_as_malformed(channel, "/payable.node.v1.Node/SubmitExtrinsic", "payable.node.v1.SubmitRequest")
    _refused_as_malformed(channel, "/payable.node.v1.Node/GetAccount", "payable.node.v1.AccountRequest")
    _refused_as_malformed(channel, "/payable.node.v1.Node/SubmitAndWatch", "payable.node.v1.SubmitRequest",
                          streaming=True)
    _refused_as_malformed(channel, "/payable.token.v1.TokenQuery/Account", "payable.token.v1.AccountRequest")
    _health_lists(channel, {"payable.node.v1.Node", "payable.token.v1.TokenQuery"})
    _reflection_finds_methods(channel, "payable.node.v1.Node.GetBlock", "payable/node/v1/node.proto")
    with node.client() as client:  # the server still answers, and a zero transfer costs nothing to refuse
        alice, bob = Keypair.from_uri("//Alice"), Keypair.from_uri("//Bob")
        before = client.account_data(alice.public)[0].free
        zero = client.sign(alice, client.call("token", "transfer", dest=bob.public, amount=0))
        with pytest.raises(ClientError, match="rejected_by_pallet.*token.ZeroAmount"):
            client.submit(zero)
        assert client.account_data(alice.public)[0].free == before and client.nonce(alice.public) == 0
        assert client.submit_call(alice, "token", "transfer_keep_alive", dest=bob.public, amount="1").success
        assert client.submit_call(alice, "datanet", "create_datanet", name="facts", domain="facts",
                                  license="CC-BY-4.0", accepted_formats=["text"], contribution_deposit="1").success
    _asked_about_nothing_is_not_found(channel)
    channel.close()


def _asked_about_nothing_is_not_found(channel: grpc.Channel) -> None:
    """What a well-formed query asks about does not exist: NOT_FOUND saying what (a client retrying on
    INVALID_ARGUMENT would think its request malformed); a real question the chain answers no stays
    INVALID_ARGUMENT."""
    from payable.attribution.v1 import attribution_pb2, attribution_pb2_grpc
    from payable.datanet.v1 import datanet_pb2, datanet_pb2_grpc

    attribution, datanet = attribution_pb2_grpc.AttributionQueryStub(channel), datanet_pb2_grpc.DataNetQueryStub(
        channel)
    for call, request, words in (
            (attribution.GetSettlement, attribution_pb2.SettlementRequest(request=99), "request 99 has no settlement"),
            (attribution.GetResult, attribution_pb2.ResultRequest(request=99, worker=bytes(32)), "request 99"),
            (datanet.GetSnapshot, datanet_pb2.SnapshotRequest(datanet=1, version=3), "no snapshot version 3"),
            (datanet.GetSnapshot, datanet_pb2.SnapshotRequest(datanet=1), "no snapshot version 0"),
            (datanet.GetMembership, datanet_pb2.ProofRequest(datanet=1, version=1, contribution=1), "version 1"),
            (datanet.GetSnapshot, datanet_pb2.SnapshotRequest(datanet=7, version=1), "7")):
        with pytest.raises(grpc.RpcError) as missing:
            call(request, timeout=30)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND and words in missing.value.details()


def test_a_burst_of_calls_on_one_connection_is_answered_not_cancelled(start_node):
    """4,000 calls sent at once on one connection (a script's asyncio.gather, a load test): each is answered.
    With gRPC's default bounds on calls the server has not taken up yet, hundreds were cancelled."""
    from payable.node.v1 import node_pb2, node_pb2_grpc

    node = start_node("dev", "--dev", "--instant-seal")
    channel = grpc.insecure_channel(node.target)
    grpc.channel_ready_future(channel).result(timeout=60)
    stub = node_pb2_grpc.NodeStub(channel)
    calls = [stub.GetChainInfo.future(node_pb2.ChainInfoRequest(), timeout=120) for _ in range(4000)]
    failed = []
    for call in calls:
        try:
            call.result()
        except grpc.RpcError as exc:
            failed.append(exc.code())
    channel.close()
    assert not failed, f"{len(failed)} of 4000 failed: {set(failed)}"


def test_the_workers_grpc_server_for_outside_clients(worker_channel):
    _refused_as_malformed(worker_channel, "/payable.worker.v1.Gradient/Infer", "payable.worker.v1.InferRequest")
    _health_lists(worker_channel, {"payable.worker.v1.Gradient", "payable.worker.v1.OpenLoRA"})
    _reflection_finds_methods(worker_channel, "payable.worker.v1.Gradient.Infer", "payable/worker/v1/worker.proto")
