"""The executive: the block lifecycle - `initialize_block`, `apply_extrinsic`, `finalize_block`, `commit`.

Consensus is not its business. A driver decides which blocks to build or import: the dev author
calls `author_block`; a second node, a consensus driver or `check-chain` calls `import_block`, which
re-executes the block and refuses it unless every root, weight and signature matches.

Applying a signed extrinsic, in order: size → decode → genesis → mortality → signature → call
resolution → block limits → nonce → pallet validity → [extrinsic layer: nonce+1, fee withdrawn →
[dispatch layer: the call] → outcome event]. Anything before the extrinsic layer rejects the
extrinsic with `InvalidTransaction` and writes nothing; a call that raises rolls back only the
dispatch layer, so fee and nonce stay charged and `ExtrinsicFailed` records why. The fees a block
collects are paid out to its author and the treasury once, at finalization (one credit each per
block instead of two per extrinsic).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from payable.runtime.v1.extrinsic_pb2 import Block, BlockEvents, EventRecord, Header
from payable.system.v1 import system_pb2

from . import system
from .canonical import NonCanonical, decode_canonical
from .chaindb import ChainDB, Head
from .chainindex import ChainIndex
from .chainspec import ChainSpec
from .codec import CodecError, encode_u128, format_open
from .context import Context
from .crypto import BatchVerifier, Keypair, blake2_256, verify
from .errors import ChainSpecError, Invalid, InvalidTransaction, PalletError
from .extrinsic import Decoded, Validity, assemble_signed, decode_extrinsic, inherent_extrinsic, make_call
from .merkle import merkle_root
from .pallet import CallDef
from .protocol import TREASURY
from .runtime import Runtime
from .storage.backend import KVBackend, MemoryBackend
from .weights import Weight

log = structlog.get_logger("payable.executive")


class BlockImportError(Exception):
    """A block was refused on import; nothing of it was written."""


@dataclass
class ApplyOutcome:
    index: int
    hash: bytes
    signer: bytes
    error: PalletError | None  # None: the call succeeded
    weight_ns: int
    fee: int
    declared: Weight
    reads: int    # storage reads the dispatch really did
    writes: int   # storage writes the dispatch really did

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def error_text(self) -> str:
        """`pallet.ErrorName: message` of a failed call; empty when the call succeeded."""
        error = self.error
        return "" if error is None else f"{error.pallet}.{type(error).__name__}: {error.message}"


@dataclass
class _PendingBlock:
    number: int
    parent_hash: bytes
    author: bytes
    ctx: Context
    allow_inherents: bool
    extrinsics: list[bytes] = field(default_factory=list)
    weight: int = 0
    length: int = 0
    signed_seen: bool = False
    to_author: int = 0    # fee shares collected in this block, paid out once at finalization
    to_treasury: int = 0
    header: bytes = b""
    staged: dict[bytes, bytes | None] | None = None  # changes folded into the trie, until commit


@dataclass
class AuthoredBlock:
    block: Block
    hash: bytes
    header: Header
    outcomes: list[ApplyOutcome]
    rejected: list[tuple[bytes, InvalidTransaction]]


def split_results(extrinsics: list[bytes], results: list[ApplyOutcome | InvalidTransaction]
                  ) -> tuple[list[ApplyOutcome], list[tuple[bytes, InvalidTransaction]]]:
    """`apply_candidates`' results as (outcomes of the included, (bytes, reason) of the left out)."""
    outcomes = [r for r in results if isinstance(r, ApplyOutcome)]
    rejected = [(raw, r) for raw, r in zip(extrinsics, results, strict=True) if isinstance(r, InvalidTransaction)]
    return outcomes, rejected


INHERENTS_FIRST = "unsigned inherents come only from the block author, before any signed extrinsic"


@dataclass(frozen=True)
class DryRun:
    """`Executive.dry_run`'s answer for a valid extrinsic: the block it ran against, its fee, the call's error
    (None: it succeeds) and the call's events."""

    block_number: int
    fee: int
    error: PalletError | None
    events: list[EventRecord]


