"""DataNet pallet calls. Indices are stable: a removed call's index is retired, never reused."""

from __future__ import annotations

import re

from pallets.token import interface as token
from payable.datanet.v1 import datanet_pb2 as pb
from payable.datanet.v1 import licenses
from runtime.codec import check_account_id, decode_u128, encode_u128, format_open
from runtime.context import Context
from runtime.pallet import CallTable
from runtime.protocol import TREASURY

from . import errors, weights
from . import events as ev
from .interface import RETIRED, datanet, leaf_of, root_of, takedown_name, terms_mix
from .storage import (
    CONTRIBUTION_DEPOSIT,
    CREATION_DEPOSIT,
    Access,
    Approved,
    ByContent,
    ByContributor,
    ByDataNet,
    Contributions,
    DataNets,
    LiveContent,
    MetadataVersions,
    NextContributionId,
    NextDataNetId,
    Snapshots,
    Stats,
)

calls = CallTable("datanet")
TAKEDOWN_REASONS = {code: takedown_name(code) for code in pb.TakedownReason.values() if code != pb.TAKEDOWN_NONE}
SPDX = re.compile(r"^[A-Za-z0-9.+-]+(\s+(AND|OR|WITH)\s+[A-Za-z0-9.+-]+)*$")
FORMAT = re.compile(r"^[a-z0-9][a-z0-9+.-]{0,15}$")


# --- validation ---------------------------------------------------------------------------------
def _text(value: str, field: str, limit: int, required: bool = True) -> str:
    if required and not value.strip():
        raise errors.BadInput(f"{field} must not be empty")
    if len(value) > limit:
        raise errors.BadInput(f"{field} is {len(value)} characters; at most {limit}")
    return value


def _license(value: str) -> str:
    if not SPDX.match(value):
        raise errors.BadInput(f"license {value!r} is not an SPDX identifier or expression (e.g. CC-BY-4.0)")
    return value


def _licenses(values) -> list[str]:
    """The contribution licenses a DataNet accepts besides its own: distinct SPDX ids or "custom"."""
    accepted = [licenses.canonical(value) for value in values]
    if len(accepted) > 32 or len(set(accepted)) != len(accepted):
        raise errors.BadInput("accepted_licenses must list at most 32 distinct licenses")
    for value in accepted:
        if not licenses.is_license_id(value):
            raise errors.BadInput(f"accepted license {value!r} is not an SPDX identifier (e.g. CC0-1.0) "
                                  f"nor {licenses.CUSTOM!r}")
    return accepted


def _terms(net: pb.DataNet, metadata: pb.Metadata, args: pb.Contribute) -> pb.ContributionTerms:
    """The contribution's terms (an empty license: the DataNet's own), refused unless the DataNet takes them.

    A contribution that reserves text-and-data-mining rights is refused by every DataNet: a DataNet exists
    to be trained on (its snapshots are what models cite), so an opted-out contribution could only sit in
    it unused, its contributor's deposit held for nothing. Refusing it at submission tells the contributor
    at once, and makes every snapshot leaf a proof that its contribution was not opted out."""
    terms = pb.ContributionTerms()
    terms.CopyFrom(args.terms)
    own = licenses.canonical(metadata.license)
    terms.license = licenses.canonical(terms.license or own)
    if terms.license != own and not licenses.is_license_id(terms.license):
        raise errors.BadInput(f"license {terms.license!r} is not an SPDX identifier (e.g. CC-BY-4.0) "
                              f"nor {licenses.CUSTOM!r}")
    if terms.license == licenses.CUSTOM:
        _hash(terms.terms_hash, "custom terms' terms_hash")
    elif terms.terms_hash:
        raise errors.BadInput(f"terms_hash names custom terms: license {terms.license!r} needs none")
    accepted = [own, *metadata.accepted_licenses]
    if terms.license not in accepted:
        raise errors.LicenseNotAccepted(f"the contribution's license {terms.license!r} is not one DataNet {net.id} "
                                        f"accepts: {', '.join(accepted)}")
    if terms.personal_data and not metadata.personal_data_allowed:
        raise errors.PersonalDataNotAllowed(f"the contribution declares personal data; DataNet {net.id} does not "
                                            f"allow personal data")
    if terms.tdm_opt_out:
        raise errors.TdmOptedOut(f"the contributor reserves text-and-data-mining rights (TDM opt-out); DataNet "
                                 f"{net.id} exists to train models, so it takes no opted-out contribution")
    return terms


