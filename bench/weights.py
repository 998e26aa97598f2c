"""Weights benchmark: every call's declared weight next to its measured cost, on this machine.

A call's declared weight must cover what it really costs: compute (`ref_time_ns`) plus its storage
reads and writes priced by the chain's `db_weights`. This builds one RocksDB chain with every pallet
of the dev chain, makes `--samples` funded signers live through the whole Payable AI loop - DataNets
created, curated, contributed to, approved and snapshotted; base models and models registered;
workers bonded; validator candidates bonded, jailed for downtime and unjailed; inferences paid for;
attribution results (16 credited contributions each, with Merkle proofs) submitted and settled;
settlements challenged and voted on - one block per call, every signer sending that call, and times
each dispatch and counts its real reads and writes.

For calls whose cost grows with a bounded list (snapshot members, workers of a model), it measures
two sizes and extrapolates to the bound the weight declares. It prints declared vs measured, with
`covered` false where a declaration is too low, and the per-extrinsic base cost and per-key commit
cost that `base_extrinsic_ns` and `db_weights` must cover.

With `--write` it also writes the pallets' `weights.py` files (`render`): each call's largest p90 of
the `--runs`, the machine and the command, and each weight's ref_time derived from them (`--margin` x
the largest p90 of the calls sharing it, rounded up to 5 µs). Reads and writes are the most any path
of a call performs: the bench cannot build every worst path, so they are declared here (`WORST_CASE`,
with the reasoning in `NOTES`), and `--write` refuses to write a bound that a measured count exceeds.
Those files are never edited by hand; `tests/test_weights_files.py` checks each is what `render` writes.

    python bench/weights.py [--samples 64] [--filler 100000] [--runs 3 --write [--margin 1.3] [--pallets P ...]]
"""

from __future__ import annotations

import argparse
import ast
import datetime
import importlib
import itertools
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pallets.attribution.storage import Owed
from pallets.token import interface as token
from pallets.validators.interface import consensus_address
from payable.attribution.v1 import attribution_pb2 as at
from payable.datanet.v1 import datanet_pb2 as dn
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from payable.system.v1 import system_pb2
from payable.token.v1 import token_pb2 as tk
from payable.validators.v1 import validators_pb2 as vd
from runtime import system
from runtime.chainspec import ChainSpec, RuntimeParams, dev_spec
from runtime.codec import ONE_OPEN, encode_u128
from runtime.crypto import Keypair, blake2_256, encode_address
from runtime.executive import Executive
from runtime.extrinsic import inherent_extrinsic, make_call, sign_extrinsic
from runtime.protocol import OWED_TO_CONTRIBUTORS
from runtime.runtime import load_pallet
from runtime.storage.backend import RocksBackend
from runtime.weights import Weight
from sdk.wire import TAIL_PAGE, request_id_bytes, tail_root

GENESIS_TS = 1_700_000_000_000
CITED = 16        # snapshots a model cites = contributions a result credits (the attribution bound)
MEMBERS = 16      # extra approved contributions per DataNet for the snapshot size measurement
PRICE = ONE_OPEN
DOWNTIME_WINDOW = 4  # blocks in the validators' missed-block window: all absent jails a candidate


class Bench:
    """A RocksDB chain with `signers` funded accounts (plus `filler` others) and a timed dispatch."""

    def __init__(self, path: Path, signers: int, filler: int):
        self.keys = [Keypair(i.to_bytes(32, "big")) for i in range(1, signers + 1)]
        doc = dev_spec().to_dict()
        doc["config"] = {"token": {"unbonding_period": "1"},
                         "inference": {"deadline_blocks": "1000", "replication": "1"},
                         "attribution": {"challenge_window": "1000", "tail_window": "1"},
                         "validators": {"signed_blocks_window": str(DOWNTIME_WINDOW), "downtime_jail_ms": "6000"}}
        doc["genesis"]["system"] = {"timestamp_ms": GENESIS_TS}
        doc["genesis"]["token"]["balances"] = ([[k.address, f"{10**6} OPEN"] for k in self.keys]
                                               + [[encode_address(os.urandom(32)), "1 OPEN"] for _ in range(filler)])
        self.spec = ChainSpec.from_dict(doc)
        self.backend = RocksBackend(path)
        self.chain = Executive.open(self.spec, self.backend)
        self.nonces = [0] * signers
        self.timestamp = GENESIS_TS
        self.dispatch_ns: list[int] = []
        real = self.chain.runtime.dispatch

        def timed(*args):
            start = time.perf_counter_ns()
            try:
                return real(*args)
            finally:
                self.dispatch_ns.append(time.perf_counter_ns() - start)

        self.chain.runtime.dispatch = timed

    def block(self, txs: list[tuple[int, str, str, object]], inherents: tuple[bytes, ...] = ()):
        """One block of (signer index, pallet, call name, args) after `inherents` (e.g. a consensus
        driver's NoteConsensus). Returns (outcomes, apply ns, dispatch ns, finalize+commit ns per changed
        key, events)."""
        chain = self.chain
        raws = []
        for signer, pallet, name, args in txs:
            index = chain.runtime.call_by_name(pallet, name).index
            raws.append(sign_extrinsic(self.keys[signer], make_call(pallet, index, args), nonce=self.nonces[signer],
                                       genesis_hash=chain.genesis_hash))
            self.nonces[signer] += 1
        self.timestamp += 6000
        chain.initialize_block(self.keys[0].public)
        chain.apply_extrinsic(inherent_extrinsic(make_call(system.NAME, 0,
                                                           system_pb2.SetTimestamp(now_ms=self.timestamp))))
        for raw in inherents:
            chain.apply_extrinsic(raw)
        self.dispatch_ns.clear()
        outcomes, apply_ns = [], []
        for raw in raws:
            start = time.perf_counter_ns()
            outcomes.append(chain.apply_extrinsic(raw))
            apply_ns.append(time.perf_counter_ns() - start)
        changed_keys = len(chain._pending().ctx.overlay.changes())
        start = time.perf_counter_ns()
        chain.finalize_block()
        chain.commit(chain.seal(self.keys[0]))
        per_key_ns = (time.perf_counter_ns() - start) / changed_keys
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise SystemExit(f"{txs[0][1]}.{txs[0][2]} failed: {type(failed[0].error).__name__}: "
                             f"{failed[0].error.message}")
        return outcomes, apply_ns, list(self.dispatch_ns), per_key_ns, chain.db.events(chain.head.number).events

    def query(self, pallet: str, name: str, request, response_type):
        return response_type.FromString(self.chain.query(pallet, name, request.SerializeToString()))


