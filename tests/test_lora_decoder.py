"""The decoder arranged for LoRA attribution (gpu_worker/gradient/decoder.py) computes what transformers and
PEFT compute - without the adapter, with it, and every row's gradient of the adapter's factors - for LLaMA,
Qwen2 (projection biases; a sliding window on its upper layers only) and Mistral (a sliding window
shorter than the sequence), grouped-query attention, float32 and bfloat16 base layers and right-padded
batches: the credit a paid query earns is the same number, only sooner."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
pytest.importorskip("peft")

KINDS = ["llama", "qwen2", "mistral", "qwen2-window"]
DTYPES = ["float32", "bfloat16"]


def _model(kind: str, dtype: str, targets=("q_proj", "v_proj", "up_proj", "down_proj"), alpha: int = 8, **lora):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    from gpu_worker.frozen_base import arrange

    extra = {"mistral": {"sliding_window": 5}, "qwen2": {}, "llama": {"attention_bias": False},
             "qwen2-window": {"use_sliding_window": True, "sliding_window": 5, "max_window_layers": 1}}[kind]
    config = AutoConfig.for_model(kind.removesuffix("-window"), vocab_size=97, hidden_size=32, intermediate_size=48,
                                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                  max_position_embeddings=64, tie_word_embeddings=kind == "llama", **extra)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    if kind.startswith("qwen2"):
        assert model.model.layers[0].self_attn.q_proj.bias is not None  # the biases are part of what is checked
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=alpha, target_modules=list(targets),
                                            init_lora_weights=False, **lora)).eval()  # non-zero factors
    return arrange(peft, dtype)


def _batch(lengths=(11, 7, 4)):
    from gpu_worker.rows import IGNORE, Example, Row, collate

    torch.manual_seed(1)
    examples = []
    for length in lengths:
        ids = torch.randint(3, 97, (length,)).tolist()
        examples.append(Example(Row(0, b"", 0), "", tuple(ids), tuple([IGNORE] * 2 + ids[2:])))
    return examples, collate(examples, 0, "cpu")  # right-padded, as rows.collate pads


def _decoder_states(model, ids, mask):
    with torch.no_grad():
        return model.get_base_model().get_decoder()(input_ids=ids, attention_mask=mask,
                                                    use_cache=False).last_hidden_state


def _close(got, want, mask):
    for row, length in enumerate(mask.sum(1).tolist()):
        torch.testing.assert_close(got[row, :length], want[row, :length], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_the_decoder_is_transformers_and_peft_with_and_without_the_adapter(kind, dtype):
    from gpu_worker.gradient.decoder import decoder
    from gpu_worker.peft_layers import lora_modules

    model = _model(kind, dtype)
    _, batch = _batch()
    ids, mask = batch["input_ids"], batch["attention_mask"]
    run = decoder(model.get_base_model())
    with_adapter = _decoder_states(model, ids, mask)
    with model.disable_adapter():
        without = _decoder_states(model, ids, mask)
    assert not torch.allclose(with_adapter, without)  # the adapter changes the output: both are checked
    with torch.no_grad():
        _close(run.hidden(ids), without, mask)
        _close(run.hidden(ids, run.terms(lora_modules(model), "default")), with_adapter, mask)
        for _, layer in lora_modules(model):  # another adapter's factors copied into the slot, as the attributor does
            layer.lora_B["default"].weight.mul_(-0.5)
        _close(run.hidden(ids, run.terms(lora_modules(model), "default")), _decoder_states(model, ids, mask), mask)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_rows_gradient_is_autograds_gradient_of_its_own_loss(kind, dtype):
    """Per example, the gradient of its own mean loss w.r.t. each A and B, by autograd on PEFT's model, one
    example at a time - against one padded batch through the decoder's trace. One example carries a
    reading's weights (its tokens' losses weighted), the others none: each is read as it says."""
    from dataclasses import replace

    from gpu_worker.gradient.lora_influence import per_example_gradients, per_example_loss, trainable
    from gpu_worker.rows import collate

    model = _model(kind, dtype)
    examples, _ = _batch()
    examples[1] = replace(examples[1], weights=tuple(0.25 + 0.25 * (i % 4) for i in range(len(examples[1].labels))))
    layout, got = per_example_gradients(model, examples, 0, batch_size=3)
    for row, example in enumerate(examples):
        with trainable(model) as params:
            per_example_loss(model, collate([example], 0, "cpu"))[0].backward()
            want = torch.cat([p.grad.flatten() for p in params]).double()
            for p in params:
                p.grad = None
        if dtype == "float32":
            torch.testing.assert_close(torch.from_numpy(got[row]), want, rtol=1e-4, atol=1e-6)
        else:  # the gradient is rounded to bfloat16 at every base product it passes back through: where the
            # head's gradient differs in its last float32 bit (`_swept_head` sums in another order) an element
            # can round the other way there, so a few elements differ at bfloat16's precision (2^-8 of each),
            # and the row's gradient as a whole agrees to ~1e-7 to 3e-4: which elements flip depends on the
            # CPU's kernels (3e-5 at most on one machine, 2.6e-4 on an AMD EPYC's); a wrong gradient is off by
            # far more than one element's rounding
            error = float(torch.linalg.norm(torch.from_numpy(got[row]) - want) / torch.linalg.norm(want))
            assert error < 1e-3, error
    assert len(layout) == 8 and got.shape[1] == sum(m.size for m in layout)


def test_the_gain_divides_by_the_loss_without_the_adapter():
    from gpu_worker.gradient.lora_influence import fine_tune_gain, per_example_loss, query_projection
    from gpu_worker.peft_layers import lora_modules
    from gpu_worker.rows import IGNORE, Example, Row, collate

    model = _model("llama", "bfloat16", alpha=256)  # an adapter that moves the model's predictions
    prompt = list(range(3, 11))
    with torch.no_grad():  # what the adapter says: a continuation it makes likelier than the base does
        said = model.generate(input_ids=torch.tensor([prompt]), max_new_tokens=12, do_sample=False,
                              pad_token_id=0)[0, len(prompt):].tolist()
    example = Example(Row(0, b"", 0), "", tuple(prompt + said), tuple([IGNORE] * len(prompt) + said))
    examples, batch = [example], collate([example], 0, "cpu")
    with torch.no_grad():
        tuned = float(per_example_loss(model, batch)[0])
        with model.disable_adapter():
            base = float(per_example_loss(model, batch)[0])
    gain = 1 - tuned / base
    assert 0 < gain < 1, (tuned, base)
    assert fine_tune_gain(model, examples[0], 0) == pytest.approx(gain, abs=1e-6)
    assert query_projection(model, examples[0], 0, 16, 0)[0] == pytest.approx(gain, abs=1e-6)
    assert all(not layer.disable_adapters for _, layer in lora_modules(model))  # on for the query that follows


def test_base_layers_laid_out_anew_are_read_anew():
    from gpu_worker.frozen_base import arrange
    from gpu_worker.gradient.decoder import decoder

    model = _model("llama", "float32")
    before = decoder(model.get_base_model())
    assert decoder(model.get_base_model()) is before  # arranged once
    arrange(model, "bfloat16")  # the base layers are replaced (held in bfloat16 now)
    after = decoder(model.get_base_model())
    assert after is not before
    ids = torch.randint(0, 97, (1, 9))
    with model.disable_adapter(), torch.no_grad():
        _close(after.hidden(ids), _decoder_states(model, ids, torch.ones_like(ids)), torch.ones_like(ids))


def test_adapters_it_cannot_read_are_refused_by_name():
    from transformers import GPT2Config, GPT2LMHeadModel

    from gpu_worker.gradient.decoder import decoder
    from gpu_worker.gradient.lora_influence import per_example_gradients

    examples, _ = _batch((6,))
    on_head = _model("llama", "float32", targets=("q_proj", "lm_head"))
    with pytest.raises(ValueError, match="LoRA layers on .*lm_head; LoRA attribution reads adapters on the decoder"):
        per_example_gradients(on_head, examples, 0)
    dora = _model("llama", "float32", targets=("q_proj",), use_dora=True)
    with pytest.raises(ValueError, match="not a merged or DoRA adapter"):
        per_example_gradients(dora, examples, 0)
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=32))
    with pytest.raises(ValueError, match="'gpt2' model; LoRA attribution reads LLaMA-family"):
        decoder(gpt2)


@pytest.mark.parametrize("token_normalized,weighted", [(False, False), (True, False), (False, True)])
def test_the_swept_head_is_float64s_loss_and_gradient_where_the_model_is_sure(token_normalized, weighted):
    """The head's (plain) losses and the graded rows' gradients (of the plain or token-normalised loss, its
    tokens weighted or not) at the hidden states, swept over the vocabulary in slices, against float64
    autograd of `_mean_loss` - with labels the model is sure of (p > 1 - 1e-6, where float32's softmax −
    onehot keeps little of the gradient: 1.7e-2 off float64 here, token-normalised), ignored labels and
    labels in every slice."""
    from gpu_worker.gradient import lora_influence
    from gpu_worker.gradient.swept_head import SweptHead
    from gpu_worker.rows import IGNORE

    torch.manual_seed(3)
    head = torch.nn.Linear(16, 200, bias=False)
    torch.nn.init.normal_(head.weight)
    labels = torch.randint(0, 200, (3, 9))
    labels[0, :2] = IGNORE
    labels[2, 5:] = IGNORE
    hidden = torch.randn(3, 9, 16)
    hidden[:, ::2] += 6 * head.weight.detach()[labels.clamp(min=0)][:, ::2]  # sure of every other label
    exact = hidden.double().requires_grad_()
    logits = exact @ head.weight.detach().double().t()
    sure = logits.softmax(-1).gather(-1, labels.clamp(min=0)[..., None])[..., 0][:, ::2]
    assert (sure[labels[:, ::2] != IGNORE] > 1 - 1e-6).sum() >= 6
    weights = torch.rand(3, 9) if weighted else None  # a reading's weights: the gradient's, not the losses'
    want = lora_influence._mean_loss(logits, labels, token_normalized, weights)
    want[:2].sum().backward()
    swept = SweptHead(head, rows=37)  # several slices, the last one short
    assert swept.packed == torch.backends.mkldnn.is_available()  # the packed products are the ones checked
    losses, grad = swept.sweep(hidden, labels, 2, token_normalized, weights)
    plain = lora_influence._mean_loss(logits.detach(), labels, False)  # the losses are the plain ones
    torch.testing.assert_close(losses.double(), plain, rtol=1e-5, atol=1e-6)
    for row in range(2):
        error = torch.linalg.norm(grad[row].double() - exact.grad[row]) / torch.linalg.norm(exact.grad[row])
        assert error < 1e-5, (row, float(error))
    assert swept.sweep(hidden, labels, 0, token_normalized)[1] is None


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_run_without_the_adapter_on_its_lane_gives_the_same_bytes(dtype, monkeypatch):
    """A query's run without the adapter goes to the second lane, a thread of its own, while the traced run
    stays on the caller's; its gain and sketched gradient are byte for byte those of both runs made one after
    the other on one thread (what a verifier with one core computes)."""
    import threading
    from concurrent.futures import Future

    from gpu_worker.gradient import lanes
    from gpu_worker.gradient.lora_influence import query_projection
    from gpu_worker.rows import IGNORE, Example, Row

    model = _model("qwen2-window", dtype, alpha=256)
    ids = list(range(3, 20))
    example = Example(Row(0, b"", 0), "", tuple(ids), tuple([IGNORE] * 6 + ids[6:]))
    threads = []
    started = lanes.beside

    def noted(work):
        return started(lambda: (threads.append(threading.current_thread()), work())[1])

    monkeypatch.setattr(lanes, "beside", noted)
    gain, _, blocks = query_projection(model, example, 0, 16, 0)
    assert threads and threads[0] is not threading.current_thread()

    def here(work):
        done: Future = Future()
        with torch.no_grad():
            done.set_result(work())
        return done

    monkeypatch.setattr(lanes, "beside", here)
    alone_gain, _, alone = query_projection(model, example, 0, 16, 0)
    assert gain > 0 and gain == alone_gain
    for got, want in zip(blocks, alone, strict=True):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("k", [16, 256])
def test_rows_sketched_from_their_factors_are_their_whole_gradients_sketched(k):
    """Each group's modules sketched together (input sides side by side, output sides block-diagonal at their
    columns - q and v without k, up without gate) give what sketching each row's whole gradient (autograd's,
    one example at a time) module by module gives; k 256 keeps every side whole (no wider than its sketch)."""
    from gpu_worker.gradient.lora_influence import per_example_loss, per_example_projections, project_layers, trainable
    from gpu_worker.rows import collate

    model = _model("llama", "float32")
    examples, _ = _batch()
    layout, sketched = per_example_projections(model, examples, 0, k, 7, batch_size=2)
    whole = []
    for example in examples:
        with trainable(model) as params:
            per_example_loss(model, collate([example], 0, "cpu"))[0].backward()
            whole.append(torch.cat([p.grad.flatten() for p in params]).double().numpy())
            for p in params:
                p.grad = None
    want = project_layers(np.stack(whole), layout, k, 7)
    assert [block.shape for block in sketched] == [block.shape for block in want]
    for got, expected in zip(sketched, want, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("kind", ["llama", "qwen2-window"])
def test_reading_the_upper_layers_alone_gives_their_gradients_unchanged(kind):
    """An index that reads the upper layers' LoRA modules only (`upper_layers`): the backward stops at the
    lowest of them - the layers below run without a graph and no group of theirs reaches the trace - and each
    row's gradient of those modules is what the whole pass gives them."""
    from gpu_worker.gradient import lora_influence
    from gpu_worker.gradient.decoder import decoder

    model = _model(kind, "float32")
    examples, _ = _batch()
    upper = lora_influence.upper_layers(model, 1)
    assert upper and all(".layers.1." in name for name in upper)  # 2 layers: the top one
    assert lora_influence.upper_layers(model, 3) == [m.name for m in
                                                      lora_influence.per_example_gradients(model, examples, 0)[0]]
    whole_layout, whole = lora_influence.per_example_gradients(model, examples, 0, batch_size=3)
    reached = []
    run = decoder(model.get_base_model())
    original = lora_influence._Sketches._reached

    def recorded(self, group):
        reached.append(group.members)
        original(self, group)

    lora_influence._Sketches._reached = recorded
    try:
        layout, got = lora_influence.per_example_gradients(model, examples, 0, batch_size=3, traced=upper)
    finally:
        lora_influence._Sketches._reached = original
    assert [m.name for m in layout] == upper
    assert all(name in upper for members in reached for name, *_ in members)  # nothing below was traced
    columns = np.concatenate([np.arange(start, start + m.size) for m, start in
                              zip(whole_layout, np.cumsum([0] + [m.size for m in whole_layout]), strict=False)
                              if m.name in upper])
    np.testing.assert_allclose(got, whole[:, columns], rtol=1e-5, atol=1e-7)
    assert decoder(model.get_base_model()) is run  # arranged once, for both passes
    with pytest.raises(ValueError, match="at least one layer"):
        lora_influence.upper_layers(model, 0)
    with pytest.raises(ValueError, match="has no LoRA module model.layers.9.nothing: the modules to read are not"):
        lora_influence.per_example_gradients(model, examples, 0, traced=["model.layers.9.nothing"])