def _formats(values) -> list[str]:
    formats = list(values)
    if not 1 <= len(formats) <= 16 or len(set(formats)) != len(formats):
        raise errors.BadInput("accepted_formats must list 1 to 16 distinct formats")
    for value in formats:
        if not FORMAT.match(value):
            raise errors.BadInput(f"format {value!r} must be a short lowercase token such as csv, jsonl or png")
    return formats


def _hash(value: bytes, field: str, optional: bool = False) -> bytes:
    if optional and not value:
        return b""
    if len(value) != 32:
        raise errors.BadInput(f"{field} must be a 32-byte blake2b-256 hash, got {len(value)} bytes")
    return value


def _curator(net: pb.DataNet, who: bytes) -> None:
    if who not in net.curators and who != net.owner:
        raise errors.NotCurator(f"the caller is not a curator of DataNet {net.id}")


def _owner(net: pb.DataNet, who: bytes) -> None:
    if who != net.owner:
        raise errors.NotOwner(f"only the owner of DataNet {net.id} may do this")


def _stats(ctx: Context, datanet_id: int, who: bytes, field: str) -> None:
    stats = Stats.get(ctx, datanet_id, who) or pb.ContributorStats()
    setattr(stats, field, getattr(stats, field) + 1)
    Stats.insert(ctx, datanet_id, who, stats)


def _in_status(ctx: Context, contribution_id: int, status: int, refusal: type[errors.DataNetError]) -> pb.Contribution:
    """The contribution, refused with `refusal` unless it is in `status` (approve and reject decide pending
    ones, revoke takes back approved ones)."""
    found = Contributions.require(ctx, contribution_id, errors.UnknownContribution,
                                  f"no contribution {contribution_id}")
    if found.status != status:
        raise refusal(f"contribution {contribution_id} is {pb.Status.Name(found.status).lower()}")
    return found


def _retire(ctx: Context, found: pb.Contribution, status: pb.Status) -> int:
    """Withdraw or take down a contribution in any status but those two: a pending one's deposit goes back to
    its contributor (returned: the amount), an approved one leaves the approved index, a live one frees its
    content's slot, and the block is recorded (Contribution.withdrawn_at)."""
    if found.status in RETIRED:
        raise errors.NotWithdrawable(f"contribution {found.id} is already "
                                     f"{pb.Status.Name(found.status).lower().replace('_', ' ')}")
    deposit = 0
    if found.status == pb.PENDING:
        deposit = decode_u128(found.deposit)
        token.release(ctx, CONTRIBUTION_DEPOSIT, found.contributor, deposit)
        found.decided_at = ctx.block_number
    if found.status == pb.APPROVED:
        Approved.remove(ctx, found.datanet, found.id)
    if found.status in (pb.PENDING, pb.APPROVED):  # a rejected or revoked one's slot may hold newer content
        LiveContent.remove(ctx, found.datanet, found.content_hash)
    found.status, found.withdrawn_at = status, ctx.block_number
    Contributions.insert(ctx, found.id, found)
    return deposit


def _decide(ctx: Context, found: pb.Contribution, status: pb.Status, reason: int) -> None:
    found.status, found.reason, found.decided_at = status, reason, ctx.block_number
    Contributions.insert(ctx, found.id, found)


# --- calls --------------------------------------------------------------------------------------
@calls.call(0, pb.CreateDataNet, weights.CREATE)
def create_datanet(ctx: Context, origin: bytes, args: pb.CreateDataNet) -> None:
    """Create a DataNet; the creation deposit is held from the creator."""
    config = ctx.config
    name, domain = _text(args.name, "name", 64), _text(args.domain, "domain", 32)
    description = _text(args.description, "description", 4096, required=False)
    license_id, formats = _license(args.license), _formats(args.accepted_formats)
    accepted_licenses = _licenses(args.accepted_licenses)
    curators, deposit = _curators(config, origin, args), _contribution_deposit(config, args)
    token.hold(ctx, CREATION_DEPOSIT, origin, config.creation_deposit)
    new_id = NextDataNetId.get(ctx, 1)
    DataNets.insert(ctx, new_id, pb.DataNet(id=new_id, owner=origin, name=name, domain=domain, curators=curators,
                                            contribution_deposit=encode_u128(deposit),
                                            creation_deposit=encode_u128(config.creation_deposit),
                                            metadata_version=1, created_at=ctx.block_number))
    MetadataVersions.insert(ctx, new_id, 1, pb.Metadata(description=description, license=license_id,
                                                        accepted_formats=formats, set_at=ctx.block_number,
                                                        accepted_licenses=accepted_licenses,
                                                        personal_data_allowed=args.personal_data_allowed))
    NextDataNetId.put(ctx, new_id + 1)
    ev.Created.emit(ctx, datanet=new_id, owner=origin, name=name)


