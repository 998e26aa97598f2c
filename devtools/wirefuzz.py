"""Coverage-guided fuzzing (atheris / libFuzzer) of everything a network peer can send a node.

Targets, each a function of raw bytes run against a real executive on a dev chain in memory:
- `extrinsic`: pool admission (`Executive.validate_transaction`, what `SubmitExtrinsic` runs);
- `block`: block decoding and import (`Executive.import_block`, what a consensus driver runs);
- `result`: a signed attribution result inside a `submit_result` call from an assigned worker, applied
  in a block (the attribution pallet's verification), on a chain with a pending paid request;
- `upload`: the content store's upload frames (chunk boundaries and a declared size from the input);
- `query`: every pallet query with arbitrary request bytes (what `Query` and the typed services run).

The property, for every input: it is accepted (as canonical, valid input) or refused with the
project's own typed reason; nothing else is raised, and nothing a refusal touches changes the state
root or the chain head. A violation raises, which libFuzzer reports as a crash with the input saved.

    python -m devtools.wirefuzz TARGET [libFuzzer flags, e.g. -runs=2000 -max_total_time=60]

libFuzzer ends the process with C's exit(), so nothing cleans up after it: the corpus and the content
store's scratch files go into a `payable-wirefuzz-*` folder in the current directory (the tests and
bench/fuzz_decoders.py run it in a temporary one).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable

TARGETS = ("extrinsic", "block", "result", "upload", "query")


class PropertyViolated(AssertionError):
    """An input was neither accepted nor refused with a reason, or a refusal changed the state."""


def _world():
    """A dev chain in memory with one pending paid request assigned to //Eve (for the `result` target)."""
    from payable.datanet.v1 import datanet_pb2 as dn
    from payable.inference.v1 import inference_pb2 as inf
    from payable.modelregistry.v1 import modelregistry_pb2 as mr
    from runtime.chainspec import dev_spec
    from runtime.codec import ONE_OPEN, encode_u128
    from runtime.crypto import Keypair, blake2_256
    from runtime.executive import Executive
    from runtime.extrinsic import sign_extrinsic

    chain = Executive.open(dev_spec())
    alice, bob, eve = (Keypair.from_uri(f"//{n}") for n in ("Alice", "Bob", "Eve"))
    nonces: dict[bytes, int] = {}
    clock = [1_700_000_000_000]

    def block(*calls) -> None:
        raws = []
        for who, pallet, name, args in calls:
            nonce = nonces.get(who.public, 0)
            nonces[who.public] = nonce + 1
            raws.append(sign_extrinsic(who, chain.runtime.make_call(pallet, name, args), nonce=nonce,
                                       genesis_hash=chain.genesis_hash))
        clock[0] += 6000
        built = chain.author_block(raws, author=alice, timestamp_ms=clock[0])
        failed = [o.error for o in built.outcomes if not o.ok] + [e for _, e in built.rejected]
        if failed:
            raise RuntimeError(f"fuzz world set-up failed: {failed[0]}")

    block((alice, "datanet", "create_datanet", dn.CreateDataNet(
        name="fuzz", domain="text", license="CC0-1.0", contribution_deposit=encode_u128(ONE_OPEN),
        accepted_formats=["text"])))
    block((bob, "datanet", "contribute", dn.Contribute(datanet=1, content_hash=blake2_256(b"x"), size=1,
                                                       format="text")))
    block((alice, "datanet", "approve", dn.Decide(contribution=1)))
    block((alice, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=1)))
    block((alice, "modelregistry", "register_base_model", mr.RegisterBaseModel(
        artifact_hash=blake2_256(b"base"), architecture="mlp", license="MIT")))
    block((alice, "modelregistry", "register_model", mr.RegisterModel(
        base_model=1, snapshots=[mr.SnapshotRef(datanet=1, version=1)], training_config_hash=blake2_256(b"c"),
        artifact_hash=blake2_256(b"m"), attribution_method=mr.GRADIENT, attribution_index_hash=blake2_256(b"i"),
        price_per_inference=encode_u128(ONE_OPEN),
        split=mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500))))
    block((eve, "inference", "register_worker", inf.RegisterWorker(endpoint="127.0.0.1:1", models=[1],
                                                                   device="cpu", bond=encode_u128(100 * ONE_OPEN))))
    block((bob, "inference", "request_inference", inf.RequestInference(model=1, input=b"q",
                                                                       max_fee=encode_u128(ONE_OPEN))))
    return chain, eve, nonces[eve.public], clock[0]


