"""The reusable fuzzing harness, run on the token chain (see devtools/fuzz.py for what it checks)."""

import os

import pytest

from devtools.fuzz import ChainFuzzer, Plan, fuzz_chain
from runtime.chainspec import DEV_ACCOUNTS, dev_spec
from runtime.crypto import Keypair

SIGNERS = [Keypair.from_uri(u) for u in DEV_ACCOUNTS[:4]]
EXAMPLES = int(os.environ.get("PAYABLE_FUZZ_EXAMPLES", "120"))


@pytest.mark.slow
def test_fuzz_token_chain():
    fuzz_chain(dev_spec(), SIGNERS, max_examples=EXAMPLES, max_blocks=5, max_block_size=8)


def test_harness_catches_an_undeclared_write(monkeypatch):
    """A call that writes more than its weight declares must be reported, or the harness proves nothing."""
    from pallets.token import weights
    from pallets.token.calls import calls
    from runtime.weights import Weight

    transfer = calls.by_index[1]
    monkeypatch.setitem(calls.by_index, 1, type(transfer)(**{**transfer.__dict__, "weight": Weight(1, 0, 0)}))
    fuzzer = ChainFuzzer(dev_spec(), SIGNERS)
    from payable.token.v1 import token_pb2
    from runtime.codec import encode_u128

    args = token_pb2.Transfer(dest=SIGNERS[1].public, amount=encode_u128(10**18)).SerializeToString()
    with pytest.raises(AssertionError, match="declared"):
        fuzzer.run([[Plan(0, "token", 1, args, 0, "")]])
    assert weights.TRANSFER_KEEP_ALIVE.writes > 0


def test_harness_catches_a_call_that_leaks_writes_on_failure(monkeypatch):
    """If a failing call's writes survived, the fee-only replay must disagree."""
    from runtime import executive as executive_module

    real = executive_module.Executive._dispatch_call

    def leaky(self, ctx, definition, origin, args):
        error, reads, writes = real(self, ctx, definition, origin, args)
        if error is not None:
            from runtime import system
            system.set_account_nonce(ctx, origin, 10**6)  # a write that should have been rolled back
        return error, reads, writes

    monkeypatch.setattr(executive_module.Executive, "_dispatch_call", leaky)
    from payable.token.v1 import token_pb2
    from runtime.codec import encode_u128

    fuzzer = ChainFuzzer(dev_spec(), SIGNERS)
    failing = token_pb2.Transfer(dest=SIGNERS[1].public, amount=encode_u128(10**36)).SerializeToString()
    with pytest.raises(AssertionError, match="more than its fee and nonce"):
        fuzzer.run([[Plan(0, "token", 1, failing, 0, "")]])