@calls.call(1, pb.Contribute, weights.CONTRIBUTE)
def contribute(ctx: Context, origin: bytes, args: pb.Contribute) -> None:
    """Submit a contribution (its content's hash; the data lives in the content store) with its terms; the
    deposit is held. Terms the DataNet's current metadata does not accept are refused (see `_terms`)."""
    net, terms, content, metadata_hash = check_contribution(ctx, args)
    deposit = decode_u128(net.contribution_deposit)
    token.hold(ctx, CONTRIBUTION_DEPOSIT, origin, deposit)
    new_id = NextContributionId.get(ctx, 1)
    Contributions.insert(ctx, new_id, pb.Contribution(
        id=new_id, datanet=net.id, contributor=origin, content_hash=content, size=args.size, format=args.format,
        metadata_hash=metadata_hash, status=pb.PENDING, deposit=encode_u128(deposit), submitted_at=ctx.block_number,
        terms=terms))
    ByDataNet.insert(ctx, net.id, new_id, b"")
    ByContributor.insert(ctx, origin, new_id, b"")
    LiveContent.insert(ctx, net.id, content, new_id)
    ByContent.insert(ctx, content, net.id, new_id)
    NextContributionId.put(ctx, new_id + 1)
    _stats(ctx, net.id, origin, "contributions")
    ev.Contributed.emit(ctx, contribution=new_id, datanet=net.id, contributor=origin, amount=encode_u128(deposit))


def check_contribution(ctx: Context, args: pb.Contribute) -> tuple[pb.DataNet, pb.ContributionTerms, bytes, bytes]:
    """(the DataNet, the terms, the content and metadata hashes) of a contribution its DataNet takes: known
    DataNet, accepted format and terms, sizes and hashes well formed, content not already there. Run again
    at the pool's door (`hooks.validate_transaction`): a contribution sure to fail is refused before any
    fee, not charged to fail in its block (an outside contributor's wrong format was)."""
    net = datanet(ctx, args.datanet)
    metadata = MetadataVersions.get(ctx, net.id, net.metadata_version)
    if args.format not in metadata.accepted_formats:
        raise errors.FormatNotAccepted(f"format {args.format!r} is not one of {list(metadata.accepted_formats)}")
    terms = _terms(net, metadata, args)
    content = _hash(args.content_hash, "content_hash")
    metadata_hash = _hash(args.metadata_hash, "metadata_hash", optional=True)
    if not 1 <= args.size <= ctx.config.max_blob_size:
        raise errors.BadInput(f"size must be within 1..{ctx.config.max_blob_size} bytes")
    existing = LiveContent.get(ctx, net.id, content)
    if existing is not None:
        raise errors.DuplicateContent(f"the same content is already contribution {existing}")
    return net, terms, content, metadata_hash


@calls.call(2, pb.Decide, weights.APPROVE)
def approve(ctx: Context, origin: bytes, args: pb.Decide) -> None:
    """Curator: approve a pending contribution; its deposit is returned."""
    found = _in_status(ctx, args.contribution, pb.PENDING, errors.NotPending)
    _curator(datanet(ctx, found.datanet), origin)
    deposit = decode_u128(found.deposit)
    token.release(ctx, CONTRIBUTION_DEPOSIT, found.contributor, deposit)
    _decide(ctx, found, pb.APPROVED, args.reason)
    Approved.insert(ctx, found.datanet, found.id, b"")
    _stats(ctx, found.datanet, found.contributor, "approved")
    ev.Approved.emit(ctx, contribution=found.id, datanet=found.datanet, contributor=found.contributor,
                     reason=args.reason, amount=encode_u128(deposit))


