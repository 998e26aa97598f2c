"""The training loss computed for less (`trainer.token_loss`: the head on labelled positions only, a batch's
shared prefix run once) is the model's own loss, with the same gradients, on rows that share a prefix, rows
that do not, padded rows and a single row."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("peft")

from gpu_worker.finetune import trainer
from gpu_worker.finetune.config import TrainingConfig
from gpu_worker.finetune.dataset import DatasetSpec
from gpu_worker.rows import IGNORE, Example, Row, collate

PAD = 0


def _model():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(3)
    config = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         tie_word_embeddings=True)
    model = trainer.lora_model(LlamaForCausalLM(config).eval(),
                               TrainingConfig(base_model="ab" * 32, dataset=DatasetSpec(snapshots=((1, 1),))))
    with torch.no_grad():  # LoRA's B starts at zero; non-zero factors make every gradient matter
        for p in model.parameters():
            if p.requires_grad:
                p.normal_(0, 0.2)
    return model.train()


def _example(ids: list[int], prompt: int) -> Example:
    return Example(Row(1, bytes(32), 1), "", tuple(ids), tuple([IGNORE] * prompt + ids[prompt:]))


def _loss_and_grads(model, loss_fn):
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.grad = None
    loss = loss_fn()
    loss.backward()
    return loss.item(), torch.cat([p.grad.flatten() for p in params])


PREFIX = [5, 6, 7, 8, 9, 10]
BATCHES = {
    "shared prefix, padded": [_example(PREFIX + [11, 12, 13, 14], 7), _example(PREFIX + [20, 21], 6),
                              _example(PREFIX + [30, 31, 32, 33, 34, 35], 8)],
    "no shared prefix": [_example([1, 2, 3, 4, 5], 2), _example([9, 8, 7, 6], 1)],
    "identical rows": [_example(PREFIX + [40], 6), _example(PREFIX + [40], 6)],
    "one row": [_example(PREFIX + [50, 51], 5)],
}


@pytest.mark.parametrize("name", sorted(BATCHES))
def test_token_loss_is_the_models_own_loss_with_the_same_gradients(name):
    model = _model()
    batch = collate(BATCHES[name], PAD, "cpu")
    own, own_grads = _loss_and_grads(model, lambda: model(**batch, use_cache=False).loss)
    ours, our_grads = _loss_and_grads(model, lambda: trainer.token_loss(model, batch)[0])
    assert ours == pytest.approx(own, rel=1e-5)
    assert float((our_grads - own_grads).norm() / own_grads.norm()) < 1e-4
    assert trainer.token_loss(model, batch)[1] == int((batch["labels"][:, 1:] != IGNORE).sum())


def test_shared_prefix_counts_the_common_real_tokens_only():
    prefix = {name: trainer.shared_prefix(collate(rows, PAD, "cpu")) for name, rows in BATCHES.items()}
    assert prefix == {"shared prefix, padded": 6, "no shared prefix": 0, "identical rows": 6, "one row": 0}