def percentile(values: list[int], q: float) -> int:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Recorder:
    """Runs each measured block and keeps its row, plus the base and commit samples."""

    def __init__(self, bench: Bench):
        self.bench, self.rows, self.base_ns, self.per_key = bench, [], [], []
        self.db = bench.spec.runtime.db_weights

    def run(self, txs, *, label: str | None = None, at_bound=None):
        """Measure one block; `at_bound(p90 ns)` extrapolates the measured time to the declared bound."""
        outcomes, apply_ns, dispatch_ns, per_key_ns, events = self.bench.block(txs)
        pallet, name = txs[0][1], txs[0][2]
        w = self.bench.chain.runtime.call_by_name(pallet, name).weight
        measured = int(at_bound(percentile(dispatch_ns, 0.9)) if at_bound else percentile(dispatch_ns, 0.9))
        reads, writes = max(o.reads for o in outcomes), max(o.writes for o in outcomes)
        self.rows.append({"call": label or f"{pallet}.{name}", "pallet": pallet, "name": name,
                          "declared": {"ref_time_ns": w.ref_time_ns, "reads": w.reads, "writes": w.writes,
                                       "total_ns": self.db.total_ns(w)},
                          "measured": {"dispatch_p50_ns": int(statistics.median(dispatch_ns)),
                                       "dispatch_p90_ns": percentile(dispatch_ns, 0.9),
                                       "at_bound_ns": measured, "max_reads": reads, "max_writes": writes},
                          "covered": w.ref_time_ns >= measured and reads <= w.reads and writes <= w.writes})
        self.base_ns += [a - d for a, d in zip(apply_ns, dispatch_ns, strict=True)]
        self.per_key.append(per_key_ns)
        return outcomes, dispatch_ns, events

    def each(self, make, pallet: str, name: str, **kwargs):
        return self.run([(i, pallet, name, make(i)) for i in range(len(self.bench.keys))], **kwargs)


def token_calls(rec: Recorder) -> None:
    keys, n = rec.bench.keys, len(rec.bench.keys)
    fresh = [os.urandom(32) for _ in range(n)]
    rec.each(lambda i: tk.Transfer(dest=keys[(i + 1) % n].public, amount=encode_u128(ONE_OPEN)),
             "token", "transfer_keep_alive")
    rec.each(lambda i: tk.Transfer(dest=fresh[i], amount=encode_u128(ONE_OPEN)), "token", "transfer")
    rec.each(lambda i: tk.Bond(amount=encode_u128(10 * ONE_OPEN)), "token", "bond")
    rec.each(lambda i: tk.Unbond(amount=encode_u128(4 * ONE_OPEN)), "token", "unbond")
    rec.each(lambda i: tk.WithdrawUnbonded(), "token", "withdraw_unbonded")
    rec.each(lambda i: system_pb2.Remark(data=b"x" * 64), "system", "remark")


