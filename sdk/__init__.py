"""What every client of the chain shares, and the chain shares with them: the gRPC client (`client`),
encodings both sides of the wire must compute identically (`wire`), artifact manifests (`artifacts`),
the gRPC server plumbing the node and the worker both serve through (`grpcserver`), and how a Hugging
Face model directory is described (`hf_directory`).

It sits above `runtime/` (it signs extrinsics with the runtime's crypto and decodes its metadata) and
below everything else; it imports no pallet, and no pallet's protobuf types.
"""
