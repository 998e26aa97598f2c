"""Stateful property test of the DataNet lifecycle against a plain model of what should happen.

Deposits are conserved against on-chain balances (reserved + returned + slashed = paid, with the
treasury receiving exactly the slashed deposits plus its share of fees); a rejected, withdrawn, revoked or
taken-down contribution never appears in a later snapshot; every snapshot's proofs verify; published
snapshots never change.
"""

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from pallets.token import interface as token
from payable.datanet.v1 import datanet_pb2 as pb
from runtime.chainspec import dev_spec
from runtime.codec import ONE_OPEN, encode_u128
from runtime.crypto import Keypair
from runtime.executive import Executive
from runtime.merkle import verify_merkle_proof
from runtime.protocol import TREASURY
from sdk.wire import leaf_bytes

DEPOSIT = ONE_OPEN
CURATOR = Keypair.from_uri("//Alice")
CONTRIBUTORS = [Keypair.from_uri(u) for u in ("//Bob", "//Charlie", "//Dave")]
OUTSIDER = Keypair.from_uri("//Eve")
CONTENTS = [bytes([i]) * 32 for i in range(1, 7)]


class DataNetLifecycle(RuleBasedStateMachine):
    @initialize()
    def start(self):
        from conftest import DevChain

        self.chain = DevChain(Executive.open(dev_spec()))
        self.treasury_expected = self._treasury()
        self.call(CURATOR, "create_datanet", pb.CreateDataNet(name="lifecycle", domain="test", license="CC-BY-4.0",
                                                              contribution_deposit=encode_u128(DEPOSIT),
                                                              accepted_formats=["csv"]),
                  ok=True)
        self.net = 1
        self.status: dict[int, int] = {}     # contribution id -> status
        self.owner: dict[int, Keypair] = {}
        self.content: dict[int, bytes] = {}
        self.slashed = 0
        self.snapshots: dict[int, tuple[bytes, list[int]]] = {}

    def _treasury(self) -> int:
        return token.free_balance(self.chain.ex.read_context(), TREASURY)

    def call(self, signer, name, args, ok: bool | None = None):
        built = self.chain.block(self.chain.sign(signer, "datanet", name, args))
        assert not built.rejected, built.rejected
        outcome = built.outcomes[0]
        fees = self.chain.ex.params.fees
        self.treasury_expected += fees.split(outcome.fee, 0)[1]
        if ok is not None:
            assert outcome.ok == ok, (name, outcome.error)
        return outcome

    def live(self, content: bytes) -> bool:
        return any(self.content[c] == content and s in (pb.PENDING, pb.APPROVED) for c, s in self.status.items())

    @rule(who=st.integers(0, 2), content=st.sampled_from(CONTENTS))
    def contribute(self, who, content):
        args = pb.Contribute(datanet=self.net, content_hash=content, size=10, format="csv")
        if self.live(content):  # refused at the pool's door: no block includes it, no fee is taken
            assert self.chain.run(CONTRIBUTORS[who], "datanet", "contribute", args)[0] == "DuplicateContent"
            return
        outcome = self.call(CONTRIBUTORS[who], "contribute", args)
        assert outcome.ok, outcome.error
        new_id = len(self.status) + 1
        self.status[new_id], self.owner[new_id], self.content[new_id] = pb.PENDING, CONTRIBUTORS[who], content

    def _some(self, data, preferred: int):
        """Mostly a contribution in the `preferred` status (the interesting case), sometimes any."""
        matching = sorted(c for c, s in self.status.items() if s == preferred)
        pool = matching if matching and data.draw(st.integers(0, 3)) else sorted(self.status)
        return data.draw(st.sampled_from(pool))

    @precondition(lambda self: self.status)
    @rule(data=st.data(), by_curator=st.sampled_from([True, True, True, False]),
          reject=st.sampled_from([False, False, True]))
    def decide(self, data, by_curator, reject):
        cid = self._some(data, pb.PENDING)
        signer = CURATOR if by_curator else OUTSIDER
        outcome = self.call(signer, "reject" if reject else "approve", pb.Decide(contribution=cid, reason=7))
        if self.status[cid] != pb.PENDING:
            assert type(outcome.error).__name__ == "NotPending"
        elif not by_curator:
            assert type(outcome.error).__name__ == "NotCurator"
        else:
            assert outcome.ok, outcome.error
            self.status[cid] = pb.REJECTED if reject else pb.APPROVED
            self.slashed += DEPOSIT if reject else 0
            self.treasury_expected += DEPOSIT if reject else 0

    @precondition(lambda self: self.status)
    @rule(data=st.data(), own=st.booleans(), approved=st.booleans())
    def withdraw(self, data, own, approved):
        cid = self._some(data, pb.APPROVED if approved else pb.PENDING)
        signer = self.owner[cid] if own else OUTSIDER
        outcome = self.call(signer, "withdraw", pb.ContributionRef(contribution=cid))
        if not own:
            assert type(outcome.error).__name__ == "NotContributor"
        elif self.status[cid] in (pb.WITHDRAWN, pb.TAKEN_DOWN):
            assert type(outcome.error).__name__ == "NotWithdrawable"
        else:
            assert outcome.ok
            self.status[cid] = pb.WITHDRAWN

    @precondition(lambda self: self.status)
    @rule(data=st.data())
    def revoke(self, data):
        cid = self._some(data, pb.APPROVED)
        outcome = self.call(CURATOR, "revoke", pb.Decide(contribution=cid, reason=9))
        if self.status[cid] != pb.APPROVED:
            assert type(outcome.error).__name__ == "NotApproved"
        else:
            assert outcome.ok
            self.status[cid] = pb.REVOKED

    @precondition(lambda self: self.status)
    @rule(data=st.data(), by_curator=st.sampled_from([True, True, False]), reason=st.integers(0, 6))
    def take_down(self, data, by_curator, reason):
        cid = self._some(data, pb.APPROVED)
        outcome = self.call(CURATOR if by_curator else OUTSIDER, "take_down", pb.TakeDown(contribution=cid,
                                                                                          reason=reason))
        if not by_curator:
            assert type(outcome.error).__name__ == "NotCurator"
        elif reason not in (1, 2, 3, 4, 5):
            assert type(outcome.error).__name__ == "BadInput"
        elif self.status[cid] in (pb.WITHDRAWN, pb.TAKEN_DOWN):
            assert type(outcome.error).__name__ == "NotWithdrawable"
        else:
            assert outcome.ok, outcome.error
            self.status[cid] = pb.TAKEN_DOWN

    @precondition(lambda self: any(s == pb.APPROVED for s in self.status.values()))
    @rule()
    def publish(self):
        outcome = self.call(CURATOR, "publish_snapshot", pb.PublishSnapshot(datanet=self.net))
        approved = sorted(c for c, s in self.status.items() if s == pb.APPROVED)
        assert outcome.ok, outcome.error
        version = len(self.snapshots) + 1
        response = pb.SnapshotWithProofs.FromString(self.chain.ex.query(
            "datanet", "get_snapshot", pb.SnapshotRequest(datanet=self.net, version=version).SerializeToString()))
        assert list(response.snapshot.contribution_ids) == approved  # nothing rejected/withdrawn/revoked
        self.snapshots[version] = (response.snapshot.root, approved)

    @invariant()
    def deposits_are_conserved(self):
        if not hasattr(self, "chain"):
            return
        ctx = self.chain.ex.read_context()
        for keypair in CONTRIBUTORS:
            pending = sum(DEPOSIT for c, s in self.status.items() if s == pb.PENDING and self.owner[c] == keypair)
            assert token.account(ctx, keypair.public).reserved == pending
        assert self._treasury() == self.treasury_expected  # slashed deposits (and fee shares), nothing else

    @invariant()
    def old_snapshots_never_change_and_all_proofs_verify(self):
        if not hasattr(self, "chain"):
            return
        for version, (root, ids) in self.snapshots.items():
            response = pb.SnapshotWithProofs.FromString(self.chain.ex.query(
                "datanet", "get_snapshot", pb.SnapshotRequest(datanet=self.net, version=version).SerializeToString()))
            assert response.snapshot.root == root and list(response.snapshot.contribution_ids) == ids
            for proof in response.proofs:
                assert verify_merkle_proof(root, leaf_bytes(proof.leaf), proof.index, proof.count,
                                           list(proof.siblings))
        self.chain.ex.try_state()

    def teardown(self):
        if hasattr(self, "chain"):
            self.chain.ex.close()


DataNetLifecycle.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestDataNetLifecycle = pytest.mark.slow(DataNetLifecycle.TestCase)