@calls.call(3, pb.Decide, weights.REJECT)
def reject(ctx: Context, origin: bytes, args: pb.Decide) -> None:
    """Curator: reject a pending contribution (spam, poor quality); its deposit is slashed to the treasury."""
    found = _in_status(ctx, args.contribution, pb.PENDING, errors.NotPending)
    _curator(datanet(ctx, found.datanet), origin)
    deposit = decode_u128(found.deposit)
    token.transfer_on_hold(ctx, CONTRIBUTION_DEPOSIT, found.contributor, TREASURY, deposit)
    LiveContent.remove(ctx, found.datanet, found.content_hash)
    _decide(ctx, found, pb.REJECTED, args.reason)
    _stats(ctx, found.datanet, found.contributor, "rejected")
    ev.Rejected.emit(ctx, contribution=found.id, datanet=found.datanet, contributor=found.contributor,
                     reason=args.reason, amount=encode_u128(deposit))


@calls.call(4, pb.ContributionRef, weights.WITHDRAW)
def withdraw(ctx: Context, origin: bytes, args: pb.ContributionRef) -> None:
    """Contributor: withdraw a contribution - pending (its deposit comes back), approved, or even rejected or
    revoked (their bytes were still served). From this block no new snapshot holds it, no node serves its bytes
    (`hooks.content_withdrawn`), the models trained on a snapshot holding it are marked as trained on withdrawn
    data, and it earns nothing from requests made from this block on; the snapshots that hold it keep its
    leaf, so they stay provable."""
    found = Contributions.require(ctx, args.contribution, errors.UnknownContribution,
                                  f"no contribution {args.contribution}")
    if origin != found.contributor:
        raise errors.NotContributor(f"contribution {found.id} is not the caller's")
    deposit = _retire(ctx, found, pb.WITHDRAWN)
    ev.Withdrawn.emit(ctx, contribution=found.id, datanet=found.datanet, contributor=origin,
                      amount=encode_u128(deposit))


@calls.call(5, pb.Decide, weights.REVOKE)
def revoke(ctx: Context, origin: bytes, args: pb.Decide) -> None:
    """Curator or contributor: take an approved contribution out of future snapshots (past ones keep it). This
    is curation, not removal: its bytes stay served and models trained on it are not flagged (a contributor
    who wants the data gone withdraws it; an owner or curator facing a claim takes it down)."""
    found = _in_status(ctx, args.contribution, pb.APPROVED, errors.NotApproved)
    if origin != found.contributor:
        _curator(datanet(ctx, found.datanet), origin)
    Approved.remove(ctx, found.datanet, found.id)
    LiveContent.remove(ctx, found.datanet, found.content_hash)
    _decide(ctx, found, pb.REVOKED, args.reason)
    ev.Revoked.emit(ctx, contribution=found.id, datanet=found.datanet, contributor=found.contributor,
                    reason=args.reason)


@calls.call(6, pb.PublishSnapshot, weights.PUBLISH)
def publish_snapshot(ctx: Context, origin: bytes, args: pb.PublishSnapshot) -> None:
    """Curator: freeze the approved contributions into the next numbered, immutable snapshot version."""
    net = datanet(ctx, args.datanet)
    _curator(net, origin)
    limit = ctx.config.max_snapshot_contributions
    ids = []
    for contribution_id, _ in Approved.iter_prefix(ctx, net.id):
        ids.append(contribution_id)
        if len(ids) > limit:
            raise errors.SnapshotTooLarge(f"more than {limit} approved contributions")
    if not ids:
        raise errors.NothingApproved(f"DataNet {net.id} has no approved contribution to snapshot")
    leaves = [leaf_of(Contributions.get(ctx, cid)) for cid in ids]
    version = net.snapshot_count + 1
    root = root_of(leaves)
    shares, personal = terms_mix(leaves)
    Snapshots.insert(ctx, net.id, version, pb.Snapshot(
        datanet=net.id, version=version, root=root, count=len(ids), total_size=sum(leaf.size for leaf in leaves),
        published_at=ctx.block_number, contribution_ids=ids, licenses=shares, personal_data=personal))
    net.snapshot_count = version
    DataNets.insert(ctx, net.id, net)
    ev.SnapshotPublished.emit(ctx, datanet=net.id, version=version, root=root, count=len(ids))


