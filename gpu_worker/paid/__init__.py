"""Paid generation with an adapter: fetched by its on-chain hash, served by OpenLoRA, streamed to the
requester alone, attributed to the adapter's fine-tuning rows, and answered with a signed result.

For a request assigned to this worker for a `PEFT_LORA` model, `engine.PaidEngine.answer` (on a thread
of its own, so that concurrent requests - across adapters - share OpenLoRA's batches):
1. makes the model servable (`models.ServedModels`, once per adapter): base, adapter, attribution index
   and training config fetched from the node's content store by the hashes on chain, and checked;
2. renders and tokenizes the prompt - refusing, with a signed reason the chain checks (`refusal`), an
   adapter it cannot fetch, an input that is not text, a prompt beyond the request's input-token bound or
   one that with its new tokens does not fit the base's context - and queues it on
   the base's batch-invariant batcher with the adapter, greedy or sampled from the on-chain seed,
   stopping at end-of-sequence or `max_new_tokens`;
3. appends each token, with the text it completes (`relay`), to the request's stream (`streams`), which
   its requester reads over gRPC after proving, by a signature over the request id bound to the chain's
   genesis, that they are the requester (`reads`);
4. credits the output to the rows through the adapter's slot in its base's PEFT model (`attributor`)
   and signs the result with the token counts it is charged for (`signing`).
One job per module; `gpu_worker.worker.Worker` constructs them and passes each its dependencies.
"""

from .attributor import Attributor
from .engine import PaidEngine
from .models import Served, ServedModels
from .reads import ReadAuthenticator
from .refusal import Refused, sign_refusal
from .streams import PaidStream, StreamRefused, StreamRegistry

__all__ = ["Attributor", "PaidEngine", "PaidStream", "ReadAuthenticator", "Refused", "Served", "ServedModels",
           "StreamRefused", "StreamRegistry", "sign_refusal"]
