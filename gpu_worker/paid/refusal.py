"""A worker's signed refusal: "refused, and why", instead of silence (which the chain slashes).

`Refused` is raised wherever an answer cannot be made for a reason the chain knows (a closed list,
`payable.inference.v1.RefusalReason`) and carries the numbers behind it; `sign_refusal` turns it into the
`SignedRefusal` the follower submits. Only the request's own fields and those numbers are signed - no
free-form text - so replicas refusing for the same reason sign the same fields (the detail, for the
requester's stream and the log, stays off chain).
"""

from __future__ import annotations

from payable.attribution.v1 import attribution_pb2 as at
from payable.attribution.v1.refusal import refusal_message
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.crypto import Keypair
from sdk.wire import request_id_bytes

from ..errors import ArtifactError


class Refused(ArtifactError):
    """This worker will not answer the request, for `reason` (a RefusalReason), with its numbers."""

    def __init__(self, reason: int, detail: str, *, input_tokens: int = 0, max_new_tokens: int = 0, limit: int = 0):
        super().__init__(detail)
        self.reason, self.input_tokens, self.max_new_tokens, self.limit = reason, input_tokens, max_new_tokens, limit


def sign_refusal(key: Keypair, request: inf.Request, model: mr.Model, refused: Refused) -> at.SignedRefusal:
    """The refusal, signed by `key` over `REFUSAL_DOMAIN ‖ bytes` (deterministic encoding, as the chain wants)."""
    body = at.Refusal(request_id=request_id_bytes(request.id), model_hash=model.artifact_hash,
                      input_hash=request.input_hash, worker=key.public, reason=refused.reason,  # type: ignore[arg-type]
                      input_tokens=refused.input_tokens, max_new_tokens=refused.max_new_tokens,
                      limit=refused.limit).SerializeToString(deterministic=True)
    return at.SignedRefusal(refusal=body, signature=key.sign(refusal_message(body)))
