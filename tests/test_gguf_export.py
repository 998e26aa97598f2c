"""The GGUF LoRA export, loaded by llama.cpp: a tiny LLaMA base made here, converted to an f32 GGUF with
llama.cpp's convert_hf_to_gguf.py, a PEFT LoRA with random non-zero B factors (so the adapter matters),
exported by `export_gguf`, then llama.cpp's next-token logits (the llama-cpp-python binding, over the same
base weights) compared with transformers + PEFT's on several prompts.

Tolerance: |llama.cpp - PEFT| <= 1e-4 on every logit (all f32, the KV cache too; measured about 2e-6),
while the adapter moves the logits by more than 0.1, so a file that was not applied, or applied with the
wrong scale or permutation, fails. The binding and the converter come from `make test`'s set-up; without
them these tests fail saying so (never skip).
"""

from __future__ import annotations

import json
import math
import sys

import pytest

from gpu_worker.finetune import gguf_export
from gpu_worker.finetune.gguf_export import GGUFExportError
from sdk.model_documents import CardFacts, DatasetRef, model_card

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cpu-heavy")]

TOLERANCE = 1e-4
PROMPTS = ([1, 288, 259, 262, 260, 279], [1, 5, 100, 200, 150, 40, 41, 42, 43, 280, 281],
           [1, *range(260, 288)], [1, 7])
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _llama_cpp():
    try:
        import llama_cpp
    except ImportError as exc:
        pytest.fail(f"the llama-cpp-python binding is missing ({exc}): run `make test`'s set-up "
                    f"(pip install -e '.[dev,worker,studio]')")
    return llama_cpp


def _tools():
    try:
        gguf_export.converter()
        gguf_export.converter("convert_hf_to_gguf.py")
    except GGUFExportError as exc:
        pytest.fail(str(exc))


def _tokenizer(directory):
    """A LLaMA-2-style tokenizer (BPE with byte fallback, SentencePiece's ▁ for spaces), which llama.cpp's
    converter takes without a known pre-tokenizer hash."""
    from tokenizers import Tokenizer, decoders, models, normalizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(("<unk>", "<s>", "</s>"))}
    vocab.update({f"<0x{b:02X}>": 3 + b for b in range(256)})
    for piece in "▁abcdefghijklmnopqrstuvwxyz":
        vocab.setdefault(piece, len(vocab))
    merges = [("▁", "t"), ("h", "e"), ("▁t", "he")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    core.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    core.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                      decoders.Strip(" ", 1, 0)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    tokenizer.save_pretrained(directory)
    return len(vocab)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(base HF dir, base f32 GGUF, PEFT adapter dir): grouped-query attention, so the k permutation counts."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    _tools()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("gguf-export")
    base_dir = root / "base"
    vocab_size = _tokenizer(base_dir)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         tie_word_embeddings=False, initializer_range=0.1, bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(config).eval().save_pretrained(base_dir, safe_serialization=True)
    base_gguf = gguf_export.convert_base(base_dir, root / "base-f32.gguf", "f32")
    model = get_peft_model(LlamaForCausalLM.from_pretrained(base_dir),
                           LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, lora_dropout=0.0))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.2)
    adapter_dir = root / "adapter"
    model.save_pretrained(adapter_dir)
    return base_dir, base_gguf, adapter_dir


def _facts() -> CardFacts:
    return CardFacts(title="Payable job 7", license="Apache-2.0", base_model="tiny-llama", base_artifact="ab" * 32,
                     datasets=[DatasetRef(1, 2, "python docs", "CC-BY-4.0", "cd" * 32), DatasetRef(3, 1)],
                     eval_loss=1.25, base_eval_loss=2.5, eval_examples=10, train_examples=90,
                     adapter_hash="ef" * 32, training_config_hash="01" * 32, hyperparameters={"rank": 4})


def _peft_logits(base_dir, adapter_dir):
    import torch
    from peft import PeftModel
    from transformers import LlamaForCausalLM

    base = LlamaForCausalLM.from_pretrained(base_dir).eval()
    with torch.no_grad():
        plain = [base(torch.tensor([p])).logits[0, -1].numpy() for p in PROMPTS]
        tuned = PeftModel.from_pretrained(base, adapter_dir).eval()
        adapted = [tuned(torch.tensor([p])).logits[0, -1].numpy() for p in PROMPTS]
    return plain, adapted


def _llama_cpp_logits(base_gguf, lora_gguf):
    import numpy as np

    llama_cpp = _llama_cpp()
    # f32 KV cache: llama.cpp's default f16 cache alone differs from torch by ~1e-3
    llm = llama_cpp.Llama(model_path=str(base_gguf), lora_path=str(lora_gguf) if lora_gguf else None,
                          logits_all=True, n_ctx=64, n_threads=1, type_k=0, type_v=0, seed=0, verbose=False)
    out = []
    for prompt in PROMPTS:
        llm.reset()
        llm.eval(prompt)
        out.append(np.array(llm.scores[len(prompt) - 1]))
    llm.close()
    return out