def datanet_calls(rec: Recorder) -> None:
    """Signer i owns DataNet i+1 and contributes to its neighbour's; snapshots at 1 and 1+MEMBERS members."""
    keys, n = rec.bench.keys, len(rec.bench.keys)
    counter = iter(range(1, 10**9))

    def unmeasured(txs):
        """A block that only prepares state: (outcomes, dispatch ns, events), like `Recorder.run`."""
        outcomes, _, dispatch_ns, _, events = rec.bench.block(txs)
        return outcomes, dispatch_ns, events

    def contribute_round(measure: bool = False) -> list[int]:
        """Every signer contributes once to its neighbour's DataNet; ids[i] is signer i's contribution."""
        txs = [(i, "datanet", "contribute", dn.Contribute(
            datanet=(i + 1) % n + 1, content_hash=blake2_256(next(counter).to_bytes(8, "big")), size=1000,
            format="text")) for i in range(n)]
        _, _, events = rec.run(txs) if measure else unmeasured(txs)
        return [dn.ContributionEvent.FromString(e.data).contribution for e in events if e.name == "Contributed"]

    def owner_of(i: int) -> int:
        """The owner of the DataNet signer i contributes to."""
        return (i + 1) % n

    rec.each(lambda i: dn.CreateDataNet(name=f"net-{i}", domain="text", license="CC0-1.0",
                                        contribution_deposit=encode_u128(ONE_OPEN), accepted_formats=["text"]),
             "datanet", "create_datanet")
    rec.each(lambda i: dn.UpdateMetadata(datanet=i + 1, description="described", license="CC-BY-4.0",
                                         accepted_formats=["text", "csv"]), "datanet", "update_metadata")
    rec.each(lambda i: dn.CuratorChange(datanet=i + 1, curator=keys[(i + 1) % n].public), "datanet", "add_curator")
    rec.each(lambda i: dn.CuratorChange(datanet=i + 1, curator=keys[(i + 1) % n].public), "datanet",
             "remove_curator")
    ids = contribute_round(measure=True)
    rec.run([(owner_of(i), "datanet", "approve", dn.Decide(contribution=ids[i])) for i in range(n)])
    rejected = contribute_round()
    rec.run([(owner_of(i), "datanet", "reject", dn.Decide(contribution=rejected[i], reason=1)) for i in range(n)])
    withdrawn = contribute_round()
    rec.run([(i, "datanet", "withdraw", dn.ContributionRef(contribution=withdrawn[i])) for i in range(n)])
    _, small, _ = unmeasured([(i, "datanet", "publish_snapshot", dn.PublishSnapshot(datanet=i + 1))
                              for i in range(n)])
    for _ in range(MEMBERS):
        more = contribute_round()
        unmeasured([(owner_of(i), "datanet", "approve", dn.Decide(contribution=more[i])) for i in range(n)])
    bound = rec.bench.chain.runtime.configs["datanet"].max_snapshot_contributions
    base = percentile(small, 0.9)  # one member
    rec.each(lambda i: dn.PublishSnapshot(datanet=i + 1), "datanet", "publish_snapshot",
             label=f"datanet.publish_snapshot (1 and {1 + MEMBERS} members, extrapolated to {bound})",
             at_bound=lambda large: base + max(0, large - base) / MEMBERS * (bound - 1))
    later = contribute_round()
    unmeasured([(owner_of(i), "datanet", "approve", dn.Decide(contribution=later[i])) for i in range(n)])
    rec.run([(owner_of(i), "datanet", "revoke", dn.Decide(contribution=later[i], reason=2)) for i in range(n)])
    taken, kept = contribute_round(), contribute_round()  # take_down's worst path: a pending one (its deposit)
    unmeasured([(owner_of(i), "datanet", "approve", dn.Decide(contribution=kept[i])) for i in range(n)])
    rec.run([(owner_of(i), "datanet", "take_down", dn.TakeDown(contribution=taken[i], reason=dn.TAKEDOWN_COPYRIGHT))
             for i in range(n)])
    rec.run([(i, "datanet", "withdraw", dn.ContributionRef(contribution=kept[i])) for i in range(n)],
            label="datanet.withdraw (approved)")
    # access to permissioned DataNets: signer i+2 asks for DataNet i+1's data, its owner grants then revokes
    rec.each(lambda i: dn.SetPermissioned(datanet=i + 1, permissioned=True), "datanet", "set_permissioned")
    rec.run([((i + 2) % n, "datanet", "request_access", dn.RequestAccess(datanet=i + 1, note="for a study"))
             for i in range(n)])
    rec.each(lambda i: dn.AccessChange(datanet=i + 1, account=keys[(i + 2) % n].public), "datanet", "grant_access")
    rec.each(lambda i: dn.AccessChange(datanet=i + 1, account=keys[(i + 2) % n].public), "datanet",
             "revoke_access")
    unmeasured([(i, "datanet", "set_permissioned", dn.SetPermissioned(datanet=i + 1, permissioned=False))
                for i in range(n)])  # public again: the models below cite these DataNets


