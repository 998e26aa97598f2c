"""The signed result of one paid generation: its credit as exact shares, with its spans and counts."""

from __future__ import annotations

import numpy as np

from payable.attribution.v1 import attribution_pb2 as at
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.modelregistry.v1.methods import ADAPTER_METHOD_NAMES
from runtime.crypto import Keypair, blake2_256
from sdk.wire import request_id_bytes

from ..adapter_index import AdapterIndex, Credit
from ..results import MAX_LISTED, build_result, credit_shares


def output_hash(output: list[int]) -> bytes:
    """What a generation's result and its stream's end bind: blake2b-256 of the tokens as little-endian u32."""
    return blake2_256(np.array(output, dtype="<u4").tobytes())


def sign_generation(key: Keypair, index: AdapterIndex, credit: Credit, request: inf.Request, model: mr.Model,
                    prompt: list[int], output: list[int], draw_seed: bytes) -> at.SignedAttribution:
    """The result, signed by `key`, with the token counts the request is charged for, naming `draw_seed` (the
    hash of the block that included the request)."""
    rid = request_id_bytes(request.id)
    shares = credit_shares(credit.rows, index.row_contribution, MAX_LISTED, paid_fraction=credit.paid_fraction)
    ids = [cid for cid, _ in index.contributions]
    spans = [at.Span(start=s.start, length=s.length, count=s.count,
                     contribution_ids=sorted({ids[index.row_contribution[d]] for d in s.documents}))
             for s in credit.spans]
    return build_result(model_hash=model.artifact_hash, index_hash=model.attribution_index_hash,
                        input_hash=request.input_hash, output_hash=output_hash(output),
                        method=ADAPTER_METHOD_NAMES[model.attribution_method], params=index.params(), shares=shares,
                        contributions=index.contributions, worker=key, request_id=rid, spans=spans,
                        tokens=(len(prompt), len(output)), draw_seed=draw_seed)
