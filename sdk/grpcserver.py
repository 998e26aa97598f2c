"""Starting a gRPC server the way every Payable server starts: on loopback, with the standard health
service and server reflection, under the one message-size limit that servers and the SDK share.

Reflection is served under both names clients ask for: `grpc.reflection.v1` (what current grpcurl,
Postman and grpc-js clients try first) and the older `grpc.reflection.v1alpha`. grpcio-reflection
ships only the v1alpha servicer; the v1 protocol is the same messages under another package name, so
the v1 service is that servicer behind a second method name, with its descriptor registered under
the v1 name so a client can describe it too.
"""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_reflection.v1alpha import reflection_pb2 as v1alpha

from runtime.weights import MAX_WIRE_MESSAGE

MAX_MESSAGE = MAX_WIRE_MESSAGE  # every server's receive/send limit and the SDK's receive limit
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"
MESSAGE_OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)]


def _register_v1_descriptor() -> None:
    """Add `grpc/reflection/v1/reflection.proto` to the default pool (v1alpha's file, renamed)."""
    pool = descriptor_pool.Default()
    try:
        pool.FindServiceByName(REFLECTION_V1)
        return
    except KeyError:
        pass
    file = descriptor_pb2.FileDescriptorProto()
    v1alpha.DESCRIPTOR.CopyToProto(file)
    file.name, file.package = "grpc/reflection/v1/reflection.proto", "grpc.reflection.v1"
    for message in file.message_type:
        for field in message.field:
            if field.type_name.startswith(".grpc.reflection.v1alpha."):
                field.type_name = field.type_name.replace(".v1alpha.", ".v1.", 1)
    for service in file.service:
        for method in service.method:
            method.input_type = method.input_type.replace(".v1alpha.", ".v1.", 1)
            method.output_type = method.output_type.replace(".v1alpha.", ".v1.", 1)
    pool.Add(file)


def _reflection_v1_handler(servicer: reflection.ReflectionServicer) -> grpc.GenericRpcHandler:
    method = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo, request_deserializer=v1alpha.ServerReflectionRequest.FromString,
        response_serializer=v1alpha.ServerReflectionResponse.SerializeToString)
    return grpc.method_handlers_generic_handler(REFLECTION_V1, {"ServerReflectionInfo": method})


def start_with_health_and_reflection(server: grpc.Server, services: list[str], port: int) -> tuple[grpc.Server, int]:
    """Add health and reflection (v1 and v1alpha) for `services`, bind 127.0.0.1:port (0 picks a free
    port), start, and mark everything SERVING; returns (server, bound port)."""
    _register_v1_descriptor()
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [*services, health.SERVICE_NAME, reflection.SERVICE_NAME, REFLECTION_V1]
    reflection.enable_server_reflection(names, server)
    server.add_generic_rpc_handlers([_reflection_v1_handler(reflection.ReflectionServicer(names))])
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    if bound == 0:
        raise OSError(f"could not bind 127.0.0.1:{port} for gRPC")
    server.start()
    for name in ["", *services]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, bound
