"""What the command line hands the SDK: repeated `--arg`s for a list field append (never overwrite), a message
field takes JSON, a single-valued field given twice is refused by name; the settlement wait follows the chain
and gives up only when the chain stops making blocks."""

from __future__ import annotations

import pytest

from cli.chain import tx_fields
from payable.inference.v1 import inference_pb2 as inf
from payable.modelregistry.v1 import modelregistry_pb2 as mr
from runtime.codec import ONE_OPEN, decode_u128
from runtime.crypto import Keypair
from sdk.client import ClientError, _fill


def test_a_repeated_arg_is_a_list_and_a_list_field_gets_every_value():
    fields = tx_fields(["endpoint=127.0.0.1:9", "base_models=1", "base_models=2", "base_models=5", "models=3",
                        "bond=150.5"])
    assert fields["base_models"] == ["1", "2", "5"] and fields["models"] == "3"
    message = inf.RegisterWorker()
    _fill(message, fields)
    assert list(message.base_models) == [1, 2, 5] and list(message.models) == [3]
    assert decode_u128(message.bond) == 150 * ONE_OPEN + ONE_OPEN // 2 and message.endpoint == "127.0.0.1:9"
    with pytest.raises(ValueError, match="key=value"):
        tx_fields(["base_models"])


def test_a_single_field_given_twice_is_refused_and_a_message_field_takes_json():
    with pytest.raises(ClientError, match="'endpoint' takes one value, got 2"):
        _fill(inf.RegisterWorker(), tx_fields(["endpoint=a", "endpoint=b"]))
    args = mr.RegisterModel()
    _fill(args, tx_fields(['snapshots={"datanet": 1, "version": 2}', 'snapshots={"datanet": 3, "version": 1}',
                           'split={"contributors": 7000, "model_owner": 2000, "protocol": 500, "worker": 500}']))
    assert [(s.datanet, s.version) for s in args.snapshots] == [(1, 2), (3, 1)] and args.split.contributors == 7000
    with pytest.raises(ClientError, match="'split'"):
        _fill(mr.RegisterModel(), {"split": "not json"})
    accounts = inf.Request()
    alice, bob = (Keypair.from_uri(n) for n in ("//Alice", "//Bob"))
    _fill(accounts, tx_fields([f"workers={alice.address}", f"workers={bob.address}"]))
    assert list(accounts.workers) == [alice.public, bob.public]


class _Chain:
    """A node whose request stays pending: its best block advances `blocks` times, then stops."""

    def __init__(self, blocks: int):
        self.best, self.left = 10, blocks

    def pallet_query(self, pallet, name, request, response_type):
        return inf.Request(id=request.request, status=inf.PENDING, deadline=self.best + 3)

    def chain_info(self):
        if self.left:
            self.left -= 1
            self.best += 1
        return type("Info", (), {"best_number": self.best})()


def test_the_settlement_wait_follows_blocks_and_stops_only_when_the_chain_stalls():
    from studio.generation import wait_outcome

    chain = _Chain(blocks=5)
    with pytest.raises(ClientError, match=r"still pending at block #15 .* no block for 0 s"):
        wait_outcome(chain, 7, stall=0.2, poll=0.01)
    assert chain.left == 0  # it kept waiting while blocks came


