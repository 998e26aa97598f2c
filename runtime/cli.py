"""The `payable` command line.

`payable demo` runs a scripted block-production session on a temporary RocksDB chain and prints the
blocks, balances and a state proof; `payable build-spec --dev` prints the development chain spec.
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from payable.token.v1 import token_pb2

from .chainspec import DEV_ACCOUNTS, ChainSpec, dev_spec
from .codec import ONE_OPEN, decode_u128, encode_u128, format_open
from .crypto import TREASURY, Keypair, encode_address
from .errors import ChainSpecError
from .executive import Executive
from .extrinsic import make_call, sign_extrinsic
from .storage.backend import RocksBackend
from .storage.proof import verify_proof

BLOCK_MS = 6_000


def _demo_blocks(alice: Keypair, bob: Keypair, charlie: Keypair, fresh: Keypair):
    """(description, signer, pallet, call index, args) per block: the scripted session."""
    t = token_pb2
    return [
        [("Alice pays Bob 250 OPEN", alice, 1, t.Transfer(dest=bob.public, amount=encode_u128(250 * ONE_OPEN))),
         ("Bob opens a new account with 1.5 OPEN", bob, 0,
          t.Transfer(dest=fresh.public, amount=encode_u128(3 * ONE_OPEN // 2)))],
        [("Charlie bonds 100 OPEN", charlie, 2, t.Bond(amount=encode_u128(100 * ONE_OPEN))),
         ("Bob overspends (fails: fee kept)", bob, 1, t.Transfer(dest=alice.public, amount=encode_u128(10**30)))],
        [("Charlie unbonds 40 OPEN", charlie, 3, t.Unbond(amount=encode_u128(40 * ONE_OPEN)))],
    ]


def run_demo(args: argparse.Namespace) -> int:
    spec = dev_spec()
    alice, bob, charlie = (Keypair.from_uri(u) for u in DEV_ACCOUNTS[:3])
    fresh = Keypair.from_uri("//Demo")
    with tempfile.TemporaryDirectory(prefix="payable-demo-") as base:
        backend = RocksBackend(f"{base}/db")
        chain = Executive.open(spec, backend)
        print(f"chain {spec.name!r}  genesis {chain.genesis_hash.hex()}  db {base}/db\n")
        nonces: dict[bytes, int] = {}
        timestamp = spec.genesis["system"]["timestamp_ms"]
        for txs in _demo_blocks(alice, bob, charlie, fresh):
            raws = []
            for _desc, signer, index, call_args in txs:
                nonce = nonces.get(signer.public, 0)
                nonces[signer.public] = nonce + 1
                raws.append(sign_extrinsic(signer, make_call("token", index, call_args), nonce=nonce,
                                           genesis_hash=chain.genesis_hash))
            timestamp += BLOCK_MS
            built = chain.author_block(raws, author=alice, timestamp_ms=timestamp)
            print(f"block #{built.header.number}  {built.hash.hex()[:16]}…  extrinsics {len(built.block.extrinsics)}"
                  f"  state root {built.header.state_root.hex()[:16]}…")
            for (desc, *_), outcome in zip(txs, built.outcomes, strict=True):
                status = "ok" if outcome.ok else f"FAILED {type(outcome.error).__name__}: {outcome.error.message}"
                print(f"   - {desc:<40} fee {format_open(outcome.fee):>12} OPEN  {status}")
        chain.try_state()
        print(f"\n{'account':<10} {'address':<52} {'free':>16} {'bonded+unbonding':>18}")
        named = [("Alice", alice.public), ("Bob", bob.public), ("Charlie", charlie.public),
                 ("//Demo", fresh.public), ("treasury", TREASURY)]
        for name, who in named:
            data = token_pb2.AccountData.FromString(
                chain.query("token", "account", token_pb2.AccountRequest(account=who).SerializeToString()))
            staked = decode_u128(data.bonded) + sum(decode_u128(c.amount) for c in data.unlocking)
            print(f"{name:<10} {encode_address(who):<52} {format_open(decode_u128(data.free)):>16} "
                  f"{format_open(staked):>18}")
        issuance = decode_u128(token_pb2.Amount.FromString(
            chain.query("token", "total_issuance", b"")).value)
        key = next(item for item in chain.runtime.pallets["token"].storage.items if item.name == "Account")
        alice_key = key.storage_key(alice.public)
        proof = chain.db.prove(alice_key)
        verified = verify_proof(chain.head.state_root, alice_key, chain.db.state_value(alice_key), proof)
        print(f"\ntotal issuance {format_open(issuance)} OPEN (invariant checked: equals the sum of all balances)")
        print(f"head #{chain.head.number}  state root {chain.head.state_root.hex()}")
        print(f"Alice's balance proven against the state root: {'verified' if verified else 'FAILED'} "
              f"({sum(len(level) for level in proof.levels)} proof bytes)")
        chain.close()
        backend.close()
        return 0 if verified else 1


def run_build_spec(args: argparse.Namespace) -> int:
    spec = dev_spec() if args.dev else ChainSpec.load(args.chain)
    print(spec.to_json())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="payable", description="Payable AI chain tools")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run a scripted block-production session and print blocks and balances")
    build = sub.add_parser("build-spec", help="print a chain spec as JSON")
    group = build.add_mutually_exclusive_group(required=True)
    group.add_argument("--dev", action="store_true", help="the development chain")
    group.add_argument("--chain", help="a chain spec file to validate and normalise")
    args = parser.parse_args(argv)
    handlers = {"demo": run_demo, "build-spec": run_build_spec}
    try:
        return handlers[args.command](args)
    except ChainSpecError as exc:
        print(f"error: chain spec: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
