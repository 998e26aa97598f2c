"""The ABCI v0.38 protobuf types, generated at set-up from CometBFT's own module (`node.abci.install`)."""

from __future__ import annotations

try:
    from tendermint.abci import types_pb2 as abci
    from tendermint.crypto import keys_pb2 as keys
    from tendermint.crypto import proof_pb2 as proof
    from tendermint.types import params_pb2 as params
    from tendermint.types import validator_pb2
except ImportError as exc:  # pragma: no cover - a set-up problem, reported as such
    raise ImportError("the CometBFT ABCI types are not generated: run `make cometbft` "
                      "(python -m node.abci.install)") from exc

__all__ = ["abci", "keys", "params", "proof", "validator_pb2"]
