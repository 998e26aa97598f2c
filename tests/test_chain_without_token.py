"""A chain without the token pallet, served by a real node process: the node, the SDK and reflection
name no pallet, so they work with whatever the chain spec loads."""

from __future__ import annotations

import json

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2

from payable.system.v1 import system_pb2
from runtime.crypto import Keypair

pytestmark = pytest.mark.e2e


def test_a_system_only_chain_serves_accounts_calls_and_reflection(tmp_path, start_node):
    spec = tmp_path / "bare.json"
    spec.write_text(json.dumps({"name": "Bare", "id": "bare", "pallets": ["system"],
                                "runtime": {"fees": {"base_fee": 0, "byte_fee": 0, "fee_per_ns": 0}}}))
    node = start_node("bare", "--chain", str(spec), "--instant-seal")
    alice = Keypair.from_uri("//Alice")
    with node.client() as client:
        assert list(client.chain_info().pallets) == ["system"]
        result = client.submit_call(alice, "system", "remark", data=b"no token here")
        assert result.success
        account = client.account(alice.public)
        assert account.nonce == 1 and account.free == b"" and account.reserved == b""  # no pallet holds balances
        nonce = client.pallet_query("system", "nonce", system_pb2.NonceRequest(account=alice.public),
                                    system_pb2.AccountNonce)
        assert nonce.nonce == 1
    with grpc.insecure_channel(node.target) as channel:
        for version in ("v1", "v1alpha"):
            call = channel.stream_stream(f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
                                         request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                                         response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
            listed = next(call(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
            names = {s.name for s in listed.list_services_response.service}
            assert {"payable.node.v1.Node", "payable.system.v1.SystemQuery", "grpc.health.v1.Health",
                    "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"} <= names
            described = next(call(iter([reflection_pb2.ServerReflectionRequest(
                file_containing_symbol="grpc.reflection.v1.ServerReflection")]), timeout=10))
            assert described.file_descriptor_response.file_descriptor_proto, version
