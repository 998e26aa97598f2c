"""Validators read-only queries (served by the node as payable.validators.v1.ValidatorsQuery)."""

from __future__ import annotations

from payable.validators.v1 import validators_pb2 as pb
from runtime.context import Context
from runtime.pallet import QueryTable

from .interface import active_set as _active_set
from .interface import candidate
from .liveness import liveness as _liveness
from .storage import Candidates

queries = QueryTable("validators")


@queries.query(pb.CandidateRef, pb.Candidate)
def get_candidate(ctx: Context, ref: pb.CandidateRef) -> pb.Candidate:
    """A candidate: its consensus key, bond and whether (and until when) it is jailed."""
    return candidate(ctx, ref.account)


@queries.query(pb.CandidatesRequest, pb.CandidateList)
def list_candidates(ctx: Context, ref: pb.CandidatesRequest) -> pb.CandidateList:
    """Every bonded candidate."""
    return pb.CandidateList(candidates=[c for _, c in Candidates.iter(ctx)])


@queries.query(pb.ActiveRequest, pb.ValidatorSet)
def active_set(ctx: Context, ref: pb.ActiveRequest) -> pb.ValidatorSet:
    """The validator set in force."""
    return _active_set(ctx)


@queries.query(pb.CandidateRef, pb.CandidateLiveness)
def liveness(ctx: Context, ref: pb.CandidateRef) -> pb.CandidateLiveness:
    """A candidate's downtime record: blocks counted and missed in its window, the limit, its jail."""
    return _liveness(ctx, candidate(ctx, ref.account))
