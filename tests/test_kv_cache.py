"""A request's KV cache: appending in place (with the buffers doubling) keeps exactly what was appended."""

import pytest

torch = pytest.importorskip("torch")

from gpu_worker.lora.kv_cache import MIN_CAPACITY, KVCache  # noqa: E402


def test_appends_read_back_as_everything_so_far_across_growth():
    g = torch.Generator().manual_seed(0)
    cache, keys, values = KVCache(), [[], []], [[], []]
    assert len(cache) == 0
    for added in [5, 1, 1, MIN_CAPACITY, 1, 3 * MIN_CAPACITY, 1]:  # a prompt, decode steps, longer prompts
        for layer in range(2):
            k, v = torch.randn(added, 2, 4, generator=g), torch.randn(added, 2, 4, generator=g)
            keys[layer].append(k)
            values[layer].append(v)
            got_k, got_v = cache.append(layer, k, v)
            assert torch.equal(got_k, torch.cat(keys[layer])) and torch.equal(got_v, torch.cat(values[layer]))
    assert len(cache) == 5 + 1 + 1 + MIN_CAPACITY + 1 + 3 * MIN_CAPACITY + 1


def test_a_layer_cannot_be_appended_before_the_layers_below_it():
    cache = KVCache()
    cache.append(0, torch.zeros(1, 2, 4), torch.zeros(1, 2, 4))
    with pytest.raises(IndexError, match="layer 2 appended before layer 1"):
        cache.append(2, torch.zeros(1, 2, 4), torch.zeros(1, 2, 4))


def test_a_reservation_is_allocated_once_and_growth_past_it_doubles():
    cache, appended = KVCache(reserve=40), []
    for added in [7] + [1] * 33:  # a prompt, then decode steps up to exactly the reservation
        k = torch.full((added, 1, 2), float(len(appended)))
        appended.append(k)
        got, _ = cache.append(0, k, k)
        assert cache.capacity == 40
    assert torch.equal(got, torch.cat(appended)) and len(cache) == 40
    cache.append(0, torch.zeros(1, 1, 2), torch.zeros(1, 1, 2))  # past it: the buffers double as before
    assert cache.capacity == 64 and len(cache) == 41