def model_calls(rec: Recorder) -> None:
    """Signer i registers base model i+1 and model i+1, citing CITED DataNets' first snapshots."""
    n = len(rec.bench.keys)
    rec.each(lambda i: mr.RegisterBaseModel(artifact_hash=blake2_256(b"base" + bytes([i % 256, i // 256])),
                                            architecture="mlp", license="MIT"), "modelregistry", "register_base_model")
    rec.each(lambda i: mr.RegisterModel(
        base_model=i + 1, snapshots=[mr.SnapshotRef(datanet=(i + k) % n + 1, version=2) for k in range(CITED)],
        training_config_hash=blake2_256(b"cfg%d" % i), artifact_hash=blake2_256(b"model%d" % i),
        attribution_method=mr.GRADIENT, attribution_index_hash=blake2_256(b"index%d" % i),
        price_per_inference=encode_u128(PRICE),
        split=mr.RewardSplit(contributors=7000, model_owner=2000, protocol=500, worker=500)),
        "modelregistry", "register_model")
    rec.each(lambda i: mr.UpdatePrice(model=i + 1, price_per_inference=encode_u128(PRICE)), "modelregistry",
             "update_price")


def inference_calls(rec: Recorder) -> list[inf.Request]:
    """Every signer bonds as a worker serving CITED models; every signer pays for one inference."""
    n = len(rec.bench.keys)
    rec.each(lambda i: inf.RegisterWorker(endpoint=f"127.0.0.1:{1000 + i}", device="cpu",
                                          models=[(i + k) % n + 1 for k in range(CITED)],
                                          bond=encode_u128(100 * ONE_OPEN)), "inference", "register_worker")
    bound = rec.bench.chain.runtime.configs["inference"].max_workers_per_model
    _, _, events = rec.each(lambda i: inf.RequestInference(model=(i + 5) % n + 1, input=b"q%05d" % i,
                                                           max_fee=encode_u128(PRICE)),
                            "inference", "request_inference",
                            label=f"inference.request_inference (measured at {CITED} workers/model, "
                                  f"extrapolated to {bound})", at_bound=lambda p90: p90 * bound / CITED)
    ids = [inf.InferenceRequested.FromString(e.data).request for e in events if e.name == "InferenceRequested"]
    return [rec.bench.query("inference", "get_request", inf.RequestRef(request=r), inf.Request) for r in ids]


def validators_calls(rec: Recorder) -> None:
    """Every signer becomes a validator candidate, adds to its bond, unbonds part of it, misses a whole
    downtime window of blocks (CometBFT's votes say absent) and is jailed, then unjails when the jail
    period is over."""
    keys = [Keypair.from_uri(f"//weights-{i}//consensus").public for i in range(len(rec.bench.keys))]
    rec.each(lambda i: vd.Bond(consensus_key=keys[i], amount=encode_u128(200 * ONE_OPEN)), "validators", "bond")
    rec.each(lambda i: vd.BondExtra(amount=encode_u128(50 * ONE_OPEN)), "validators", "bond_extra")
    rec.each(lambda i: vd.Unbond(amount=encode_u128(100 * ONE_OPEN)), "validators", "unbond")
    absent = system_pb2.NoteConsensus(votes=[system_pb2.ConsensusVote(validator=consensus_address(key), power=150,
                                                                      absent=True) for key in keys])
    for _ in range(DOWNTIME_WINDOW):
        rec.bench.block([], (inherent_extrinsic(make_call(system.NAME, 2, absent)),))
    rec.each(lambda i: vd.Unjail(), "validators", "unjail")


def _result(bench: Bench, worker: int, request: inf.Request, salt: bytes = b"", tail: bool = False):
    """A signed result crediting one contribution of each snapshot the model cites, with proofs; with `tail`,
    half the pool goes to a tail of one full page - other members of those snapshots, as many distinct ones
    as they hold (`tail_proofs`) - handed out beside the signed result."""
    model = bench.query("modelregistry", "get_model", mr.ModelRequest(model=request.model), mr.Model)
    scores, proofs = [], []
    for ref, snap in _cited_snapshots(bench, model):
        proof = snap.proofs[0]
        scores.append(at.ContributionScore(contribution_id=proof.leaf.contribution_id,
                                            contributor=proof.leaf.contributor,
                                            score_ppb=10**9 // CITED // (2 if tail else 1)))
        proofs.append(at.ContributionProof(datanet=ref.datanet, version=ref.version, proof=proof))
    leaves = sorted((at.ContributionScore(contribution_id=p.proof.leaf.contribution_id,
                                          contributor=p.proof.leaf.contributor, score_ppb=10**9 // 2 // TAIL_PAGE)
                     for p in tail_proofs(bench, model)) if tail else [], key=lambda leaf: leaf.contribution_id)
    key = bench.keys[worker]
    body = at.AttributionResult(model_hash=model.artifact_hash, index_hash=model.attribution_index_hash,
                                input_hash=request.input_hash, output_hash=blake2_256(b"out" + salt),
                                method="gradient", params_json="{}", worker=key.public,
                                request_id=request_id_bytes(request.id), draw_seed=request.draw_seed,
                                top_k=scores, tail_root=tail_root(leaves),
                                tail_ppb=sum(leaf.score_ppb for leaf in leaves),
                                tail_contributions=len(leaves)).SerializeToString(deterministic=True)
    signed = at.SignedAttribution(result=body, signature=key.sign(body), tail=leaves)
    return at.SubmitResult(request=request.id, signed_attribution=signed.SerializeToString(), proofs=proofs)


def _cited_snapshots(bench: Bench, model: mr.Model):
    for ref in model.snapshots:
        yield ref, bench.query("datanet", "get_snapshot", dn.SnapshotRequest(datanet=ref.datanet, version=ref.version),
                               dn.SnapshotWithProofs)


def tail_proofs(bench: Bench, model: mr.Model) -> list[at.ContributionProof]:
    """A full page's worth of the cited snapshots' members past each one's first (the listed ones), distinct
    as far as they go (then again from the start: a page's leaves are paid as they are)."""
    found = [at.ContributionProof(datanet=ref.datanet, version=ref.version, proof=proof)
             for ref, snap in _cited_snapshots(bench, model) for proof in snap.proofs[1:]]
    return [p for _, p in zip(range(TAIL_PAGE), itertools.cycle(found or [None]))]


def attribution_calls(rec: Recorder, requests: list[inf.Request]) -> None:
    bench = rec.bench
    index_of = {k.public: i for i, k in enumerate(bench.keys)}
    rec.run([(index_of[r.workers[0]], "attribution", "submit_result", _result(bench, index_of[r.workers[0]], r))
             for r in requests])
    serving = {}  # model -> signers serving it
    for i in range(len(bench.keys)):
        for k in range(CITED):
            serving.setdefault((i + k) % len(bench.keys) + 1, []).append(i)
    challenges = []
    for r in requests:
        challenger = next(w for w in serving[r.model] if bench.keys[w].public not in r.workers)
        submit = _result(bench, challenger, r, salt=b"challenge")
        challenges.append((challenger, "attribution", "challenge", at.Challenge(
            request=r.id, signed_attribution=submit.signed_attribution, proofs=submit.proofs)))
    _, _, events = rec.run(challenges)
    votes = []
    for event in events:
        if event.name == "Challenged":
            challenged = at.Challenged.FromString(event.data)
            request = next(r for r in requests if r.id == challenged.request)
            for juror in challenged.jury:
                submit = _result(bench, index_of[juror], request)
                votes.append((index_of[juror], "attribution", "vote", at.Challenge(
                    request=request.id, signed_attribution=submit.signed_attribution, proofs=submit.proofs)))
    rec.run(votes)


def tail_calls(rec: Recorder) -> None:
    """Every signer pays for two more inferences, answered (unmeasured) by results whose tail is one full page;
    then every signer pays one of those tails - the last page's path, which also sends the rounding to the
    model owner - and, once their window (1 block here) is over, closes another."""
    bench, n = rec.bench, len(rec.bench.keys)
    *_, events = bench.block([(i, "inference", "request_inference", inf.RequestInference(
        model=(i + 7 + k) % n + 1, input=b"t%d-%05d" % (k, i), max_fee=encode_u128(PRICE)))
        for k in range(2) for i in range(n)])
    requests = [bench.query("inference", "get_request", inf.RequestRef(request=r), inf.Request)
                for r in (inf.InferenceRequested.FromString(e.data).request for e in events
                          if e.name == "InferenceRequested")]
    index_of = {k.public: i for i, k in enumerate(bench.keys)}
    submitted = [_result(bench, index_of[r.workers[0]], r, tail=True) for r in requests]
    bench.block([(index_of[r.workers[0]], "attribution", "submit_result", s)
                 for r, s in zip(requests, submitted, strict=True)])
    pages = []
    for i, (request, submit) in enumerate(zip(requests[:n], submitted, strict=False)):
        model = bench.query("modelregistry", "get_model", mr.ModelRequest(model=request.model), mr.Model)
        leaves = list(at.SignedAttribution.FromString(submit.signed_attribution).tail)
        pages.append((i, "attribution", "pay_tail", at.PayTail(request=request.id, leaves=leaves,
                                                                proofs=tail_proofs(bench, model))))
    rec.run(pages)
    rec.run([(i, "attribution", "close_tail", at.CloseTail(request=r.id)) for i, r in enumerate(requests[n:])])


def owed_calls(rec: Recorder) -> None:
    """claim_owed for every signer, each owed just under the existential deposit: the state a contributor
    whose account was empty at its payments reaches, written directly (unmeasured) before the measured block."""
    chain, keys = rec.bench.chain, rec.bench.keys
    rec.bench.timestamp += 6000
    chain.initialize_block(keys[0].public)
    chain.apply_extrinsic(inherent_extrinsic(make_call(system.NAME, 0,
                                                       system_pb2.SetTimestamp(now_ms=rec.bench.timestamp))))
    ctx = chain._pending().ctx
    with ctx.acting_as("attribution"):
        owed = token.existential_deposit(ctx) - 1
        for key in keys:
            token.transfer(ctx, keys[0].public, OWED_TO_CONTRIBUTORS, owed, keep_alive=True)
            Owed.insert(ctx, key.public, owed)
    chain.finalize_block()
    chain.commit(chain.seal(keys[0]))
    rec.each(lambda i: at.ClaimOwed(contributor=keys[i].public), "attribution", "claim_owed")


# --- the pallets' weights.py files ---------------------------------------------------------------
PALLETS_DIR = Path(__file__).resolve().parent.parent / "pallets"
TITLES = {"token": "token pallet", "datanet": "DataNet pallet", "modelregistry": "model registry",
          "inference": "inference pallet", "attribution": "attribution pallet", "validators": "validators pallet"}

# Each weight's reads and writes: the most any path of its calls performs, as Python expressions (so the
# bound's arithmetic stays readable), with an optional comment. The bench measures the paths it builds
# and refuses to write a bound that a measured count exceeds.
WORST_CASE: dict[str, dict[str, tuple[str, str, str]]] = {
    "token": {
        "TRANSFER": ("3", "3", ""),
        "TRANSFER_KEEP_ALIVE": ("3", "3", ""),
        "BOND": ("1", "1", ""),
        "UNBOND": ("4", "1", ""),
        "WITHDRAW_UNBONDED": ("2", "2", ""),
    },
    "datanet": {
        "CREATE": ("3", "5", ""),
        "CONTRIBUTE": ("6", "8", ""),
        "APPROVE": ("4", "5", ""),
        "REJECT": ("6", "6", ""),
        "WITHDRAW": ("3", "5", ""),
        "REVOKE": ("2", "3", ""),
        "PUBLISH": ("2 + 2 * 1000", "2", "2 reads per member, up to 1000"),
        "CURATOR": ("1", "1", ""),
        "METADATA": ("1", "2", ""),
        "SET_PERMISSIONED": ("1", "1", ""),
        "ACCESS": ("2", "1", ""),
    },
    "modelregistry": {
        "REGISTER_BASE": ("1", "2", ""),
        "REGISTER": ("2 + 4 * 16", "4 + 16", ""),
        "UPDATE_PRICE": ("1", "1", ""),
        "DEPRECATE": ("1", "1", ""),
        "TRANSFER": ("1", "3", ""),
    },
    "inference": {
        "REGISTER": ("3 + 16", "3 + 16", ""),
        "DEREGISTER": ("2", "2 + 16", ""),
        "REQUEST": ("9 + 2 * 64", "7", ""),
    },
    "attribution": {
        "SUBMIT": ("40 + 16 + 4 * 30 + 3 * 16", "10 + 3 * 30 + 3 * 16", ""),
        "CHALLENGE": ("40 + 16 + 2 * 64", "4", ""),
        "VOTE": ("40 + 16 + 4 * 8", "6 + 2 * 8", ""),
        "CLAIM_OWED": ("4", "3", ""),
        "PAY_TAIL": ("3 + 2 * 4 + 13 * 32", "1 + 2 * 3 + 8 * 32", ""),
        "CLOSE_TAIL": ("3", "3", ""),
    },
    "validators": {
        "BOND": ("3", "4", ""),
        "BOND_EXTRA": ("2", "2", ""),
        "UNBOND": ("2", "3", ""),
        "UNJAIL": ("1", "1", ""),
    },
}

# What each pallet's worst paths are, and how the bench reaches them (the files' docstrings quote it).
NOTES = {
    "token": """\
unbond reads the account twice (its bond, then the unbond) and what other pallets' records stand on
(`payable_bond_claimed`: a validator candidate's record and an inference worker's, one read each), so a
candidacy's or a worker's bond cannot leave through it.""",
    "datanet": """\
Each reserve/unreserve through the token pallet is one read and one write. publish_snapshot reads every
approved contribution, up to `max_snapshot_contributions` (1000): measured at 1 and 17 members and
extrapolated linearly to 1000. request_access, grant_access and revoke_access read the DataNet and the
account's access record and write the record: one weight, ACCESS. contribute also indexes the content
hash (who may read a blob is decided by the DataNets holding it): one more write. take_down does what
withdraw does, plus reading the DataNet (the caller must curate it): it shares WITHDRAW, measured on its
worst path (a pending contribution: its deposit is released); withdraw of an approved contribution does
less than of a pending one (no deposit to release), measured too.""",
    "modelregistry": """\
register_model reads the base model and, per cited snapshot (at most 16), the DataNet and the
snapshot, then the DataNet again and the owner's access record (permissioned DataNets); it is
measured citing 16 (50 reads measured, the re-read DataNet served from the overlay; 4 per snapshot
declared). It writes the model, the next id, the owner's and the artifact's index entries and one
DataNet index entry per cited DataNet (4 + 16; the artifact index was once left out of the count).""",
    "inference": """\
register_worker is measured serving 16 models. request_inference reads every worker serving the
model (bounded by max_workers_per_model = 64): measured with 16 workers per model and scaled linearly
to 64; it also reads the model's base record (its context), one read more. The first request of a block
notes where the block's requests start (one read, one write), and the next block's start stamps each
request with its draw seed (one read and one write, declared here: the request pays for it).""",
    "attribution": """\
submit_result verifies an ed25519 signature and up to 16 Merkle proofs, reads the request, the
worker, the model and up to 16 snapshots; settling pays up to 16 contributors plus owner, protocol
and up to 8 workers, each payment two token reads and writes plus the contributor's statistics. A
contributor's payment also reads what is held for it (`Owed`), and on its worst path - a held amount paid
out with it - moves that from OWED_TO_CONTRIBUTORS (two token reads and writes) and clears the entry: three
reads and three writes more per contributor, declared. The bench measures the worst path it can build: 16
credited contributions, each with its proof, settled at once (replication 1); vote is measured resolving
the dispute. claim_owed reads what is held, the contributor's account and the two balances a transfer out
of OWED_TO_CONTRIBUTORS reads, writes them and clears the entry: measured on entries the bench writes
into the state beforehand (a contributor's account emptied between its payments is a long story to play).
pay_tail hashes a page of up to 32 leaves, verifies each leaf's Merkle proof (reading its snapshot) and
reads its contribution, then pays it as settling pays a contributor (the same reads and writes, the held
path included); the last page also pays the rounding to the model owner (and a shortfall to the treasury:
two payments more, declared) and removes the tail: measured on
last pages of 32 leaves (other members of the snapshots a 16-credit result cites). close_tail reads the
tail and the two balances of its transfer to the treasury, writes them and removes the tail. Both came
after the last full run and were measured by this loop on a slower VM (the same run's claim_owed at 114 µs
p90 against the 47 µs recorded here): their figures are on the high side, and the next full `--write`
replaces them (and measures submit_result on snapshots of 17 members, which the models cite since).""",
    "validators": """\
The election and fee payout run in `on_finalize`, not in a call: their cost (one pass over the
candidates at an epoch's end, one transfer per signer of the previous block) is the block's, and so is
the downtime count (per vote of the previous block's commit, three reads and one write, in the consensus
inherent). unbond of the whole bond also forgets the candidate's missed-block window: one write more
than the partial unbond the bench measures. unjail is measured on candidates jailed for downtime by a
whole window of absent votes, once their jail period is over; it came after the last full run and was
measured by this loop's validators part alone (64 signers, 100,000 filler accounts, 3 runs, on a busy
machine: 10.8 µs p90 at most), so the next full `--write` replaces its figures.""",
}

RECORD_FIELDS = ("MACHINE", "DATE", "COMMAND", "RUNS", "MARGIN", "MEASURED_P90_NS")


def _int(n: int) -> str:
    return f"{n:_}"


def _str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _str_assignment(name: str, text: str, width: int = 120) -> str:
    """`NAME = "text"`, as adjacent literals in parentheses, split at spaces, when one line would pass `width`."""
    if len(f"{name} = {_str(text)}") <= width:
        return f"{name} = {_str(text)}"
    indent, parts, current = " " * (len(name) + 4), [], ""
    for word in text.split(" "):
        piece = f"{current} {word}" if current else word
        if current and len(indent) + len(_str(piece)) + 1 > width:
            parts.append(current + " ")
            piece = word
        current = piece
    parts.append(current)
    return f"{name} = (" + f"\n{indent}".join(_str(part) for part in parts) + ")"


def render(pallet: str, record: dict) -> str:
    """The text of `pallets/<pallet>/weights.py` for a record: MACHINE, DATE, COMMAND, RUNS, MARGIN,
    MEASURED_P90_NS (weight name -> largest p90 dispatch ns of the calls sharing it) and REF_TIME_NS
    (weight name -> declared ns); reads and writes come from WORST_CASE, the reasoning from NOTES."""
    bounds = WORST_CASE[pallet]
    if set(record["MEASURED_P90_NS"]) != set(bounds) or set(record["REF_TIME_NS"]) != set(bounds):
        raise ValueError(f"{pallet}: the record's weights {sorted(record['REF_TIME_NS'])} are not "
                         f"WORST_CASE's {sorted(bounds)}")
    notes = NOTES[pallet]
    runs = record["RUNS"]
    lines = [
        f'"""Declared call weights for the {TITLES[pallet]}.',
        "",
        "Generated by bench/weights.py --write; do not edit by hand (tests/test_weights_files.py checks that this",
        "file is exactly what the generator renders). Measured on MACHINE, DATE, by COMMAND; MEASURED_P90_NS is",
        f"the largest p90 dispatch time of {'the run' if runs == 1 else f'the {runs} runs'} for the calls sharing "
        "each weight (at the declared bound",
        "for calls whose cost grows with a bounded list). ref_time_ns covers it with a margin for the machine's",
        "run-to-run noise (MARGIN x, rounded up to 5 µs, when the generator derives it); reads/writes are the most",
        "any path of the call performs (bench/weights.py's WORST_CASE: the bench checks the measured counts stay",
        "within them, and the fuzzing harness checks them on every dispatch).",
    ]
    if notes:
        lines += ["", *notes.splitlines()]
    lines += ['"""', "", "from runtime.weights import Weight", ""]
    lines += [f"MACHINE = {_str(record['MACHINE'])}", f"DATE = {_str(record['DATE'])}",
              _str_assignment("COMMAND", record["COMMAND"]), f"RUNS = {runs!r}", f"MARGIN = {record['MARGIN']!r}",
              "MEASURED_P90_NS = {"]
    lines += [f"    {_str(name)}: {_int(record['MEASURED_P90_NS'][name])}," for name in bounds]
    lines += ["}", ""]
    for name, (reads, writes, comment) in bounds.items():
        line = f"{name} = Weight(ref_time_ns={_int(record['REF_TIME_NS'][name])}, reads={reads}, writes={writes})"
        lines.append(line + (f"  # {comment}" if comment else ""))
    return "\n".join(lines) + "\n"


def read_record(text: str) -> dict:
    """The record a weights file was rendered from (its module-level literals and Weight ref_times)."""
    record: dict = {"REF_TIME_NS": {}}
    for node in ast.parse(text).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        if name in RECORD_FIELDS:
            record[name] = ast.literal_eval(node.value)
        elif isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "Weight":
            ref = next(k.value for k in node.value.keywords if k.arg == "ref_time_ns")
            record["REF_TIME_NS"][name] = ast.literal_eval(ref)
    return record


def bound_value(expression: str) -> int:
    """The value of a WORST_CASE bound: a sum of products of integers ("40 + 16 + 4 * 30")."""
    return sum(math.prod(int(factor) for factor in term.split("*")) for term in expression.split("+"))


def weight_names(pallet: str) -> dict[str, str]:
    """call name -> the name of the weight constant it declares, from the pallet's weights module."""
    module = importlib.import_module(f"pallets.{pallet}.weights")
    constants = {id(value): name for name, value in vars(module).items() if isinstance(value, Weight)}
    return {d.name: constants[id(d.weight)] for d in load_pallet(pallet).calls.by_index.values()
            if id(d.weight) in constants}


def derive(pallet: str, rows: list[dict], *, machine: str, command: str, runs: int, margin: float) -> dict:
    """A weights file's record from the measured rows (all runs): each weight's largest p90 at its bound,
    and ref_time = margin x that, rounded up to 5 µs. Refuses when a measured count exceeds its bound."""
    names = weight_names(pallet)
    measured: dict[str, int] = {}
    for row in rows:
        if row["pallet"] != pallet:
            continue
        const = names[row["name"]]
        reads, writes = (bound_value(e) for e in WORST_CASE[pallet][const][:2])
        if row["measured"]["max_reads"] > reads or row["measured"]["max_writes"] > writes:
            raise SystemExit(f"{row['call']}: measured {row['measured']['max_reads']} reads / "
                             f"{row['measured']['max_writes']} writes, above WORST_CASE's {reads} / {writes}")
        measured[const] = max(measured.get(const, 0), row["measured"]["at_bound_ns"])
    step = 5_000
    return {"MACHINE": machine, "DATE": datetime.date.today().isoformat(), "COMMAND": command, "RUNS": runs,
            "MARGIN": margin, "MEASURED_P90_NS": measured,
            "REF_TIME_NS": {k: -(-int(margin * v) // step) * step for k, v in measured.items()}}


def measure(samples: int, filler: int) -> Recorder:
    """One run of the whole loop on a fresh RocksDB chain."""
    with tempfile.TemporaryDirectory(prefix="payable-weights-") as tmp:
        bench = Bench(Path(tmp) / "db", samples, filler)
        rec = Recorder(bench)
        token_calls(rec)
        datanet_calls(rec)
        model_calls(rec)
        attribution_calls(rec, inference_calls(rec))
        tail_calls(rec)
        owed_calls(rec)
        validators_calls(rec)
        n = len(bench.keys)
        rec.each(lambda i: mr.TransferOwnership(model=i + 1, new_owner=bench.keys[(i + 1) % n].public),
                 "modelregistry", "transfer_ownership")
        rec.run([((i + 1) % n, "modelregistry", "deprecate", mr.ModelRef(model=i + 1)) for i in range(n)])
        rec.each(lambda i: inf.Deregister(), "inference", "deregister_worker")
        bench.chain.close()
        bench.backend.close()
    return rec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64, help="signers, i.e. dispatches per call (>= 20)")
    parser.add_argument("--filler", type=int, default=100_000, help="extra funded accounts in the state")
    parser.add_argument("--runs", type=int, default=1, help="runs of the whole loop (the largest p90 counts)")
    parser.add_argument("--write", action="store_true", help="write the pallets' weights.py files")
    parser.add_argument("--margin", type=float, default=1.3, help="ref_time = margin x the largest p90 (--write)")
    parser.add_argument("--out", type=Path, default=PALLETS_DIR, help="where the pallet folders are (--write)")
    parser.add_argument("--pallets", nargs="+", choices=sorted(WORST_CASE), default=sorted(WORST_CASE),
                        help="the pallets whose files --write writes (all by default; the loop runs whole)")
    args = parser.parse_args()
    if args.samples < 20:
        parser.error("--samples must be at least 20 (each model cites 16 DataNets)")
    params = RuntimeParams()
    recs = [measure(args.samples, args.filler) for _ in range(args.runs)]
    rows = [row for rec in recs for row in rec.rows]
    db = params.db_weights
    base = max(percentile(rec.base_ns, 0.9) for rec in recs)
    per_key = max(max(rec.per_key) for rec in recs)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    report = {"benchmark": "weights", "machine": machine, "runs": args.runs,
              "samples_per_call": args.samples, "filler_accounts": args.filler, "calls": rows,
              "uncovered": sorted({r["call"] for r in rows if not r["covered"]}),
              "base_extrinsic": {"declared_ns": params.block.base_extrinsic_ns, "measured_p90_ns": base,
                                 "covered": params.block.base_extrinsic_ns >= base},
              "write_commit_per_key": {"declared_write_ns": db.write_ns, "measured_ns": int(per_key),
                                       "covered": db.write_ns >= per_key}}
    if args.write:
        command = (f"python bench/weights.py --samples {args.samples} --filler {args.filler} --runs {args.runs} "
                   f"--write --margin {args.margin}"
                   + (f" --pallets {' '.join(args.pallets)}" if sorted(args.pallets) != sorted(WORST_CASE) else ""))
        report["written"] = []
        for pallet in args.pallets:
            record = derive(pallet, rows, machine=machine, command=command, runs=args.runs, margin=args.margin)
            path = args.out / pallet / "weights.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(pallet, record))
            report["written"].append(str(path))
    print(json.dumps(report, indent=2))

if __name__ == "__main__":
    main()
