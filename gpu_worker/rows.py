"""Fine-tuning rows as token sequences: what ModelFactory trains on and what LoRA attribution credits.

Shared by the engines that both read a fine-tune's rows - `finetune/` (which maps DataNet files to
rows and renders them) and `gradient/` (LoRA-gradient influence over the same rows) - so neither
imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

IGNORE = -100  # a label position that takes no loss (the prompt, padding)


@dataclass(frozen=True)
class Row:
    """One mapped row before templating: a chat (list of role/content) or a plain text."""
    contribution_id: int
    contributor: bytes
    line: int
    messages: tuple[tuple[str, str], ...] = ()
    text: str = ""


@dataclass(frozen=True)
class Example:
    row: Row
    rendered: str            # the text after the template, as the model sees it
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]  # IGNORE where no loss is taken (the prompt)
    # per position, what its label's loss counts for when attribution reads the row's gradient (a reading that
    # weighs some answer tokens less: gradient/echoes.py); None: every labelled token fully. Training ignores it.
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.input_ids):
            raise ValueError(f"an example has a label per token: {len(self.labels)} labels, "
                             f"{len(self.input_ids)} tokens")
        if self.weights is not None and len(self.weights) != len(self.labels):
            raise ValueError(f"an example has a weight per label: {len(self.weights)} weights, "
                             f"{len(self.labels)} labels")

    @property
    def trained_tokens(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


def collate(examples: list[Example], pad_id: int, device) -> dict[str, torch.Tensor]:
    """A padded batch: input ids, labels (IGNORE past each example) and the attention mask; and, when an
    example carries weights, every example's per-position weights (1 where one carries none)."""
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        ids[i, : len(e.input_ids)] = torch.tensor(e.input_ids)
        labels[i, : len(e.labels)] = torch.tensor(e.labels)
        mask[i, : len(e.input_ids)] = 1
    batch = {"input_ids": ids.to(device), "labels": labels.to(device), "attention_mask": mask.to(device)}
    if any(e.weights is not None for e in examples):
        weights = torch.ones((len(examples), width), dtype=torch.float32)
        for i, e in enumerate(examples):
            if e.weights is not None:
                weights[i, : len(e.weights)] = torch.tensor(e.weights, dtype=torch.float32)
        batch["weights"] = weights.to(device)
    return batch