def test_a_generated_key_file_is_private_never_overwritten_and_read_back_by_every_signing_flag(tmp_path, capsys):
    """`key generate --output FILE` writes what `--from` / `--key` read; a file holding anything else is
    refused naming the file and the command that makes one."""
    import json
    import os

    from cli.common import keypair_from
    from cli.main import main

    path = tmp_path / "gateway.key"
    assert main(["key", "generate", "--output", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert "seed" not in shown and os.stat(path).st_mode & 0o777 == 0o600
    assert keypair_from(str(path)).address == shown["address"]
    assert main(["key", "generate", "--output", str(path)]) == 2  # never over an existing file
    assert "exists already" in capsys.readouterr().err and keypair_from(str(path)).address == shown["address"]
    printed = tmp_path / "printed.txt"
    printed.write_text("public   9b92...\naddress  Csay...\n")  # `key generate > FILE`: not a key file
    with pytest.raises(ValueError, match=f"the file {printed} holds neither .* key generate --output FILE"):
        keypair_from(str(printed))


@pytest.mark.parametrize(("bounds", "said"), [({"max_new_tokens": 0}, "max new tokens must be at least 1"),
                                              ({"temperature": 5.0}, r"temperature must be in 0..2.0 \(0: greedy\)"),
                                              ({"temperature": -1.0}, "temperature must be in"),
                                              ({"top_p": 1.5}, "top-p must be in 0..1")])
def test_a_generation_bound_the_chain_would_misread_is_refused_in_the_callers_units(bounds, said):
    """0 new tokens reaches the chain as "unset" (its default bound, charged); a temperature past its limit is
    refused there in milli-units after signing. Both stop at the quote, before the node is asked anything."""
    from studio.generation import quote

    with pytest.raises(ValueError, match=said):
        quote(None, 1, "hi", **bounds)  # type: ignore[arg-type]


def test_json_reads_accounts_as_addresses_hashes_as_hex_and_amounts_as_open():
    """What `model show --json` / `model bases --json` print: the chain's field options decide, not protobuf's
    JSON (which gives every bytes field as base64)."""
    from runtime.codec import encode_u128
    from sdk.readable import readable

    alice = Keypair.from_uri("//Alice")
    model = mr.Model(id=4, owner=alice.public, artifact_hash=bytes(range(32)), base_model=1,
                     price_per_inference=encode_u128(ONE_OPEN // 5), split=mr.RewardSplit(contributors=7000))
    shown = readable(model)
    assert shown == {"id": 4, "owner": alice.address, "base_model": 1, "artifact_hash": bytes(range(32)).hex(),
                     "price_per_inference": "0.2", "split": {"contributors": 7000}}
    assert readable(model, " OPEN")["price_per_inference"] == "0.2 OPEN"  # the studio's pages say the unit


@pytest.mark.parametrize("top_p", [0.0, 1e-4])
def test_a_top_p_that_rounds_to_zero_is_greedy_not_the_chains_unset(top_p):
    """The chain reads top_p_milli 0 as "unset" (no cut at all): a top-p that rounds to 0 - only the most
    likely token, as OpenAI reads top_p 0 - goes on chain as greedy sampling instead."""
    from runtime.codec import encode_u128
    from studio.generation import quote

    class Registry:  # the one read a quote makes: the model's prices
        @staticmethod
        def pallet_query(*_):
            return mr.Model(id=1, price_per_inference=encode_u128(ONE_OPEN))

    sampling = quote(Registry(), 1, "hi", temperature=1.0, top_p=top_p).args.sampling  # type: ignore[arg-type]
    assert (sampling.temperature_milli, sampling.top_p_milli) == (0, 1000)
    kept = quote(Registry(), 1, "hi", temperature=1.0, top_p=0.9).args.sampling  # type: ignore[arg-type]
    assert (kept.temperature_milli, kept.top_p_milli) == (1000, 900)


def test_a_reader_closing_our_output_is_not_an_error_but_another_broken_pipe_is(capsys, monkeypatch):
    """`payable ... | head`: the reader leaves after what it wanted - exit 0, no "error: Broken pipe". A broken
    pipe elsewhere (a socket, a child's) is still reported."""
    import subprocess
    import sys

    script = ("import os, sys\n"
              "from cli.main import main\n"
              "r, w = os.pipe()\n"
              "os.close(r)\n"
              "os.dup2(w, 1)\n"
              "sys.stdout = os.fdopen(1, 'w', buffering=1)\n"
              "sys.exit(main(['key', 'inspect', '//Alice']))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "error" not in done.stderr.lower(), done.stderr

    import cli.chain
    from cli.main import main

    def broken(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli.chain, "cmd_key", broken)  # the parser takes the handler when main builds it
    assert main(["key", "inspect", "//Alice"]) == 2
    assert "error: [Errno 32] Broken pipe" in capsys.readouterr().err
