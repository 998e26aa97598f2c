"""A signature covers the exact body bytes its signer sent, so any valid protobuf encoding of the signed
body is accepted as sent (protobufjs writes `nonce: 0`; fields may come out of order or repeat); the
envelope a relay could change stays canonical, so each extrinsic keeps exactly one hash; fields the
chain does not know are refused. The end-to-end test signs with a plain JavaScript client (protobufjs
from the .proto files, tweetnacl) and the node includes its first transaction from a fresh account."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from payable.runtime.v1.extrinsic_pb2 import Extrinsic, ExtrinsicBody
from payable.token.v1 import token_pb2
from runtime.codec import ONE_OPEN, decode_u128, encode_u128
from runtime.crypto import Keypair, blake2_256
from runtime.errors import Invalid
from runtime.extrinsic import assemble_signed, decode_extrinsic

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "tests" / "js"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append(n & 0x7F | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    """One protobuf field (numbers < 16: a one-byte key); a varint field's payload is its encoded value."""
    return bytes([number << 3 | wire]) + (_varint(len(payload)) if wire == 2 else b"") + payload


def _body_fields(chain, signer: Keypair, nonce: int = 0) -> dict[str, bytes]:
    call = chain.ex.runtime.make_call("token", "transfer_keep_alive",
                                      token_pb2.Transfer(dest=chain.bob.public, amount=encode_u128(ONE_OPEN)))
    return {"signer": _field(1, 2, signer.public), "nonce": _field(2, 0, bytes([nonce])), "tip": _field(3, 2, b""),
            "valid_until": _field(4, 0, b"\x00"), "genesis": _field(5, 2, chain.ex.genesis_hash),
            "call": _field(6, 2, call.SerializeToString())}


def _signed(signer: Keypair, body: bytes) -> bytes:
    return assemble_signed(body, signer.sign(body))


def test_any_valid_encoding_of_the_signed_body_is_accepted_as_signed(chain):
    f = _body_fields(chain, chain.alice)
    explicit_defaults = b"".join(f.values())  # what protobufjs writes: nonce 0, empty tip, valid_until 0
    assert explicit_defaults != ExtrinsicBody.FromString(explicit_defaults).SerializeToString(deterministic=True)
    raw = _signed(chain.alice, explicit_defaults)
    assert decode_extrinsic(raw).body == explicit_defaults  # verified and kept byte for byte
    built = chain.block(raw)
    assert [o.ok for o in built.outcomes] == [True] and built.outcomes[0].hash == blake2_256(raw)
    # out of order, and a singular field twice (protobuf: the last wins, in every conformant decoder)
    g = _body_fields(chain, chain.alice, nonce=1)
    shuffled = g["call"] + _field(2, 0, b"\x07") + g["genesis"] + g["signer"] + g["nonce"]
    decoded = decode_extrinsic(_signed(chain.alice, shuffled))
    assert decoded.nonce == 1 and decoded.body == shuffled
    built = chain.block(_signed(chain.alice, shuffled))
    assert [o.ok for o in built.outcomes] == [True]


def test_unknown_fields_in_the_body_and_a_non_canonical_envelope_are_refused(chain):
    f = _body_fields(chain, chain.alice)
    padded = b"".join(f.values()) + _field(15, 0, b"\x01")  # a field a newer client might mean something by
    refused = chain.block(_signed(chain.alice, padded)).rejected[0][1]
    assert refused.reason == Invalid.BAD_ENCODING and "does not know" in str(refused)
    # the envelope is what a relay could change without breaking the signature: one encoding only
    good = chain.transfer(chain.alice, chain.bob.public, ONE_OPEN, nonce=0)
    signed = Extrinsic.FromString(good).signed
    reordered = _field(1, 2, _field(2, 2, signed.signature) + _field(1, 2, signed.body))
    assert Extrinsic.FromString(reordered) == Extrinsic.FromString(good) and reordered != good
    for variant in (reordered, good + _field(15, 0, b"\x01")):
        with pytest.raises(Exception, match="bad_encoding") as exc:
            decode_extrinsic(variant)
        assert getattr(exc.value, "reason", None) == Invalid.BAD_ENCODING


def _js_signed(node_client, seed: bytes, call_index: int, dest: bytes, amount: int, nonce: int) -> dict:
    if shutil.which("node") is None or not (JS / "node_modules" / "protobufjs").is_dir():
        pytest.fail("the JS client needs Node.js and its packages: run `npm ci --prefix tests/js` (make test does)")
    out = subprocess.run(["node", str(JS / "sign_transfer.js"), str(ROOT / "proto"), seed.hex(),
                          node_client.genesis_hash.hex(), str(call_index), dest.hex(), encode_u128(amount).hex(),
                          str(nonce)], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


@pytest.mark.e2e
def test_a_protobufjs_client_gets_its_first_transaction_in(start_node):
    node = start_node("js", "--dev", "--instant-seal")
    fresh = Keypair.from_uri("//FreshJsWallet")
    alice, bob = Keypair.from_uri("//Alice"), Keypair.from_uri("//Bob")
    with node.client() as client:
        assert client.submit_call(alice, "token", "transfer_keep_alive", dest=fresh.public, amount="10").success
        call_index = next(c.index for p in client.metadata.pallets if p.name == "token" for c in p.calls
                          if c.name == "transfer_keep_alive")
        before = decode_u128(client.account(bob.public).free)
        signed = _js_signed(client, fresh.seed, call_index, bob.public, ONE_OPEN, nonce=0)
        body = bytes.fromhex(signed["body"])
        assert b"\x10\x00" in body  # nonce 0 written explicitly: not the deterministic encoding
        raw = bytes.fromhex(signed["extrinsic"])
        result = client.submit_and_wait(raw)
        assert result.success, result.error
        assert result.hash == blake2_256(raw)
        assert client.block(result.block_number).block.extrinsics[result.extrinsic_index] == raw
        assert client.nonce(fresh.public) == 1
        assert decode_u128(client.account(bob.public).free) == before + ONE_OPEN
