"""The decode relay: the engine's tokens into a paid stream, each with the text it completes, its own bytes
and its log-probabilities."""

from __future__ import annotations

from functools import cache

from payable.worker.v1 import worker_pb2 as pb

from .streams import PaidStream


def relay(job, stream: PaidStream, tokenizer, stops: frozenset[int]) -> list[int]:
    """Move the engine's tokens into the stream until the job ends; returns them. A token of `stops` (what the
    engine stops on) is marked as such. Only the tokens since the last line break are decoded again (so a
    long generation does not re-decode all it made), and a token that ends inside a multi-byte character
    sends no text until the character is whole. The engine puts a token's log-probabilities in
    `job.logprobs` before the token itself."""
    output, line, shown = [], [], 0
    while True:
        token = job.tokens.get()
        if token is None:
            return output
        message = pb.GeneratedToken(token=token, index=len(output), stop=token in stops)
        if len(job.logprobs) > len(output):
            found = job.logprobs[len(output)]
            ids = [token, *(t for t, _ in found.top)]
            pieces = token_pieces(tokenizer, ids)
            message.piece, message.logprob = pieces[0], found.logprob
            message.top_logprobs.extend(pb.TokenAlternative(token=t, piece=piece, logprob=logprob)
                                        for (t, logprob), piece in zip(found.top, pieces[1:], strict=True))
        output.append(token)
        line.append(token)
        text = tokenizer.decode(line, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            stream.push(message)
            continue
        message.text = text[shown:]
        stream.push(message)
        line, shown = ([], 0) if text.endswith("\n") else (line, len(text))


@cache
def byte_level_alphabet() -> dict[str, int]:
    """GPT-2's byte-level BPE alphabet, character to byte: printable bytes stand for themselves, the others
    for the characters from U+0100 on, in order (what `tokenizers.pre_tokenizers.ByteLevel` uses)."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    moved = [b for b in range(256) if b not in kept]
    return {**{chr(b): b for b in kept}, **{chr(256 + i): b for i, b in enumerate(moved)}}


def token_pieces(tokenizer, ids: list[int]) -> list[bytes]:
    """Each token's own bytes: exact for a byte-level BPE vocabulary (LLaMA 3's, GPT-2's, SmolLM's: it holds
    "Ġ", the space byte); for any other, the token decoded alone, as UTF-8."""
    alphabet = byte_level_alphabet()
    byte_level = tokenizer.convert_tokens_to_ids("Ġ") not in (None, tokenizer.unk_token_id)
    out = []
    for token, name in zip(ids, tokenizer.convert_ids_to_tokens(ids), strict=True):
        if byte_level and name is not None and all(c in alphabet for c in name):
            out.append(bytes(alphabet[c] for c in name))
        else:
            out.append(tokenizer.decode([token]).encode())
    return out
