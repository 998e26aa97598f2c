"""What every client of the chain shares, and the chain shares with them: the gRPC client (`client`),
encodings both sides of the wire must compute identically (`wire`), artifact manifests (`artifacts`),
the gRPC server plumbing the node and the worker both serve through (`grpcserver`), how a Hugging
Face model directory is described (`hf_directory`), and what a ModelFactory job defaults to and accepts
(`modelfactory`: the worker validates against it, the studio and the CLI offer it).

It sits above `runtime/` (it signs extrinsics with the runtime's crypto and decodes its metadata) and
below everything else; it imports no pallet, and no pallet's protobuf types.
"""