@calls.call(7, pb.CuratorChange, weights.CURATOR)
def add_curator(ctx: Context, origin: bytes, args: pb.CuratorChange) -> None:
    """Owner: add a curator."""
    net = datanet(ctx, args.datanet)
    _owner(net, origin)
    curator = check_account_id(args.curator, "curator")
    if curator in net.curators:
        raise errors.CuratorExists("already a curator")
    if len(net.curators) >= ctx.config.max_curators:
        raise errors.TooManyCurators(f"at most {ctx.config.max_curators} curators")
    net.curators.append(curator)
    DataNets.insert(ctx, net.id, net)
    ev.CuratorAdded.emit(ctx, datanet=net.id, curator=curator)


@calls.call(8, pb.CuratorChange, weights.CURATOR)
def remove_curator(ctx: Context, origin: bytes, args: pb.CuratorChange) -> None:
    """Owner: remove a curator."""
    net = datanet(ctx, args.datanet)
    _owner(net, origin)
    if args.curator not in net.curators:
        raise errors.UnknownCurator("not a curator of this DataNet")
    kept = [c for c in net.curators if c != args.curator]
    del net.curators[:]
    net.curators.extend(kept)
    DataNets.insert(ctx, net.id, net)
    ev.CuratorRemoved.emit(ctx, datanet=net.id, curator=args.curator)


def _curators(config, origin: bytes, args: pb.CreateDataNet) -> list[bytes]:
    """A new DataNet's curators: those named (distinct, at most the chain's maximum), else its creator."""
    curators = [check_account_id(c, "curator") for c in args.curators] or [origin]
    if len(set(curators)) != len(curators):
        raise errors.BadInput("curators must be distinct")
    if len(curators) > config.max_curators:
        raise errors.TooManyCurators(f"{len(curators)} curators; at most {config.max_curators}")
    return curators


def _contribution_deposit(config, args: pb.CreateDataNet) -> int:
    deposit = decode_u128(args.contribution_deposit, "contribution_deposit")
    if deposit < config.min_contribution_deposit:
        raise errors.BadInput(f"contribution_deposit must be at least "
                              f"{format_open(config.min_contribution_deposit)} OPEN")
    return deposit


def check_arguments(ctx: Context, signer: bytes, call: str, args) -> None:
    """The checks of a create_datanet or update_metadata that read its arguments and the chain's settings
    alone (texts, license, accepted licenses and formats, curators, the contribution deposit): run again at
    the pool's door (`hooks.validate_transaction`), so such a call is refused before any fee, not charged
    to fail in its block."""
    if call == "create_datanet":
        _text(args.name, "name", 64)
        _text(args.domain, "domain", 32)
        _curators(ctx.config, signer, args)
        _contribution_deposit(ctx.config, args)
    if call in ("create_datanet", "update_metadata"):
        _text(args.description, "description", 4096, required=False)
        _license(args.license)
        _formats(args.accepted_formats)
        _licenses(args.accepted_licenses)


@calls.call(9, pb.UpdateMetadata, weights.METADATA)
def update_metadata(ctx: Context, origin: bytes, args: pb.UpdateMetadata) -> None:
    """Owner: publish a new metadata version (earlier versions stay as they were); it decides the formats and
    terms of contributions submitted from now on."""
    net = datanet(ctx, args.datanet)
    _owner(net, origin)
    metadata = pb.Metadata(description=_text(args.description, "description", 4096, required=False),
                           license=_license(args.license), accepted_formats=_formats(args.accepted_formats),
                           set_at=ctx.block_number, accepted_licenses=_licenses(args.accepted_licenses),
                           personal_data_allowed=args.personal_data_allowed)
    net.metadata_version += 1
    MetadataVersions.insert(ctx, net.id, net.metadata_version, metadata)
    DataNets.insert(ctx, net.id, net)
    ev.MetadataUpdated.emit(ctx, datanet=net.id, version=net.metadata_version)


@calls.call(10, pb.SetPermissioned, weights.SET_PERMISSIONED)
def set_permissioned(ctx: Context, origin: bytes, args: pb.SetPermissioned) -> None:
    """Owner: make the DataNet permissioned (only granted accounts may train on or download its data) or public."""
    net = datanet(ctx, args.datanet)
    _owner(net, origin)
    if net.permissioned == args.permissioned:
        raise errors.BadInput(f"DataNet {net.id} is already {'permissioned' if net.permissioned else 'public'}")
    net.permissioned = args.permissioned
    DataNets.insert(ctx, net.id, net)
    ev.PermissionChanged.emit(ctx, datanet=net.id, permissioned=args.permissioned)