def make_targets(scratch: str) -> tuple[dict[str, Callable[[bytes], None]], dict[str, list[bytes]]]:
    """The fuzz targets by name, sharing one chain (each leaves it as it found it), and for each a seed
    corpus of valid inputs - protobuf is decoded in C, so libFuzzer gets no coverage signal from it and
    needs well-formed starting points to reach the Python checks behind the decoder."""
    targets = _Targets(scratch)
    named: dict[str, Callable[[bytes], None]] = {"extrinsic": targets.extrinsic, "block": targets.block,
                                                 "result": targets.result, "upload": targets.upload,
                                                 "query": targets.query}
    return named, _seeds(targets.chain, targets.eve, targets.queries)


class _Targets:
    """One chain and content store that every target uses and leaves as it found it."""

    def __init__(self, scratch: str):
        from node.contentstore import ContentStore

        self.chain, self.eve, self.eve_nonce, self.last_ts = _world()
        self.store = ContentStore(f"{scratch}/blobs", max_blob=1 << 16, quota=1 << 30)
        self.queries = [(p, q) for p, pallet in self.chain.runtime.pallets.items()
                        for q in sorted(pallet.queries.by_name)]

    def head(self) -> tuple[bytes, int]:
        return self.chain.head.state_root, self.chain.head.number

    def unchanged(self, before: tuple[bytes, int], what: str) -> None:
        if self.head() != before:
            raise PropertyViolated(f"{what} changed the chain")

    def extrinsic(self, data: bytes) -> None:
        from runtime.errors import InvalidTransaction

        before = self.head()
        try:
            self.chain.validate_transaction(data)
        except InvalidTransaction:
            pass
        self.unchanged(before, "pool admission")

    def block(self, data: bytes) -> None:
        from runtime.executive import BlockImportError

        before = self.head()
        try:
            self.chain.import_block(data)
        except BlockImportError:
            self.unchanged(before, "a refused block")
            return
        raise PropertyViolated("a fuzzed block was imported")  # it would need Alice's seal

    def result(self, data: bytes) -> None:
        from payable.attribution.v1 import attribution_pb2 as at
        from payable.system.v1 import system_pb2
        from runtime import system
        from runtime.errors import PalletError
        from runtime.extrinsic import inherent_extrinsic, make_call, sign_extrinsic

        chain = self.chain
        before = self.head()
        call = chain.runtime.make_call("attribution", "submit_result",
                                       at.SubmitResult(request=1, signed_attribution=data))
        raw = sign_extrinsic(self.eve, call, nonce=self.eve_nonce, genesis_hash=chain.genesis_hash)
        chain.initialize_block(self.eve.public)
        try:
            chain.apply_extrinsic(inherent_extrinsic(make_call(system.NAME, 0,
                                                               system_pb2.SetTimestamp(now_ms=self.last_ts + 6000))))
            outcome = chain.apply_extrinsic(raw)
            if outcome.ok or not isinstance(outcome.error, PalletError) or outcome.error.pallet != "attribution":
                raise PropertyViolated(f"a fuzzed result was not refused by the attribution pallet: {outcome}")
        finally:
            chain.abort()
        self.unchanged(before, "a refused result")

    def upload(self, data: bytes) -> None:
        from node.contentstore import ContentError

        if not data:
            return
        declared = data[0] * 64 if data[0] % 2 else None
        cuts = sorted({1 + b % max(1, len(data) - 1) for b in data[1:4]})
        chunks = [data[a:b] for a, b in zip([1, *cuts], [*cuts, len(data)], strict=True) if b > a]
        try:
            stored = self.store.put(iter(chunks), declared_size=declared)
        except ContentError:
            return
        if b"".join(self.store.read(stored.hash)) != data[1:]:
            raise PropertyViolated("the stored blob is not what was uploaded")

    def query(self, data: bytes) -> None:
        from google.protobuf.message import DecodeError

        from runtime.codec import CodecError
        from runtime.errors import PalletError

        if not data:
            return
        pallet, name = self.queries[data[0] % len(self.queries)]
        before = self.head()
        try:
            self.chain.query(pallet, name, data[1:])
        except (DecodeError, CodecError, LookupError, PalletError):  # LookupError: no such query, or NotFound
            pass
        self.unchanged(before, "a query")


