"""How a user's prompt is rendered for an adapter: the one function the worker generates from and every
client counts tokens with.

A paid generation is bounded by the base's context: the worker refuses a prompt that, rendered with the
adapter's training template and tokenized by the base's tokenizer, leaves no room for the new tokens asked
for. A client that wants to refuse such a prompt before paying (studio.prompt_tokens) must render it
byte for byte as the worker does, so the rendering lives here, below both, rather than in a copy on each side.
`prompt_text` takes any tokenizer with the Hugging Face interface (only a `chat` template uses it);
`recorded_template` reads the template out of a model's recorded training config.
"""

from __future__ import annotations

import json

from .modelfactory import DEFAULT_TEMPLATE

TEMPLATES = {
    # name: (prompt prefix, prompt suffix before the response); "chat" uses the tokenizer's own template
    "alpaca": ("### Instruction:\n", "\n\n### Response:\n"),
    "plain": ("", "\n"),
    "qa": ("Question: ", "\nAnswer: "),
}


def prompt_text(tokenizer, prompt: str, template: str) -> str:
    """A user's prompt as the adapter saw prompts in training (its template), ready for its response."""
    if template == "chat" and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)
    before, after = TEMPLATES.get(template, TEMPLATES["plain"])
    return before + prompt + after


def recorded_template(config_json: bytes | str) -> str:
    """The template a recorded ModelFactory training config renders prompts with (its `dataset.template`,
    ModelFactory's default when the config leaves it out) - what the worker serving the adapter applies."""
    return json.loads(config_json)["dataset"].get("template", DEFAULT_TEMPLATE)