def _permissioned(ctx: Context, datanet_id: int) -> pb.DataNet:
    net = datanet(ctx, datanet_id)
    if not net.permissioned:
        raise errors.NotPermissioned(f"DataNet {net.id} is public: its data needs no access grant")
    return net


@calls.call(11, pb.RequestAccess, weights.ACCESS)
def request_access(ctx: Context, origin: bytes, args: pb.RequestAccess) -> None:
    """Ask the owner and curators of a permissioned DataNet for access to its data, with a note saying why."""
    net = _permissioned(ctx, args.datanet)
    note = _text(args.note, "note", 512, required=False)
    found = Access.get(ctx, net.id, origin)
    if found is not None and found.state in (pb.ACCESS_REQUESTED, pb.ACCESS_GRANTED):
        raise errors.AccessExists(f"access to DataNet {net.id} is already "
                                  f"{'granted' if found.state == pb.ACCESS_GRANTED else 'requested'}")
    Access.insert(ctx, net.id, origin, pb.Access(state=pb.ACCESS_REQUESTED, note=note,
                                                 requested_at=ctx.block_number))
    ev.AccessRequested.emit(ctx, datanet=net.id, account=origin, by=origin)


@calls.call(12, pb.AccessChange, weights.ACCESS)
def grant_access(ctx: Context, origin: bytes, args: pb.AccessChange) -> None:
    """Owner or curator: grant an account access (whether or not it asked)."""
    net = _permissioned(ctx, args.datanet)
    _curator(net, origin)
    account = check_account_id(args.account, "account")
    found = Access.get(ctx, net.id, account)
    if found is not None and found.state == pb.ACCESS_GRANTED:
        raise errors.AccessExists(f"the account already has access to DataNet {net.id}")
    found = found or pb.Access(requested_at=ctx.block_number)
    found.state, found.decided_at, found.decided_by = pb.ACCESS_GRANTED, ctx.block_number, origin
    Access.insert(ctx, net.id, account, found)
    ev.AccessGranted.emit(ctx, datanet=net.id, account=account, by=origin)


@calls.call(13, pb.AccessChange, weights.ACCESS)
def revoke_access(ctx: Context, origin: bytes, args: pb.AccessChange) -> None:
    """Owner or curator: take a grant back or turn a request down (models already registered keep their record)."""
    net = _permissioned(ctx, args.datanet)
    _curator(net, origin)
    found = Access.get(ctx, net.id, args.account)
    if found is None or found.state == pb.ACCESS_REVOKED:
        raise errors.NoAccess(f"the account holds no grant or request for DataNet {net.id}")
    found.state, found.decided_at, found.decided_by = pb.ACCESS_REVOKED, ctx.block_number, origin
    Access.insert(ctx, net.id, args.account, found)
    ev.AccessRevoked.emit(ctx, datanet=net.id, account=args.account, by=origin)


@calls.call(14, pb.TakeDown, weights.WITHDRAW)
def take_down(ctx: Context, origin: bytes, args: pb.TakeDown) -> None:
    """Owner or curator: remove a contribution on a takedown, with its reason code (TakedownReason: copyright
    claim, personal data, consent withdrawn, illegal content, other). What follows is a withdrawal's (see
    `withdraw`), in any status but withdrawn: rejecting or revoking leaves the bytes served, a takedown does
    not. A pending one's deposit goes back to its contributor: a takedown is not a verdict on the
    contributor (the data subject or a rights holder may be the one asking); a curator who judges the data
    spam rejects it. The same reads and writes as a withdrawal (plus the DataNet), hence its weight."""
    found = Contributions.require(ctx, args.contribution, errors.UnknownContribution,
                                  f"no contribution {args.contribution}")
    _curator(datanet(ctx, found.datanet), origin)
    if args.reason not in TAKEDOWN_REASONS:
        raise errors.BadInput(f"reason must be a takedown reason code: "
                              f"{', '.join(f'{code} {name}' for code, name in TAKEDOWN_REASONS.items())}")
    found.takedown, found.taken_down_by = args.reason, origin
    deposit = _retire(ctx, found, pb.TAKEN_DOWN)
    ev.TakenDown.emit(ctx, contribution=found.id, datanet=found.datanet, contributor=found.contributor,
                      reason=args.reason, amount=encode_u128(deposit))
