"""What `payable model register-base` reads from a Hugging Face directory before registering it: the
architecture, the parameter count from the safetensors headers, and a language model's context."""

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from sdk.hf_directory import describe_hf_directory


def _directory(tmp_path, config: dict):
    (tmp_path / "config.json").write_text(json.dumps(config))
    save_file({"embed.weight": np.zeros((300, 8), np.float32)}, str(tmp_path / "model.safetensors"))
    return tmp_path


def test_a_language_model_s_context_is_its_max_position_embeddings(tmp_path):
    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "max_position_embeddings": 512}
    assert describe_hf_directory(_directory(tmp_path, config)) == ("llama:LlamaForCausalLM", 2400, 512)


def test_a_model_without_a_context_declares_none(tmp_path):
    assert describe_hf_directory(_directory(tmp_path, {"model_type": "mlp"})) == ("mlp:mlp", 2400, 0)


@pytest.mark.parametrize("bad", ["512", -1, 1 << 32, 1.5])
def test_a_context_that_is_not_a_position_count_is_refused(tmp_path, bad):
    with pytest.raises(ValueError, match=f"max_position_embeddings is {bad!r}, not a context length"):
        describe_hf_directory(_directory(tmp_path, {"model_type": "llama", "max_position_embeddings": bad}))