def test_llama_cpp_applies_the_exported_adapter_as_peft_does(tiny, tmp_path):
    base_dir, base_gguf, adapter_dir = tiny
    before = {p.name: p.read_bytes() for p in adapter_dir.iterdir()}
    card = model_card(_facts(), "adapter-f32.gguf")
    done = gguf_export.export_gguf(base_dir, adapter_dir, tmp_path / "out", card)
    assert done["adapted_modules"] == 2 * len(TARGETS) and done["alpha"] == 8.0
    assert {p.name: p.read_bytes() for p in adapter_dir.iterdir()} == before  # the hashed directory untouched
    plain, adapted = _peft_logits(base_dir, adapter_dir)
    base_only = _llama_cpp_logits(base_gguf, None)
    with_lora = _llama_cpp_logits(base_gguf, done["gguf"])
    base_diff = max(float(abs(a - b).max()) for a, b in zip(base_only, plain, strict=True))
    lora_diff = max(float(abs(a - b).max()) for a, b in zip(with_lora, adapted, strict=True))
    shift = min(float(abs(a - b).max()) for a, b in zip(adapted, plain, strict=True))
    sys.stderr.write(json.dumps({"base_max_logit_difference": base_diff, "lora_max_logit_difference": lora_diff,
                                 "adapter_min_shift": shift, "tolerance": TOLERANCE}) + "\n")
    assert base_diff <= TOLERANCE, f"the base GGUF computes other logits than transformers: {base_diff}"
    assert shift > 0.1, "the adapter hardly changes the logits: the comparison would prove nothing"
    assert lora_diff <= TOLERANCE, f"llama.cpp with the GGUF LoRA differs from PEFT by {lora_diff}"


def test_rslora_is_written_with_the_alpha_llama_cpp_needs(tiny, tmp_path):
    _, _, adapter_dir = tiny
    rs = tmp_path / "rs"
    rs.mkdir()
    (rs / "adapter_model.safetensors").write_bytes((adapter_dir / "adapter_model.safetensors").read_bytes())
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    (rs / "adapter_config.json").write_text(json.dumps({**config, "use_rslora": True}))
    assert math.isclose(gguf_export.gguf_adapter_config(rs)["lora_alpha"], 8 * 2)  # alpha/sqrt(4) == 16/4
    (rs / "adapter_config.json").write_text(json.dumps({**config, "use_dora": True}))
    with pytest.raises(GGUFExportError, match="DoRA"):
        gguf_export.gguf_adapter_config(rs)
    (rs / "adapter_config.json").write_text(json.dumps({**config, "modules_to_save": ["lm_head"]}))
    with pytest.raises(GGUFExportError, match="whole modules"):
        gguf_export.gguf_adapter_config(rs)


def test_model_card_metadata_is_what_hugging_face_reads(tiny, tmp_path):
    import gguf
    import yaml

    base_dir, _, adapter_dir = tiny
    done = gguf_export.export_gguf(base_dir, adapter_dir, tmp_path / "out",
                                   model_card(_facts(), "adapter-f16.gguf"), outtype="f16")
    text = (tmp_path / "out" / "README.md").read_text()
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["license"] == "apache-2.0" and meta["base_model"] == "tiny-llama"
    assert meta["library_name"] == "peft"
    assert meta["datasets"] == ["payable-datanet-1-v2", "payable-datanet-3-v1"]
    metrics = meta["model-index"][0]["results"][0]["metrics"]
    assert metrics[0] == {"type": "loss", "value": 1.25, "name": "held-out loss"}
    assert "llama-cli -m base.gguf --lora adapter-f16.gguf" in text
    reader = gguf.GGUFReader(done["gguf"])  # llama.cpp copied the card's metadata into the file
    assert reader.fields["general.license"].contents() == "apache-2.0"


def test_a_gguf_of_ones_own_imports_as_the_model_it_was_made_from_and_a_changed_cache_is_converted_again(
        tiny, tmp_path):
    """A base made here, converted by llama.cpp's own converter, imported: the directory computes the original's
    logits exactly (all f32). A file of the cached directory changed afterwards is noticed on the next import,
    which converts again instead of registering the changed weights under the GGUF's name."""
    import torch
    from transformers import LlamaForCausalLM

    from gpu_worker.gguf_import import convert_gguf

    base_dir, base_gguf, _ = tiny
    directory, info, _, converted = convert_gguf(base_gguf, tmp_path / "cache")
    assert converted and info.quantization == "ALL_F32"
    original, imported = (LlamaForCausalLM.from_pretrained(d).eval() for d in (base_dir, directory))
    with torch.no_grad():
        for prompt in PROMPTS:
            ids = torch.tensor([prompt])
            assert torch.equal(original(ids).logits, imported(ids).logits)
    assert not convert_gguf(base_gguf, tmp_path / "cache")[3]  # cached: nothing converted
    weights = directory / "model.safetensors"
    changed = bytearray(weights.read_bytes())
    changed[-8:] = bytes(8)
    weights.write_bytes(bytes(changed))
    again, _, _, converted = convert_gguf(base_gguf, tmp_path / "cache")
    assert again == directory and converted and weights.read_bytes() != bytes(changed)


def test_a_gguf_whose_tensors_the_model_would_not_read_is_refused_by_name(tmp_path):
    """A LLaMA with attention biases: transformers' GGUF loader reads a LLaMA without them and would drop them
    silently (an outside user's import computed other logits, and was registered)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from gpu_worker.gguf_import import GGUFError, convert_gguf

    _tools()
    base_dir = tmp_path / "biased"
    vocab_size = _tokenizer(base_dir)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         attention_bias=True, bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(config).eval().save_pretrained(base_dir, safe_serialization=True)
    biased = gguf_export.convert_base(base_dir, tmp_path / "biased-f32.gguf", "f32")
    with pytest.raises(GGUFError, match=r"blk\.0\.attn_k\.bias.*refused"):
        convert_gguf(biased, tmp_path / "cache")
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []  # nothing cached, no scratch left