def _seeds(chain, eve, queries) -> dict[str, list[bytes]]:
    from payable.attribution.v1 import attribution_pb2 as at
    from payable.inference.v1 import inference_pb2 as inf
    from payable.modelregistry.v1 import modelregistry_pb2 as mr
    from payable.token.v1 import token_pb2
    from runtime.codec import ONE_OPEN, encode_u128
    from runtime.crypto import Keypair
    from runtime.extrinsic import sign_extrinsic
    from sdk.wire import request_id_bytes

    alice = Keypair.from_uri("//Alice")
    transfer = chain.runtime.make_call("token", "transfer_keep_alive",
                                       token_pb2.Transfer(dest=eve.public, amount=encode_u128(ONE_OPEN)))
    request = inf.Request.FromString(chain.query("inference", "get_request", inf.RequestRef(request=1)
                                                 .SerializeToString()))
    model = mr.Model.FromString(chain.query("modelregistry", "get_model", mr.ModelRequest(model=1)
                                            .SerializeToString()))
    body = at.AttributionResult(model_hash=model.artifact_hash, index_hash=model.attribution_index_hash,
                                input_hash=request.input_hash, output_hash=b"\x01" * 32, method="gradient",
                                worker=eve.public, request_id=request_id_bytes(1), draw_seed=request.draw_seed,
                                top_k=[at.ContributionScore(contribution_id=1, contributor=Keypair.from_uri("//Bob")
                                                            .public, score_ppb=10**9)]).SerializeToString()
    account = token_pb2.AccountRequest(account=alice.public).SerializeToString()
    return {
        "extrinsic": [sign_extrinsic(alice, transfer, nonce=n, genesis_hash=chain.genesis_hash) for n in range(3)],
        "block": [chain.db.require_block(n).SerializeToString() for n in range(1, chain.head.number + 1)],
        "result": [at.SignedAttribution(result=body, signature=eve.sign(body)).SerializeToString()],
        "upload": [bytes([3]) + b"blob" * 40, bytes([8, 1, 2, 3]) + b"x" * 600],
        "query": [bytes([i]) + account for i in range(len(queries))],
    }


def _in_a_fresh_process() -> None:
    """Go on in a child forked now, while this process is small, and end with the child's status.

    libFuzzer's out-of-memory check reads the peak RSS (getrusage), and Linux carries into an exec'd
    process the peak of the process it was forked from: started by a test worker holding a model, the
    fuzzer began at 2.4 GB and stopped on its 2 GB limit before its first input. A fork from here starts
    the count at this interpreter's few megabytes, so the limit measures the fuzzing alone."""
    child = os.fork()
    if child:
        _, status = os.waitpid(child, 0)
        sys.exit(os.waitstatus_to_exitcode(status) % 256)


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        raise SystemExit(f"usage: python -m devtools.wirefuzz {{{','.join(TARGETS)}}} [libFuzzer flags]")
    _in_a_fresh_process()
    import atheris

    scratch = tempfile.mkdtemp(prefix=f"payable-wirefuzz-{argv[1]}-", dir=".")
    with atheris.instrument_imports(include=["runtime", "node", "pallets"]):
        targets, seeds = make_targets(scratch)
    corpus = f"{scratch}/corpus"
    os.mkdir(corpus)
    for i, seed in enumerate(seeds[argv[1]]):
        with open(f"{corpus}/seed-{i}", "wb") as out:
            out.write(seed)
    atheris.Setup([argv[0], *argv[2:], corpus], targets[argv[1]])
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
