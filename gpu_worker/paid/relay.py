"""The decode relay: the engine's tokens into a paid stream, each with the text it completes."""

from __future__ import annotations

from .streams import PaidStream


def relay(job, stream: PaidStream, tokenizer) -> list[int]:
    """Move the engine's tokens into the stream until the job ends; returns them. Only the tokens since
    the last line break are decoded again (so a long generation does not re-decode all it made), and a
    token that ends inside a multi-byte character sends no text until the character is whole."""
    output, line, shown = [], [], 0
    while True:
        token = job.tokens.get()
        if token is None:
            return output
        output.append(token)
        line.append(token)
        text = tokenizer.decode(line, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            stream.push(token, "")
            continue
        stream.push(token, text[shown:])
        line, shown = ([], 0) if text.endswith("\n") else (line, len(text))
