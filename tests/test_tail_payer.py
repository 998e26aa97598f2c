"""The worker's tail payer on its own: what it keeps on disk, what it does with files it cannot use, and when
it submits a page again. The chain is a stand-in answering the three queries the payer makes (the real
chain and a real follower pay tails in tests/test_worker_on_chain.py)."""

from __future__ import annotations

from gpu_worker.tail_payer import RETRY_BLOCKS, TailPayer
from payable.attribution.v1 import attribution_pb2 as at
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from sdk.client import ClientError
from sdk.wire import tail_page_hash, tail_pages, tail_root

ME = b"\x0e" * 32  # this worker's account
LEAVES = [at.ContributionScore(contribution_id=i, contributor=bytes([i]) * 32, score_ppb=1000 + i) for i in range(1, 4)]


class Chain:
    """Requests 5 (pending: its tail open, committed to LEAVES) and 6 (settled, tail paid out)."""

    genesis_hash = b"\x07" * 32

    def __init__(self):
        self.tail_open = True
        self.tail_worker = ME

    def pallet_query(self, pallet, name, request, response_type):
        if name == "get_request":
            if request.request not in (5, 6):
                raise ClientError(f"NOT_FOUND: no inference request {request.request}")
            return inf.Request(id=request.request, model=1,
                               status=inf.PENDING if request.request == 5 else inf.SETTLED)
        if name == "get_model":
            return mr.Model(id=1)
        if name == "get_tail" and request.request == 5 and self.tail_open:
            return at.Tail(request=5, next=tail_root(LEAVES))
        if name == "get_settlement" and request.request == 5:
            return at.Settlement(request=5, tail_root=tail_root(LEAVES), tail_worker=self.tail_worker)
        raise ClientError(f"NOT_FOUND: request {request.request} has no tail left to pay")

    def call_with(self, pallet, name, args):
        return (name, args)


def _payer(tmp_path, submitted):
    return TailPayer(tmp_path, ME, lambda client, call: submitted.append(call) or b"",
                     lambda client, model, cid: at.ContributionProof())


def test_files_it_cannot_use_are_set_aside_or_dropped_and_the_rest_is_kept_per_chain(tmp_path):
    chain = Chain()
    folder = tmp_path / chain.genesis_hash.hex()
    folder.mkdir()
    signed = at.SignedAttribution(result=b"r", signature=b"s", tail=LEAVES).SerializeToString()
    (folder / "5.bin").write_bytes(signed)
    (folder / "9.bin").write_bytes(signed)  # a request this chain never had (a data directory reused)
    (folder / "x.bin").write_bytes(signed)
    (folder / "8.bin").write_bytes(b"\xff\xff not a message")
    payer = _payer(tmp_path, [])
    payer.open(chain)
    assert payer.held() == [5]
    assert sorted(p.name for p in folder.iterdir()) == ["5.bin", "8.bad", "x.bad"]
    payer.keep(6, mr.Model(id=1), at.SignedAttribution(result=b"r", signature=b"s", tail=LEAVES))
    assert payer.held() == [5, 6] and (folder / "6.bin").exists()
    payer.stop()


def test_a_page_is_submitted_once_then_again_if_the_chain_has_not_moved_on_and_a_closed_tail_is_forgotten(tmp_path):
    chain, submitted = Chain(), []
    payer = _payer(tmp_path, submitted)
    payer.open(chain)
    payer.keep(5, mr.Model(id=1), at.SignedAttribution(result=b"r", signature=b"s", tail=LEAVES))
    payer._pay_all(chain, 10)
    ((name, page),) = submitted
    assert name == "pay_tail" and list(page.leaves) == LEAVES and page.next == b""
    assert tail_page_hash(page.leaves, page.next) == tail_root(LEAVES) == tail_page_hash(*tail_pages(LEAVES)[0])
    payer._pay_all(chain, 10 + RETRY_BLOCKS - 1)
    assert len(submitted) == 1  # in flight: not again yet
    payer._pay_all(chain, 10 + RETRY_BLOCKS)
    assert len(submitted) == 2  # not paid meanwhile (dropped with a restarted node's pool): again
    chain.tail_open = False  # paid; request 5 still pending here, so the tail is kept until it is not
    payer._pay_all(chain, 20)
    assert payer.held() == [5]
    payer.keep(6, mr.Model(id=1), at.SignedAttribution(result=b"r", signature=b"s", tail=LEAVES))
    payer._pay_all(chain, 21)
    assert payer.held() == [5] and not (tmp_path / chain.genesis_hash.hex() / "6.bin").exists()  # settled, done
    payer.stop()


def test_only_the_worker_the_settlement_names_pays_a_tail_the_others_forget_theirs(tmp_path):
    """Replicas holding the same tail would send the same page in the same block; all but one would be
    dropped, leaving gaps in their nonces. The settlement names one worker; the others drop the tail."""
    chain, submitted = Chain(), []
    chain.tail_worker = b"\x0f" * 32
    payer = _payer(tmp_path, submitted)
    payer.open(chain)
    payer.keep(5, mr.Model(id=1), at.SignedAttribution(result=b"r", signature=b"s", tail=LEAVES))
    payer._pay_all(chain, 10)
    assert submitted == [] and payer.held() == []
    assert not any((tmp_path / chain.genesis_hash.hex()).iterdir())
    payer.stop()