def test_reading_part_of_a_group_sketches_those_modules_as_the_whole_gradient_would_be():
    """One module of a stacked product read (v_proj of the top layer's q/k/v, whose q_proj carries the adapter
    too): its whole gradient is the whole pass's columns, and its sketch is `project_layers` of them."""
    from gpu_worker.gradient import lora_influence

    model = _model("llama", "float32")
    examples, _ = _batch()
    whole_layout, whole = lora_influence.per_example_gradients(model, examples, 0)
    position = [m.name for m in whole_layout].index(next(m.name for m in whole_layout
                                                        if ".layers.1." in m.name and m.name.endswith("v_proj")))
    start = sum(m.size for m in whole_layout[:position])
    columns = whole[:, start:start + whole_layout[position].size]
    read = [whole_layout[position].name]
    layout, got = lora_influence.per_example_gradients(model, examples, 0, traced=read)
    np.testing.assert_allclose(got, columns, rtol=1e-5, atol=1e-7)
    layout, sketched = lora_influence.per_example_projections(model, examples, 0, 8, 3, traced=read)
    want = lora_influence.project_layers(columns, layout, 8, 3)
    for block, expected in zip(sketched, want, strict=True):
        np.testing.assert_allclose(block, expected, rtol=1e-4, atol=1e-6)


def test_an_adapter_on_low_layers_alone_is_read_on_the_layers_that_carry_it():
    """`upper_layers` counts the layers that carry the adapter: one fine-tuned on the bottom layer only is read
    there, not refused for having nothing on the top one."""
    from gpu_worker.gradient import lora_influence

    model = _model("llama", "float32", layers_to_transform=[0])
    upper = lora_influence.upper_layers(model, 1)
    assert upper and all(".layers.0." in name for name in upper)