class Executive:
    def __init__(self, runtime: Runtime, db: ChainDB, verifier: BatchVerifier | None = None):
        self.runtime = runtime
        self.db = db
        self.params = runtime.params
        self.treasury = TREASURY
        self._verifier = verifier
        self._block: _PendingBlock | None = None
        hook = runtime.pm.hook
        self._withdraw, self._deposit = hook.payable_withdraw_fee, hook.payable_deposit_fee

    @classmethod
    def open(cls, spec: ChainSpec, backend: KVBackend | None = None, **kwargs) -> Executive:
        """Open (or create, at genesis) the chain `spec` describes on `backend` (in memory if None)."""
        runtime = Runtime(spec, kwargs.pop("pallets", None))
        index = ChainIndex(runtime)
        db = ChainDB(backend if backend is not None else MemoryBackend(), spec.runtime.state_root_window, index)
        executive = cls(runtime, db, **kwargs)
        if db.head is None:
            executive.build_genesis()
        else:
            expected = cls(runtime, ChainDB(MemoryBackend(), spec.runtime.state_root_window))
            expected.build_genesis()
            if expected.genesis_hash != executive.genesis_hash:
                raise ChainSpecError(f"the database holds a chain with genesis {executive.genesis_hash.hex()}, but "
                                     f"this chain spec's genesis is {expected.genesis_hash.hex()}")
            index.catch_up(db)
        return executive

    @property
    def genesis_hash(self) -> bytes:
        genesis = self.db.genesis_hash
        if genesis is None:
            raise RuntimeError("the chain has no genesis block yet: open it with Executive.open")
        return genesis

    @property
    def head(self) -> Head:
        head = self.db.head
        if head is None:
            raise RuntimeError("the chain has no genesis block yet: open it with Executive.open")
        return head

    @property
    def verifier(self) -> BatchVerifier:
        if self._verifier is None:
            self._verifier = BatchVerifier()
        return self._verifier

    def close(self) -> None:
        if self._verifier is not None:
            self._verifier.close()

    # --- genesis --------------------------------------------------------------------------------
    def build_genesis(self) -> bytes:
        overlay = self.db.overlay()
        ctx = Context(self.runtime, overlay, block_number=0, parent_hash=bytes(32), timestamp_ms=0,
                      author=bytes(32))
        self.runtime.build_genesis(ctx)
        timestamp = int(self.runtime.spec.genesis.get("system", {}).get("timestamp_ms", 0))
        self._block = _PendingBlock(0, bytes(32), bytes(32), ctx, allow_inherents=False)
        ctx.timestamp_ms = timestamp
        self.finalize_block(run_hooks=False)
        return self.commit()

    # --- the block lifecycle --------------------------------------------------------------------
    def initialize_block(self, author: bytes, *, allow_inherents: bool = True) -> None:
        if self._block is not None:
            raise RuntimeError("a block is already being built; finalize and commit (or abort) it first")
        head = self.head
        ctx = Context(self.runtime, self.db.overlay(), block_number=head.number + 1, parent_hash=head.hash,
                      timestamp_ms=0, author=author)
        self._block = _PendingBlock(head.number + 1, head.hash, author, ctx, allow_inherents)
        self.runtime.pm.hook.payable_on_initialize(ctx=ctx)

    def apply_extrinsic(self, raw: bytes, *, verified: bool = False) -> ApplyOutcome | None:
        """Apply one extrinsic to the block being built. Inherents return None; signed ones an outcome."""
        return self._apply(self._decode(raw), verified)

    def _decode(self, raw: bytes) -> Decoded:
        limit = self.params.block.max_extrinsic_length
        if len(raw) > limit:
            raise InvalidTransaction(Invalid.OVERSIZE, f"{len(raw)} bytes exceeds the {limit}-byte extrinsic limit")
        return decode_extrinsic(raw)

    def _apply(self, decoded: Decoded, verified: bool) -> ApplyOutcome | None:
        block = self._pending()
        if decoded.inherent:
            self._apply_inherent(block, decoded)
            return None
        return self._apply_signed(block, decoded, verified)

    def _apply_inherent(self, block: _PendingBlock, decoded: Decoded) -> None:
        if not block.allow_inherents or block.signed_seen:
            raise InvalidTransaction(Invalid.NOT_ALLOWED, INHERENTS_FIRST)
        definition, args = self.runtime.resolve_call(decoded.call, signed=False)
        if not definition.inherent:
            raise InvalidTransaction(Invalid.NOT_ALLOWED, f"{definition.pallet}.{definition.name} is not an inherent")
        ctx = block.ctx
        ctx.phase, ctx.extrinsic_index = EventRecord.APPLY_EXTRINSIC, len(block.extrinsics)
        try:
            with ctx.transaction():
                self.runtime.dispatch(ctx, definition, None, args)
        except PalletError as exc:
            raise InvalidTransaction(Invalid.REJECTED_BY_PALLET,
                                     f"inherent {definition.pallet}.{definition.name} failed: {exc.message}") from exc
        block.extrinsics.append(decoded.raw)
        block.length += len(decoded.raw)

    def _check_static(self, d: Decoded, number: int, verified: bool) -> tuple[CallDef, object, int]:
        """Checks that need no state: genesis, mortality, signature, call; returns (call, args, weight ns)."""
        if d.genesis_hash != self.genesis_hash:
            raise InvalidTransaction(Invalid.WRONG_GENESIS, "signed for another chain (genesis hash differs)")
        if d.valid_until and d.valid_until < number:
            raise InvalidTransaction(Invalid.EXPIRED, f"valid until block {d.valid_until}, now {number}")
        if not verified and not verify(d.signer, d.body, d.signature):
            raise InvalidTransaction(Invalid.BAD_SIGNATURE, "signature does not match the body and signer")
        definition, args = self.runtime.resolve_call(d.call)
        if definition.inherent:
            raise InvalidTransaction(Invalid.NOT_ALLOWED,
                                     f"{definition.pallet}.{definition.name} is an inherent and cannot be signed")
        weight = self.params.block.base_extrinsic_ns + self.params.db_weights.total_ns(definition.weight)
        return definition, args, weight

    def validate_transaction(self, raw: bytes, *, check_signature: bool = True) -> Validity:
        """Would this extrinsic be valid in the next block? For the transaction pool: writes nothing (and for
        `dry_run`, of a body not signed yet: `check_signature` False).

        Future nonces are valid (the pool holds them until the gap fills). The fee (tip included) must
        fit the signer's free balance, read from the chain's balances pallet; the pool adds up what each
        sender's pooled extrinsics need against the same figure. On a chain whose fee currency declares
        no balances, the fee is withdrawn in a scratch layer that is always rolled back instead.
        """
        d = self._decode(raw)
        if d.inherent:
            raise InvalidTransaction(Invalid.NOT_ALLOWED, "unsigned inherents come only from the block author")
        head = self.head
        definition, args, weight = self._check_static(d, head.number + 1, verified=not check_signature)
        limits = self.params.block
        if weight > limits.max_weight_ns:
            raise InvalidTransaction(Invalid.EXHAUSTS_RESOURCES, "heavier than a whole block")
        ctx = Context(self.runtime, self.db.overlay(), block_number=head.number + 1, parent_hash=head.hash,
                      timestamp_ms=0, author=bytes(32))
        expected = system.account_nonce(ctx, d.signer)
        if d.nonce < expected:
            raise InvalidTransaction(Invalid.STALE_NONCE, f"nonce {d.nonce}, account's next nonce is {expected}")
        self.runtime.validate(ctx, d.signer, definition, args)
        fee = self.params.fees.fee(len(raw), weight, d.tip)
        balances = self.runtime.account_balances(ctx, d.signer)
        if balances is None:
            ctx.overlay.begin()
            try:
                if self._withdraw(ctx=ctx, who=d.signer, amount=fee) is None and fee:
                    raise InvalidTransaction(Invalid.CANNOT_PAY_FEE, "no pallet in this chain collects fees")
            finally:
                ctx.overlay.rollback_layer()
        elif fee > balances["free"]:
            raise InvalidTransaction(Invalid.CANNOT_PAY_FEE,
                                     f"free balance {format_open(balances['free'])} OPEN cannot pay the fee "
                                     f"{format_open(fee)} OPEN (tip included)")
        return Validity(blake2_256(raw), d.signer, d.nonce, expected, d.tip, len(raw), fee, d.valid_until,
                        balances["free"] if balances else None)

    def _apply_signed(self, block: _PendingBlock, d: Decoded, verified: bool) -> ApplyOutcome:
        definition, args, weight = self._check_static(d, block.number, verified)
        limits = self.params.block
        if block.weight + weight > limits.max_weight_ns or block.length + len(d.raw) > limits.max_length:
            raise InvalidTransaction(Invalid.EXHAUSTS_RESOURCES, "the block has no room left for it")
        ctx = block.ctx
        ctx.phase, ctx.extrinsic_index = EventRecord.APPLY_EXTRINSIC, len(block.extrinsics)
        expected = system.account_nonce(ctx, d.signer)
        if d.nonce != expected:
            reason = Invalid.STALE_NONCE if d.nonce < expected else Invalid.FUTURE_NONCE
            raise InvalidTransaction(reason, f"nonce {d.nonce}, account's next nonce is {expected}")
        self.runtime.validate(ctx, d.signer, definition, args)
        fee = self.params.fees.fee(len(d.raw), weight, d.tip)
        overlay = ctx.overlay
        overlay.begin()  # the extrinsic layer: nonce and fee
        try:
            system.set_account_nonce(ctx, d.signer, expected + 1)
            if self._withdraw(ctx=ctx, who=d.signer, amount=fee) is None and fee:
                raise InvalidTransaction(Invalid.CANNOT_PAY_FEE, "no pallet in this chain collects fees")
        except BaseException:
            overlay.rollback_layer()
            raise
        error, reads, writes = self._dispatch_call(ctx, definition, d.signer, args)
        to_author, to_treasury = self.params.fees.split(fee, d.tip)
        block.to_author += to_author
        block.to_treasury += to_treasury
        system.emit_outcome(ctx, error, weight, encode_u128(fee))
        overlay.commit_layer()
        block.signed_seen = True
        block.extrinsics.append(d.raw)
        block.weight += weight
        block.length += len(d.raw)
        return ApplyOutcome(ctx.extrinsic_index, blake2_256(d.raw), d.signer, error, weight, fee,
                            definition.weight, reads, writes)

    def _dispatch_call(self, ctx: Context, definition: CallDef, origin: bytes, args) -> tuple:
        """Run the call in its own layer; returns (error or None, reads, writes)."""
        events_before, reads_before, writes_before = len(ctx.events), ctx.reads, ctx.writes
        ctx.overlay.begin()
        error: PalletError | None = None
        try:
            self.runtime.dispatch(ctx, definition, origin, args)
        except PalletError as exc:
            error = exc
        except CodecError as exc:
            error = system.BadArgument(str(exc))
        except Exception as exc:  # last resort: a pallet bug fails the call, not the chain (logged)
            log.exception("dispatch_panic", pallet=definition.pallet, call=definition.name)
            error = system.DispatchPanic(f"{definition.pallet}.{definition.name} raised {type(exc).__name__}: {exc}")
        reads, writes = ctx.reads - reads_before, ctx.writes - writes_before
        if error is None:
            ctx.overlay.commit_layer()
        else:
            ctx.overlay.rollback_layer()
            del ctx.events[events_before:]
        return error, reads, writes

    def finalize_block(self, *, run_hooks: bool = True) -> Header:
        block = self._pending()
        ctx = block.ctx
        if run_hooks:
            ctx.phase = EventRecord.FINALIZATION
            for who, amount in ((block.author, block.to_author), (self.treasury, block.to_treasury)):
                if amount:
                    self._deposit(ctx=ctx, who=who, amount=amount)
            self.runtime.pm.hook.payable_on_finalize(ctx=ctx)
        block.staged = ctx.overlay.changes()
        root = self.db.stage_root(block.staged)
        header = Header(parent_hash=block.parent_hash, number=block.number, state_root=root,
                        extrinsics_root=merkle_root([blake2_256(x) for x in block.extrinsics]),
                        timestamp_ms=ctx.timestamp_ms, author=block.author, weight=block.weight,
                        length=block.length)
        block.header = header.SerializeToString(deterministic=True)
        return header

    def seal(self, author: Keypair) -> bytes:
        """The author's signature over the finalized header's exact bytes."""
        block = self._pending()
        if not block.header:
            raise RuntimeError("finalize_block must run before seal")
        return author.sign(block.header)

    def commit(self, seal: bytes = b"") -> bytes:
        """Persist the finalized block atomically; returns its hash."""
        block = self._pending()
        if block.staged is None:
            raise RuntimeError("finalize_block must run before commit")
        block_hash = blake2_256(block.header)
        ctx = block.ctx
        self.db.commit_block(block.number, block_hash,
                             Block(header=block.header, extrinsics=block.extrinsics, seal=seal),
                             BlockEvents(events=ctx.events), ctx.overlay.changes(),
                             Header.FromString(block.header).state_root)
        self._block = None
        return block_hash

    def abort(self) -> None:
        """Drop the block being built; a staged state root is reverted."""
        if self._block is not None and self._block.staged is not None:
            self.db.revert_root(self._block.staged)
        self._block = None

    def _pending(self) -> _PendingBlock:
        if self._block is None:
            raise RuntimeError("no block is being built; call initialize_block first")
        return self._block

    # --- drivers --------------------------------------------------------------------------------
    def open_block(self, author: bytes, timestamp_ms: int, inherents: tuple[bytes, ...] = ()) -> None:
        """Start a block with its inherents - the timestamp first, then the driver's own (e.g. a
        consensus engine's `NoteConsensus`); everything applied after them must be signed."""
        self.initialize_block(author)
        try:
            self.apply_extrinsic(inherent_extrinsic(
                make_call(system.NAME, 0, system_pb2.SetTimestamp(now_ms=timestamp_ms))))
            for raw in inherents:
                self.apply_extrinsic(raw)
        except BaseException:
            self.abort()
            raise
        self._pending().allow_inherents = False  # what follows comes from users: none of it is an inherent

    def apply_candidates(self, extrinsics: list[bytes], *, trusted: Callable[[bytes], bool] | None = None
                         ) -> list[ApplyOutcome | InvalidTransaction]:
        """Apply candidate extrinsics to the open block; one result per candidate, in order: its outcome,
        or why it was left out (nothing of a left-out extrinsic is written).

        trusted(raw): these exact bytes were verified already (the node's pool checks each on entry), so
        their signature is not checked twice; every other check still runs. The rest are verified on
        the thread pool while earlier ones apply.
        """
        decoded: list[Decoded | InvalidTransaction] = []
        for raw in extrinsics:
            try:
                decoded.append(self._decode(raw))
            except InvalidTransaction as exc:
                decoded.append(exc)
        checked = {id(d) for d in decoded if isinstance(d, Decoded) and not (trusted and trusted(d.raw))}
        signature_ok = self._start_verification([d for d in decoded if isinstance(d, Decoded) and id(d) in checked])
        results: list[ApplyOutcome | InvalidTransaction] = []
        for d in decoded:
            try:
                if isinstance(d, InvalidTransaction):
                    raise d
                if id(d) in checked and not signature_ok(d):
                    raise InvalidTransaction(Invalid.BAD_SIGNATURE, "signature does not match the body and signer")
                if d.inherent:  # open_block ended the inherent phase: a candidate is always signed
                    raise InvalidTransaction(Invalid.NOT_ALLOWED, INHERENTS_FIRST)
                results.append(self._apply_signed(self._pending(), d, verified=True))
            except InvalidTransaction as exc:
                results.append(exc)
        return results

    def author_block(self, extrinsics: list[bytes], *, author: Keypair, timestamp_ms: int,
                     signatures_checked: bool = False) -> AuthoredBlock:
        """Build, seal and commit a block from candidate extrinsics; invalid ones are left out, with reasons.

        signatures_checked: the caller already verified these exact bytes (the node's pool does, on
        entry), so they are not checked twice; every other check still runs.
        """
        self.open_block(author.public, timestamp_ms)
        try:
            results = self.apply_candidates(extrinsics, trusted=(lambda raw: True) if signatures_checked else None)
            header = self.finalize_block()
        except BaseException:
            self.abort()
            raise
        seal = self.seal(author)
        pending = self._pending()
        block = Block(header=pending.header, extrinsics=pending.extrinsics, seal=seal)
        block_hash = self.commit(seal)
        return AuthoredBlock(block, block_hash, header, *split_results(extrinsics, results))

    def _start_verification(self, decoded: list[Decoded]) -> Callable[[Decoded], bool]:
        """Check signed extrinsics' signatures on the thread pool while the caller applies earlier ones.

        Returns `ok(d)` for any of `decoded`, which waits only for the chunk holding `d`: libsodium runs
        outside the GIL, so verification of later extrinsics overlaps with Python applying earlier ones.
        """
        signed = [d for d in decoded if not d.inherent]
        position = {id(d): i for i, d in enumerate(signed)}
        pending = self.verifier.start([(d.signer, d.body, d.signature) for d in signed])
        return lambda d: d.inherent or pending.result(position[id(d)])

    def import_block(self, block: Block | bytes, *, check_seal: bool = True) -> list[ApplyOutcome]:
        """Re-execute a block built elsewhere and commit it only if everything it claims matches.

        check_seal=False: the block is final by evidence the caller checks instead (a CometBFT commit: the
        validators' signatures), so it carries no author's seal to check."""
        try:
            if isinstance(block, bytes | bytearray):
                block = decode_canonical(Block, bytes(block), "the block")
            claimed = decode_canonical(Header, block.header, "the block header")
        except NonCanonical as exc:
            raise BlockImportError(str(exc)) from exc
        decoded = self._check_import(block, claimed, check_seal)
        signature_ok = self._start_verification(decoded)
        self.initialize_block(claimed.author)
        try:
            outcomes = self._reexecute(claimed, decoded, signature_ok)
        except BaseException:
            self.abort()
            raise
        self.commit(block.seal)
        return outcomes

    def _check_import(self, block: Block, claimed: Header, check_seal: bool) -> list[Decoded]:
        """What an imported block must satisfy before it runs: it extends the head, its seal is its author's,
        its extrinsics decode and the first is the timestamp inherent. Returns them decoded."""
        head = self.head
        number = claimed.number
        if number == 1 and head.number == 0 and claimed.parent_hash != head.hash:
            raise BlockImportError(f"block #1 extends genesis {claimed.parent_hash.hex()[:16]}…, this chain's genesis "
                                   f"is {head.hash.hex()[:16]}…: the blocks are another chain's (another chain "
                                   f"spec)")
        if number != head.number + 1 or claimed.parent_hash != head.hash:
            raise BlockImportError(f"block #{number} does not extend the head #{head.number} "
                                   f"({head.hash.hex()[:16]}…)")
        if check_seal and not verify(claimed.author, block.header, block.seal):
            raise BlockImportError(f"block #{number}: the seal is not the author's signature of the header")
        try:
            decoded = [self._decode(raw) for raw in block.extrinsics]
        except InvalidTransaction as exc:
            raise BlockImportError(f"block #{number}: an extrinsic does not decode: {exc}") from exc
        first = decoded[0] if decoded else None
        if first is None or not (first.inherent and first.call.pallet == system.NAME and first.call.call_index == 0):
            raise BlockImportError(f"block #{number}: the first extrinsic must be the timestamp inherent")
        return decoded

    def _reexecute(self, claimed: Header, decoded: list[Decoded], signature_ok: Callable[[Decoded], bool]
                   ) -> list[ApplyOutcome]:
        """Apply the imported block's extrinsics to the initialized block and finalize it; everything the
        header claims must come out the same."""
        number = claimed.number
        outcomes = []
        for i, d in enumerate(decoded):
            if not signature_ok(d):
                raise BlockImportError(f"block #{number}: extrinsic {i} has a bad signature")
            try:
                outcome = self._apply(d, verified=True)
            except InvalidTransaction as exc:
                raise BlockImportError(f"block #{number}: extrinsic {i} is invalid: {exc}") from exc
            if outcome is not None:
                outcomes.append(outcome)
        header = self.finalize_block()
        mismatched = [name for name in ("state_root", "extrinsics_root", "timestamp_ms", "weight", "length")
                      if getattr(header, name) != getattr(claimed, name)]
        if mismatched:
            raise BlockImportError(f"block #{number}: re-execution gives a different {', '.join(mismatched)}")
        return outcomes

    # --- reads ----------------------------------------------------------------------------------
    def dry_run(self, body: bytes) -> DryRun:
        """What an extrinsic with this body would do in the next block, on the committed state, writing nothing
        (its layer is rolled back): InvalidTransaction where the pool would refuse it (its signature aside:
        there is none yet, so the length counts a signature's 64 bytes); else its fee, the call's error (None:
        it succeeds) and events. A wallet shows a call sure to fail before it is signed and charged."""
        raw = assemble_signed(body, bytes(64))
        validity = self.validate_transaction(raw, check_signature=False)  # the pool's verdict, its fee
        d = self._decode(raw)
        definition, args = self.runtime.resolve_call(d.call)
        ctx = self.read_context()
        ctx.readonly, ctx.block_number, ctx.parent_hash = False, self.head.number + 1, self.head.hash
        ctx.phase, fee = EventRecord.APPLY_EXTRINSIC, validity.fee
        ctx.overlay.begin()
        try:
            system.set_account_nonce(ctx, d.signer, d.nonce + 1)
            if self._withdraw(ctx=ctx, who=d.signer, amount=fee) is None and fee:
                raise InvalidTransaction(Invalid.CANNOT_PAY_FEE, "no pallet in this chain collects fees")
            events_before = len(ctx.events)
            error, _, _ = self._dispatch_call(ctx, definition, d.signer, args)
            return DryRun(ctx.block_number, fee, error, list(ctx.events[events_before:]))
        finally:
            ctx.overlay.rollback_layer()

    def read_context(self) -> Context:
        """A read-only context over the committed state (for queries and invariant checks)."""
        head = self.head
        block = self.db.block(head.number)
        timestamp = Header.FromString(block.header).timestamp_ms if block is not None else 0
        return Context(self.runtime, self.db.overlay(), block_number=head.number, parent_hash=head.hash,
                       timestamp_ms=timestamp, author=bytes(32), readonly=True)

    def query(self, pallet: str, name: str, request: bytes) -> bytes:
        return self.runtime.query(self.read_context(), pallet, name, request)

    def content_readable(self, content_hash: bytes, reader: bytes) -> bool:
        """Whether the chain lets `reader` download this blob (as of the committed head)."""
        return self.runtime.content_readable(self.read_context(), content_hash, reader)

    def content_uploader(self, account: bytes) -> bool:
        """Whether the chain (as of the committed head) lets `account` store blobs on a node."""
        return self.runtime.content_uploader(self.read_context(), account)

    def content_withdrawn(self, content_hash: bytes) -> str | None:
        """Why the chain (as of the committed head) lets nobody download this blob any more, or None."""
        return self.runtime.content_withdrawn(self.read_context(), content_hash)

    def released_content(self, number: int) -> list[bytes]:
        """The blobs that committed block `number`'s events free, judged at the committed head."""
        return self.runtime.released_content(self.read_context(), self.db.require_events(number).events)

    def account_balances(self, who: bytes) -> dict[str, int] | None:
        """The account's balances from the chain's currency pallet (None if the chain has none)."""
        return self.runtime.account_balances(self.read_context(), who)

    def pending_events(self) -> list[EventRecord]:
        """The events of the block being built so far (a consensus driver reports them before commit)."""
        return list(self._pending().ctx.events)

    def consensus_validators(self, *, pending: bool = False) -> list[tuple[bytes, int]] | None:
        """The validator set the chain elects, as of the committed head or (pending) of the block being
        built once finalized; None when no pallet elects one."""
        ctx = self._pending().ctx if pending else self.read_context()
        return self.runtime.consensus_validators(ctx)

    def try_state(self) -> None:
        """Every pallet's invariant check on the committed state; raises InvariantViolation on a violation."""
        self.runtime.pm.hook.payable_try_state(ctx=self.read_context())
