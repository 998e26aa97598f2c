"""What withdrawn data earns (issue 30 §2), through the real settlement path: a real classifier, the worker's
real gradient attribution, results submitted and settled in-process (the world of
test_attribution_settlement). A contribution withdrawn at or before a request's block earns nothing from it and
its share goes to the other credited contributions; a request made before the withdrawal still pays it."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the worker extra is part of `make test`'s install")

import test_attribution_settlement as paid

from payable.attribution.v1 import attribution_pb2 as at
from payable.datanet.v1 import datanet_pb2 as dn
from payable.inference.v1 import inference_pb2 as inf
from runtime.codec import decode_u128, encode_u128

trained = paid.trained  # the same module-scoped fixture: a trained classifier, its gradient index, an input


def _settle(chain, trained, request_id):
    worker, model_hash, index_hash, x = trained
    request = paid._get_request(chain, request_id)
    key = paid._keys()[request.workers[0]]
    signed = paid._attribute(chain, worker, model_hash, index_hash, x, request_id=request_id, key=key)
    assert paid._submit(chain, key, signed, paid._proofs(chain, signed), request_id=request_id).ok
    settlement = at.Settlement.FromString(chain.ex.query("attribution", "get_settlement", at.SettlementRequest(
        request=request_id).SerializeToString()))
    credited = [s.contribution_id for s in at.AttributionResult.FromString(signed.result).top_k]
    paid_to = {p.contribution_id: decode_u128(p.amount) for p in settlement.payments if p.role == "contributor"}
    return request, credited, paid_to


BEFORE = 6  # requests made while contribution 1 is approved


def test_withdrawn_data_earns_nothing_from_later_requests_and_its_share_goes_to_the_others(make_chain, trained):
    chain = paid._world(make_chain, trained, deadline_blocks=20)  # the requests before settle after the withdrawal
    pool = paid.PRICE * 7000 // 10_000
    x = trained[3]
    first = paid._request(chain, x)  # requests 1..BEFORE: made while contribution 1 (Bob's) is approved
    for _ in range(BEFORE - 1):
        paid._ok(chain, chain.dave, "inference", "request_inference", inf.RequestInference(
            model=1, input=x.astype("<f4").tobytes(), max_fee=encode_u128(paid.PRICE)))
    withdrawal = chain.block(chain.sign(chain.bob, "datanet", "withdraw", dn.ContributionRef(contribution=1)))
    assert withdrawal.outcomes[0].ok and withdrawal.header.number > first.created_at

    paid_before = credited_before = 0
    for request_id in range(1, BEFORE + 1):  # settled after the withdrawal, made before it: still paid
        request, credited, paid_to = _settle(chain, trained, request_id)
        assert request.created_at < withdrawal.header.number and sum(paid_to.values()) == pool
        if 1 in credited:
            assert paid_to[1] > 0
            credited_before += 1
            paid_before += paid_to[1]
    assert credited_before, "no request before the withdrawal credited contribution 1: the rule went untested"

    crediting_it = 0
    for request_id in range(BEFORE + 1, BEFORE + 7):
        paid._ok(chain, chain.dave, "inference", "request_inference", inf.RequestInference(
            model=1, input=x.astype("<f4").tobytes(), max_fee=encode_u128(paid.PRICE)))
        request, credited, paid_to = _settle(chain, trained, request_id)
        assert request.created_at > withdrawal.header.number
        assert 1 not in paid_to and set(paid_to) == set(credited) - {1}  # it is paid nothing
        assert sum(paid_to.values()) == (pool if set(credited) - {1} else 0)  # the others share the whole pool
        crediting_it += 1 in credited  # the worker still credits it: the model was trained on it
    assert crediting_it, "no request credited the withdrawn contribution: the rule went untested"
    earned = dn.ContributorStats.FromString(chain.ex.query("datanet", "get_stats", dn.StatsRequest(
        datanet=1, contributor=chain.bob.public).SerializeToString()))
    assert decode_u128(earned.earned) == paid_before  # all Bob ever earns: from the requests before
    chain.ex.try_state()
