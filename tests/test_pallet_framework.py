"""The pallet framework: hooks run at the right moments, validity hooks reject, declarations are checked."""

import pytest

from payable.system.v1 import system_pb2
from runtime.chainspec import dev_spec
from runtime.context import Context
from runtime.errors import Invalid, InvalidTransaction, PalletError
from runtime.pallet import CallTable, EventTable, Pallet
from runtime.runtime import Runtime, load_pallet
from runtime.storage.items import BLAKE2_128_CONCAT, BYTES, IDENTITY, U64, PalletStorage
from runtime.weights import Weight

NAME = "probe"
storage = PalletStorage(NAME)
Seen = storage.double_map("Seen", U64, IDENTITY, BYTES, BLAKE2_128_CONCAT, U64, "Block → remarker → count.")
Hooks = storage.value("Hooks", BYTES, "Which hooks ran, in order, in the last block.")


class ProbeError(PalletError):
    pallet = NAME


calls = CallTable(NAME)


@calls.call(0, system_pb2.Remark, Weight(10_000, reads=1, writes=1))
def note(ctx: Context, origin: bytes, args: system_pb2.Remark) -> None:
    """Count remarks per block and signer."""
    Seen.insert(ctx, ctx.block_number, origin, Seen.get(ctx, ctx.block_number, origin, 0) + 1)


class _Hooks:
    @staticmethod
    def on_initialize(ctx):
        Hooks.put(ctx, b"init;")

    @staticmethod
    def on_finalize(ctx):
        Hooks.put(ctx, Hooks.get(ctx) + b"final;")

    @staticmethod
    def validate_transaction(ctx, signer, call, args):
        if args.data == b"spam":
            raise InvalidTransaction(Invalid.REJECTED_BY_PALLET, "probe refuses spam")
        if args.data == b"bug":
            raise OverflowError("a pallet's bug in its validity check")


probe = Pallet(NAME, doc="test pallet", calls=calls, storage=storage, events=EventTable(NAME), errors=ProbeError,
               hooks=_Hooks, proto_files=(system_pb2.DESCRIPTOR,))


@pytest.fixture
def probe_chain(make_chain):
    from runtime.chainspec import ChainSpec

    doc = dev_spec().to_dict()
    doc["pallets"] = ["token", NAME]
    return make_chain(ChainSpec.from_dict(doc), pallets={NAME: probe})


def test_hooks_run_around_the_block_and_double_maps_iterate(probe_chain):
    chain = probe_chain
    remark = system_pb2.Remark(data=b"hi")
    built = chain.block(chain.sign(chain.bob, NAME, "note", remark), chain.sign(chain.bob, NAME, "note", remark),
                        chain.sign(chain.charlie, NAME, "note", remark))
    assert all(o.ok for o in built.outcomes)
    ctx = chain.ex.read_context()
    with ctx.acting_as(NAME):
        assert Hooks.get(ctx) == b"init;final;"
        counts = dict(Seen.iter_prefix(ctx, built.header.number))
    assert counts == {chain.bob.public: 2, chain.charlie.public: 1}


def test_validate_transaction_hook_rejects_before_any_charge(probe_chain):
    chain = probe_chain
    built = chain.block(chain.sign(chain.bob, NAME, "note", system_pb2.Remark(data=b"spam")))
    (_, exc), = built.rejected
    assert exc.reason == Invalid.REJECTED_BY_PALLET and "spam" in str(exc)
    from runtime import system
    assert system.account_nonce(chain.ex.read_context(), chain.bob.public) == 0


def test_a_validity_check_that_raises_refuses_its_extrinsic_and_the_block_goes_on(probe_chain):
    """A pallet's bug in `validate_transaction` is that extrinsic's refusal (logged), not an error out of the
    block author: one user's extrinsic must not stop every block after it, nor take the others with it."""
    from payable.token.v1 import token_pb2
    from runtime.codec import ONE_OPEN, encode_u128

    chain = probe_chain
    built = chain.block(chain.sign(chain.bob, NAME, "note", system_pb2.Remark(data=b"bug")),
                        chain.sign(chain.charlie, "token", "transfer", token_pb2.Transfer(
                            dest=chain.dave.public, amount=encode_u128(ONE_OPEN))))
    (_, exc), = built.rejected
    assert exc.reason == Invalid.REJECTED_BY_PALLET and "raised OverflowError" in str(exc)
    assert [o.ok for o in built.outcomes] == [True]  # the transfer beside it is in the block
    after = chain.block(chain.sign(chain.charlie, NAME, "note", system_pb2.Remark(data=b"hi")))
    assert after.header.number == built.header.number + 1 and after.outcomes[0].ok


def test_declarations_refuse_duplicates_and_reused_indices():
    table = CallTable("x", retired=(3,))
    table.call(0, system_pb2.Remark, Weight(1))(lambda ctx, o, a: None)
    with pytest.raises(ValueError, match="already used or retired"):
        table.call(0, system_pb2.Remark, Weight(1))(lambda ctx, o, a: None)
    with pytest.raises(ValueError, match="already used or retired"):
        table.call(3, system_pb2.Remark, Weight(1))(lambda ctx, o, a: None)
    items = PalletStorage("x")
    items.value("A", BYTES, "")
    with pytest.raises(ValueError, match="twice"):
        items.value("A", BYTES, "")
    events = EventTable("x")
    events.event(0, "E", system_pb2.Remark, "")
    with pytest.raises(ValueError, match="twice"):
        events.event(0, "F", system_pb2.Remark, "")


def test_integrity_test_catches_duplicate_error_codes():
    class BadError(PalletError):
        pallet = "bad"

    class One(BadError):
        code = 1

    class Two(BadError):
        code = 1

    bad = Pallet("bad", doc="", calls=CallTable("bad"), storage=PalletStorage("bad"), events=EventTable("bad"),
                 errors=BadError)
    from runtime.chainspec import ChainSpec

    with pytest.raises(ValueError, match="duplicate error codes"):
        Runtime(ChainSpec.from_dict({"name": "x", "id": "x", "pallets": ["bad"]}), pallets={"bad": bad})


def test_entry_points_load_the_installed_pallets():
    assert load_pallet("token").name == "token" and load_pallet("system").name == "system"
