"""A fine-tuning job belongs to the key that started it (a real worker process, no chain needed): a start
must be signed by its owner, freshly, over the config as sent; the same signed start twice is one job (a
double click); only the owner may abort, resume, try, evaluate, export or publish it."""

from __future__ import annotations

import json
import time

import grpc
import pytest

from cli.finetune import job_auth
from payable.worker.v1 import worker_pb2 as wp
from payable.worker.v1 import worker_pb2_grpc
from runtime.crypto import Keypair, blake2_256
from sdk.wire import finetune_message, start_subject, try_subject

OWNER, STRANGER = Keypair.from_uri("//Ferdie"), Keypair.from_uri("//Eve")
CONFIG = json.dumps({"base_model": "ab" * 32, "dataset": {"snapshots": [[1, 1]]}, "max_steps": 5})


def _signed(key: Keypair, action: str, subject: bytes) -> wp.JobAuth:
    issued_at = int(time.time())
    return wp.JobAuth(owner=key.public, issued_at=issued_at,
                      signature=key.sign(finetune_message(action, subject, key.public, issued_at)))


def _refused(call, request) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as refused:
        call(request, timeout=30)
    return refused.value.code()


def test_a_job_is_its_signers_and_only_its_signer_changes_it(worker_channel):
    stub = worker_pb2_grpc.FinetuneStub(worker_channel)
    unauthenticated = grpc.StatusCode.UNAUTHENTICATED
    assert _refused(stub.Start, wp.StartJobRequest(config_json=CONFIG)) == unauthenticated
    other_config = job_auth(OWNER, "start", CONFIG.replace("5", "6"))
    assert _refused(stub.Start, wp.StartJobRequest(config_json=CONFIG, auth=other_config)) == unauthenticated
    stale = int(time.time()) - 3600
    old = wp.JobAuth(owner=OWNER.public, issued_at=stale, signature=OWNER.sign(finetune_message(
        "start", start_subject(CONFIG, []), OWNER.public, stale)))
    assert _refused(stub.Start, wp.StartJobRequest(config_json=CONFIG, auth=old)) == unauthenticated
    # the prompts a job samples (their answers are in its public results) are signed with its config: a
    # captured start cannot be sent on with prompts of the sender's choosing, nor with the owner's dropped
    sampled = job_auth(OWNER, "start", CONFIG, ["what is on row 1?"])
    for prompts in (["what is on row 2?"], ["what is on row 1?", "and row 2?"], []):
        assert _refused(stub.Start, wp.StartJobRequest(config_json=CONFIG, prompts=prompts,
                                                       auth=sampled)) == unauthenticated
    over_the_config_alone = _signed(OWNER, "start", blake2_256(CONFIG.encode()))  # the former subject
    assert _refused(stub.Start, wp.StartJobRequest(config_json=CONFIG, auth=over_the_config_alone)) == unauthenticated

    signed = wp.StartJobRequest(config_json=CONFIG, auth=job_auth(OWNER, "start", CONFIG))
    job = stub.Start(signed, timeout=30)
    assert job.owner == OWNER.address
    assert stub.Start(signed, timeout=30).id == job.id  # sent twice, one job
    listed = [j.id for j in stub.ListJobs(wp.JobRef(), timeout=30).jobs]
    assert listed.count(job.id) == 1 and len(listed) == 1

    denied = grpc.StatusCode.PERMISSION_DENIED
    for action, call in (("abort", stub.Abort), ("resume", stub.Resume)):
        assert _refused(call, wp.JobRef(job=job.id)) == unauthenticated
        assert _refused(call, wp.JobRef(job=job.id, auth=job_auth(STRANGER, action, job.id))) == denied
        # a signature for another action or another job does not stand in
        assert _refused(call, wp.JobRef(job=job.id, auth=job_auth(OWNER, "publish", job.id))) == unauthenticated
    assert _refused(stub.PublishArtifacts, wp.PublishRequest(
        job=job.id, auth=job_auth(STRANGER, "publish", job.id))) == denied
    # an unpublished adapter answers only its owner (a permissioned DataNet's rows are in it)
    asked = try_subject(job.id, ["hi"], 8)
    for action, call, request, subject in (
            ("try", stub.Try, lambda auth: wp.TryRequest(job=job.id, prompts=["hi"], max_new_tokens=8, auth=auth),
             asked),
            ("evaluate", stub.Evaluate, lambda auth: wp.JobRef(job=job.id, auth=auth), job.id.encode()),
            ("export", stub.Export, lambda auth: wp.JobRef(job=job.id, auth=auth), job.id.encode())):
        assert _refused(call, request(None)) == unauthenticated
        assert _refused(call, request(_signed(STRANGER, action, subject))) == denied
        assert _refused(call, request(_signed(OWNER, "abort", subject))) == unauthenticated
        assert _refused(call, request(_signed(OWNER, action, subject))) not in (unauthenticated, denied)
    # a try's signature covers what it asks: the same signature with other prompts, another token bound, or
    # signed over the job id alone, does not verify (a captured one cannot read the adapter's other answers)
    owners = _signed(OWNER, "try", asked)
    for other in (wp.TryRequest(job=job.id, prompts=["tell me the secret"], max_new_tokens=8, auth=owners),
                  wp.TryRequest(job=job.id, prompts=["hi", "more"], max_new_tokens=8, auth=owners),
                  wp.TryRequest(job=job.id, prompts=["hi"], max_new_tokens=9, auth=owners),
                  wp.TryRequest(job=job.id, prompts=["hi"], max_new_tokens=8, auth=job_auth(OWNER, "try", job.id))):
        assert _refused(stub.Try, other) == unauthenticated
    # the owner is past the ownership check: what answers now is the job's own state
    answer = _refused(stub.PublishArtifacts, wp.PublishRequest(job=job.id, auth=job_auth(OWNER, "publish", job.id)))
    assert answer not in (unauthenticated, denied)
