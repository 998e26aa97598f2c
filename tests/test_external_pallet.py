"""A pallet in its own package, pip-installed, added through the chain spec alone (no runtime edit)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from devtools.protogen import stale_files

EXAMPLE = Path(__file__).parent / "example_pallet"

SCRIPT = textwrap.dedent('''
    import json
    from payable.token.v1 import token_pb2
    from runtime.chainspec import ChainSpec, dev_spec
    from runtime.crypto import Keypair
    from runtime.executive import Executive
    from runtime.extrinsic import sign_extrinsic
    from runtime.runtime import make_call_by_name
    from devtools.fuzz import fuzz_chain
    from runtime.runtime import available_pallets
    import payable_notes.notes_pb2 as pb

    doc = dev_spec().to_dict()
    doc["pallets"] = ["token", "notes"]
    doc["config"]["notes"] = {"note_deposit": str(5 * 10**18)}
    spec = ChainSpec.from_dict(doc)
    chain = Executive.open(spec)
    alice = Keypair.from_uri("//Alice")
    post = sign_extrinsic(alice, make_call_by_name("notes", "post_note",
                                                   pb.PostNote(content_hash=b"\\x07" * 32)), nonce=0,
                          genesis_hash=chain.genesis_hash)
    again = sign_extrinsic(alice, make_call_by_name("notes", "post_note",
                                                    pb.PostNote(content_hash=b"\\x08" * 32)), nonce=1,
                           genesis_hash=chain.genesis_hash)
    built = chain.author_block([post, again], author=alice, timestamp_ms=1_700_000_006_000)
    account = token_pb2.AccountData.FromString(chain.query("token", "account",
        token_pb2.AccountRequest(account=alice.public).SerializeToString()))
    chain.try_state()
    meta = chain.runtime.metadata()
    # what the studio's explorer shows of it, decoded from the metadata alone, and the node's account index
    from runtime.chainindex import account_history
    from studio.decode import Decoder
    decoder = Decoder(type(meta).FromString(meta.SerializeToString()))
    shown = decoder.extrinsic(chain.db.block(1).extrinsics[1])
    shown_events = [decoder.event(e) for e in chain.db.events(1).events if e.pallet == "notes"]
    history, _ = account_history(chain.db.backend, alice.public)
    fuzz_chain(spec, [alice, Keypair.from_uri("//Bob")], max_examples=15)  # the harness covers it for free
    print(json.dumps({
        "installed": sorted(available_pallets()),
        "outcomes": [o.ok for o in built.outcomes],
        "second_error": type(built.outcomes[1].error).__name__,
        "reserved": int.from_bytes(account.reserved, "big"),
        "events": [e.name for e in chain.db.events(1).events if e.pallet == "notes"],
        "metadata_pallets": [p.name for p in meta.pallets],
        "explorer_call": [shown["call"]["pallet"], shown["call"]["name"], shown["call"]["args"]],
        "explorer_events": [[e["name"], e["data"]] for e in shown_events],
        "history_roles": [list(e.roles) for e in history if e.block_number == 1],
        "alice": alice.address,
    }))
''')


def test_example_pallet_generated_code_is_current():
    assert stale_files(EXAMPLE / "src") == []


@pytest.mark.e2e
def test_separately_installed_pallet_joins_a_chain_through_the_spec(tmp_path):
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(EXAMPLE)], capture_output=True, text=True, timeout=240)
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=240,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "notes" in result["installed"]
    assert result["outcomes"] == [True, False] and result["second_error"] == "AlreadyPosted"
    assert result["reserved"] == 5 * 10**18
    assert result["events"] == ["NotePosted"]
    assert result["metadata_pallets"] == ["system", "token", "notes"]
    assert result["explorer_call"] == ["notes", "post_note", {"content_hash": "07" * 32}]
    assert result["explorer_events"][0][0] == "NotePosted"
    assert result["alice"] in result["explorer_events"][0][1].values()
    assert any("notes.NotePosted" in roles for roles in result["history_roles"])


def test_without_the_package_the_spec_is_refused_with_a_hint():
    from runtime.chainspec import ChainSpec, dev_spec
    from runtime.errors import ChainSpecError
    from runtime.executive import Executive

    doc = dev_spec().to_dict()
    doc["pallets"] = ["token", "notes"]
    with pytest.raises(ChainSpecError, match="no installed pallet named 'notes'.*entry-point group"):
        Executive.open(ChainSpec.from_dict(doc))
