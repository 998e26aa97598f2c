"""The paid engine: one paid generation from request to signed result, over the pieces beside it."""

from __future__ import annotations

from payable.attribution.v1 import attribution_pb2 as at
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.worker.v1 import worker_pb2 as pb
from runtime.crypto import Keypair
from sdk.client import Client

from ..errors import ArtifactError
from ..finetune.dataset import prompt_text
from ..lora.engine import LoRAEngine
from ..lora.sampling import Sampler, requester_seed, seed_for
from ..rows import IGNORE, Example, Row
from .attributor import Attributor
from .models import Served, ServedModels
from .reads import ReadAuthenticator
from .refusal import Refused, sign_refusal
from .relay import relay
from .signing import output_hash, sign_generation
from .streams import PaidStream, StreamRegistry

DEFAULT_NEW_TOKENS = 64


class PaidEngine:
    def __init__(self, key: Keypair, lora: LoRAEngine, models: ServedModels, attributor: Attributor,
                 streams: StreamRegistry, reads: ReadAuthenticator):
        self.key, self.lora, self.models, self.attributor = key, lora, models, attributor
        self.streams, self.reads = streams, reads

    # --- streams ---------------------------------------------------------------------------------
    def expect(self, request: inf.Request) -> PaidStream:
        """Open the request's stream (before generation starts, so its requester may connect at once)."""
        return self.streams.expect(request.id, bytes(request.requester))

    def open_stream(self, request_id: int, requester: bytes, issued_at: int, signature: bytes) -> PaidStream:
        """The stream, if the caller proves to be the request's requester; else StreamRefused."""
        self.reads.check(request_id, requester, issued_at, signature)
        return self.streams.open(request_id, requester)

    # --- answering -------------------------------------------------------------------------------
    def answer(self, client: Client, request: inf.Request, model: mr.Model) -> at.SignedAttribution:
        """Generate (streaming), attribute and sign; the stream ends with the counts, or the error."""
        stream = self.expect(request)
        try:
            served, prompt, new_tokens = self._admit(client, request, model)
            sampling = request.sampling
            seed = (requester_seed(sampling.seed) if sampling.HasField("seed") else
                    seed_for(request.id, request.input_hash, request.created_at))
            sampler = Sampler(sampling.temperature_milli / 1000, (sampling.top_p_milli or 1000) / 1000, seed)
            tokenizer, stops = served.tokenizer, frozenset({served.tokenizer.eos_token_id})
            job = self.lora.submit_paid(served.base, served.adapter, prompt, new_tokens, sampler, stops)
            output = relay(job, stream, tokenizer, stops)
            if job.error:
                raise ArtifactError(f"request {request.id}: {job.error}")
            signed = self.attribute(served, request, model, prompt, output, request.draw_seed)
        except (ArtifactError, ValueError, KeyError, OSError, RuntimeError) as exc:  # the stream says why
            stream.close(pb.PaidStreamEnd(error=str(exc)))
            raise
        stream.close(pb.PaidStreamEnd(input_tokens=len(prompt), output_tokens=len(output),
                                      output_hash=output_hash(output)))
        return signed

    def decline(self, request: inf.Request, model: mr.Model, refused: Refused) -> at.SignedRefusal:
        """Refuse a request without generating (e.g. BUSY): its requester's stream ends saying why, and the
        signed refusal is returned for the chain."""
        self.expect(request).close(pb.PaidStreamEnd(error=str(refused)))
        return sign_refusal(self.key, request, model, refused)

    def _admit(self, client: Client, request: inf.Request, model: mr.Model) -> tuple[Served, list[int], int]:
        """The served model, the rendered prompt's tokens and the new tokens to make - or `Refused`, with the
        reason and numbers the chain checks: artifacts unavailable, input not UTF-8, the prompt over the
        request's input bound, or prompt and new tokens over the base's context."""
        try:
            served = self.models.get(client, model)
        except ArtifactError as exc:
            raise Refused(inf.ARTIFACT_UNAVAILABLE, f"request {request.id}: {exc}") from exc
        raw = request.input or client.download(request.input_hash, reader=self.key)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Refused(inf.INPUT_UNDECODABLE, f"request {request.id}: the prompt is not UTF-8 text") from exc
        tokenizer = served.tokenizer
        prompt = tokenizer.encode(prompt_text(tokenizer, text, served.template), add_special_tokens=False)
        if request.max_input_tokens and len(prompt) > request.max_input_tokens:
            raise Refused(inf.INPUT_OVER_BOUND, f"request {request.id}: the prompt is {len(prompt)} tokens; the "
                          f"request escrowed for at most {request.max_input_tokens}", input_tokens=len(prompt),
                          limit=request.max_input_tokens)
        new_tokens = request.max_new_tokens or DEFAULT_NEW_TOKENS
        context = self.lora.bases[served.base].runtime.max_positions  # what the base was made for
        if context is not None and len(prompt) + new_tokens > context:
            raise Refused(inf.CONTEXT_EXCEEDED, f"request {request.id}: a prompt of {len(prompt)} tokens and "
                          f"{new_tokens} new tokens need {len(prompt) + new_tokens} positions; the base model's "
                          f"context is {context}", input_tokens=len(prompt), max_new_tokens=new_tokens,
                          limit=context)
        return served, prompt, new_tokens

    def attribute(self, served: Served, request: inf.Request, model: mr.Model, prompt: list[int],
                  output: list[int], seed: bytes) -> at.SignedAttribution:
        """Credit the output to the adapter's fine-tuning rows and sign the result, naming `seed` (the hash of
        the block that included the request)."""
        query = Example(Row(0, b"", 0), "", tuple(prompt + output), tuple([IGNORE] * len(prompt) + output))
        credit = self.attributor.credit(served, query, output)
        return sign_generation(self.key, served.index, credit, request, model, prompt, output, seed)
