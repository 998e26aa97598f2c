from payable import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PENDING: _ClassVar[Status]
    APPROVED: _ClassVar[Status]
    REJECTED: _ClassVar[Status]
    WITHDRAWN: _ClassVar[Status]
    REVOKED: _ClassVar[Status]
    TAKEN_DOWN: _ClassVar[Status]

class TakedownReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TAKEDOWN_NONE: _ClassVar[TakedownReason]
    TAKEDOWN_COPYRIGHT: _ClassVar[TakedownReason]
    TAKEDOWN_PERSONAL_DATA: _ClassVar[TakedownReason]
    TAKEDOWN_CONSENT_WITHDRAWN: _ClassVar[TakedownReason]
    TAKEDOWN_ILLEGAL_CONTENT: _ClassVar[TakedownReason]
    TAKEDOWN_OTHER: _ClassVar[TakedownReason]

class AccessState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_REQUESTED: _ClassVar[AccessState]
    ACCESS_GRANTED: _ClassVar[AccessState]
    ACCESS_REVOKED: _ClassVar[AccessState]
PENDING: Status
APPROVED: Status
REJECTED: Status
WITHDRAWN: Status
REVOKED: Status
TAKEN_DOWN: Status
TAKEDOWN_NONE: TakedownReason
TAKEDOWN_COPYRIGHT: TakedownReason
TAKEDOWN_PERSONAL_DATA: TakedownReason
TAKEDOWN_CONSENT_WITHDRAWN: TakedownReason
TAKEDOWN_ILLEGAL_CONTENT: TakedownReason
TAKEDOWN_OTHER: TakedownReason
ACCESS_REQUESTED: AccessState
ACCESS_GRANTED: AccessState
ACCESS_REVOKED: AccessState

class DataNet(_message.Message):
    __slots__ = ("id", "owner", "name", "domain", "curators", "contribution_deposit", "creation_deposit", "metadata_version", "snapshot_count", "created_at", "permissioned")
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    CURATORS_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_DEPOSIT_FIELD_NUMBER: _ClassVar[int]
    CREATION_DEPOSIT_FIELD_NUMBER: _ClassVar[int]
    METADATA_VERSION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONED_FIELD_NUMBER: _ClassVar[int]
    id: int
    owner: bytes
    name: str
    domain: str
    curators: _containers.RepeatedScalarFieldContainer[bytes]
    contribution_deposit: bytes
    creation_deposit: bytes
    metadata_version: int
    snapshot_count: int
    created_at: int
    permissioned: bool
    def __init__(self, id: _Optional[int] = ..., owner: _Optional[bytes] = ..., name: _Optional[str] = ..., domain: _Optional[str] = ..., curators: _Optional[_Iterable[bytes]] = ..., contribution_deposit: _Optional[bytes] = ..., creation_deposit: _Optional[bytes] = ..., metadata_version: _Optional[int] = ..., snapshot_count: _Optional[int] = ..., created_at: _Optional[int] = ..., permissioned: _Optional[bool] = ...) -> None: ...

class Metadata(_message.Message):
    __slots__ = ("description", "license", "accepted_formats", "set_at", "accepted_licenses", "personal_data_allowed")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FORMATS_FIELD_NUMBER: _ClassVar[int]
    SET_AT_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_LICENSES_FIELD_NUMBER: _ClassVar[int]
    PERSONAL_DATA_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    description: str
    license: str
    accepted_formats: _containers.RepeatedScalarFieldContainer[str]
    set_at: int
    accepted_licenses: _containers.RepeatedScalarFieldContainer[str]
    personal_data_allowed: bool
    def __init__(self, description: _Optional[str] = ..., license: _Optional[str] = ..., accepted_formats: _Optional[_Iterable[str]] = ..., set_at: _Optional[int] = ..., accepted_licenses: _Optional[_Iterable[str]] = ..., personal_data_allowed: _Optional[bool] = ...) -> None: ...

class ContributionTerms(_message.Message):
    __slots__ = ("license", "terms_hash", "personal_data", "tdm_opt_out")
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    TERMS_HASH_FIELD_NUMBER: _ClassVar[int]
    PERSONAL_DATA_FIELD_NUMBER: _ClassVar[int]
    TDM_OPT_OUT_FIELD_NUMBER: _ClassVar[int]
    license: str
    terms_hash: bytes
    personal_data: bool
    tdm_opt_out: bool
    def __init__(self, license: _Optional[str] = ..., terms_hash: _Optional[bytes] = ..., personal_data: _Optional[bool] = ..., tdm_opt_out: _Optional[bool] = ...) -> None: ...

class Contribution(_message.Message):
    __slots__ = ("id", "datanet", "contributor", "content_hash", "size", "format", "metadata_hash", "status", "deposit", "reason", "submitted_at", "decided_at", "terms", "withdrawn_at", "takedown", "taken_down_by")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATANET_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTOR_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    METADATA_HASH_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DEPOSIT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_AT_FIELD_NUMBER: _ClassVar[int]
    TAKEDOWN_FIELD_NUMBER: _ClassVar[int]
    TAKEN_DOWN_BY_FIELD_NUMBER: _ClassVar[int]
    id: int
    datanet: int
    contributor: bytes
    content_hash: bytes
    size: int
    format: str
    metadata_hash: bytes
    status: Status
    deposit: bytes
    reason: int
    submitted_at: int
    decided_at: int
    terms: ContributionTerms
    withdrawn_at: int
    takedown: TakedownReason
    taken_down_by: bytes
    def __init__(self, id: _Optional[int] = ..., datanet: _Optional[int] = ..., contributor: _Optional[bytes] = ..., content_hash: _Optional[bytes] = ..., size: _Optional[int] = ..., format: _Optional[str] = ..., metadata_hash: _Optional[bytes] = ..., status: _Optional[_Union[Status, str]] = ..., deposit: _Optional[bytes] = ..., reason: _Optional[int] = ..., submitted_at: _Optional[int] = ..., decided_at: _Optional[int] = ..., terms: _Optional[_Union[ContributionTerms, _Mapping]] = ..., withdrawn_at: _Optional[int] = ..., takedown: _Optional[_Union[TakedownReason, str]] = ..., taken_down_by: _Optional[bytes] = ...) -> None: ...

class LicenseShare(_message.Message):
    __slots__ = ("license", "contribution_ids")
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_IDS_FIELD_NUMBER: _ClassVar[int]
    license: str
    contribution_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, license: _Optional[str] = ..., contribution_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class Snapshot(_message.Message):
    __slots__ = ("datanet", "version", "root", "count", "total_size", "published_at", "contribution_ids", "licenses", "personal_data")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_IDS_FIELD_NUMBER: _ClassVar[int]
    LICENSES_FIELD_NUMBER: _ClassVar[int]
    PERSONAL_DATA_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    version: int
    root: bytes
    count: int
    total_size: int
    published_at: int
    contribution_ids: _containers.RepeatedScalarFieldContainer[int]
    licenses: _containers.RepeatedCompositeFieldContainer[LicenseShare]
    personal_data: int
    def __init__(self, datanet: _Optional[int] = ..., version: _Optional[int] = ..., root: _Optional[bytes] = ..., count: _Optional[int] = ..., total_size: _Optional[int] = ..., published_at: _Optional[int] = ..., contribution_ids: _Optional[_Iterable[int]] = ..., licenses: _Optional[_Iterable[_Union[LicenseShare, _Mapping]]] = ..., personal_data: _Optional[int] = ...) -> None: ...

class SnapshotLeaf(_message.Message):
    __slots__ = ("contribution_id", "contributor", "content_hash", "size", "terms")
    CONTRIBUTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTOR_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    contribution_id: int
    contributor: bytes
    content_hash: bytes
    size: int
    terms: ContributionTerms
    def __init__(self, contribution_id: _Optional[int] = ..., contributor: _Optional[bytes] = ..., content_hash: _Optional[bytes] = ..., size: _Optional[int] = ..., terms: _Optional[_Union[ContributionTerms, _Mapping]] = ...) -> None: ...

class Access(_message.Message):
    __slots__ = ("state", "note", "requested_at", "decided_at", "decided_by")
    STATE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    state: AccessState
    note: str
    requested_at: int
    decided_at: int
    decided_by: bytes
    def __init__(self, state: _Optional[_Union[AccessState, str]] = ..., note: _Optional[str] = ..., requested_at: _Optional[int] = ..., decided_at: _Optional[int] = ..., decided_by: _Optional[bytes] = ...) -> None: ...

class ContributorStats(_message.Message):
    __slots__ = ("contributions", "approved", "rejected", "earned")
    CONTRIBUTIONS_FIELD_NUMBER: _ClassVar[int]
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    EARNED_FIELD_NUMBER: _ClassVar[int]
    contributions: int
    approved: int
    rejected: int
    earned: bytes
    def __init__(self, contributions: _Optional[int] = ..., approved: _Optional[int] = ..., rejected: _Optional[int] = ..., earned: _Optional[bytes] = ...) -> None: ...

class CreateDataNet(_message.Message):
    __slots__ = ("name", "domain", "description", "license", "curators", "contribution_deposit", "accepted_formats", "accepted_licenses", "personal_data_allowed")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    CURATORS_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_DEPOSIT_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FORMATS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_LICENSES_FIELD_NUMBER: _ClassVar[int]
    PERSONAL_DATA_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    name: str
    domain: str
    description: str
    license: str
    curators: _containers.RepeatedScalarFieldContainer[bytes]
    contribution_deposit: bytes
    accepted_formats: _containers.RepeatedScalarFieldContainer[str]
    accepted_licenses: _containers.RepeatedScalarFieldContainer[str]
    personal_data_allowed: bool
    def __init__(self, name: _Optional[str] = ..., domain: _Optional[str] = ..., description: _Optional[str] = ..., license: _Optional[str] = ..., curators: _Optional[_Iterable[bytes]] = ..., contribution_deposit: _Optional[bytes] = ..., accepted_formats: _Optional[_Iterable[str]] = ..., accepted_licenses: _Optional[_Iterable[str]] = ..., personal_data_allowed: _Optional[bool] = ...) -> None: ...

class Contribute(_message.Message):
    __slots__ = ("datanet", "content_hash", "size", "format", "metadata_hash", "terms")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    METADATA_HASH_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    content_hash: bytes
    size: int
    format: str
    metadata_hash: bytes
    terms: ContributionTerms
    def __init__(self, datanet: _Optional[int] = ..., content_hash: _Optional[bytes] = ..., size: _Optional[int] = ..., format: _Optional[str] = ..., metadata_hash: _Optional[bytes] = ..., terms: _Optional[_Union[ContributionTerms, _Mapping]] = ...) -> None: ...

class Decide(_message.Message):
    __slots__ = ("contribution", "reason")
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    contribution: int
    reason: int
    def __init__(self, contribution: _Optional[int] = ..., reason: _Optional[int] = ...) -> None: ...

class ContributionRef(_message.Message):
    __slots__ = ("contribution",)
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    contribution: int
    def __init__(self, contribution: _Optional[int] = ...) -> None: ...

class TakeDown(_message.Message):
    __slots__ = ("contribution", "reason")
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    contribution: int
    reason: TakedownReason
    def __init__(self, contribution: _Optional[int] = ..., reason: _Optional[_Union[TakedownReason, str]] = ...) -> None: ...

class PublishSnapshot(_message.Message):
    __slots__ = ("datanet",)
    DATANET_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    def __init__(self, datanet: _Optional[int] = ...) -> None: ...

class CuratorChange(_message.Message):
    __slots__ = ("datanet", "curator")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    CURATOR_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    curator: bytes
    def __init__(self, datanet: _Optional[int] = ..., curator: _Optional[bytes] = ...) -> None: ...

class UpdateMetadata(_message.Message):
    __slots__ = ("datanet", "description", "license", "accepted_formats", "accepted_licenses", "personal_data_allowed")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FORMATS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_LICENSES_FIELD_NUMBER: _ClassVar[int]
    PERSONAL_DATA_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    description: str
    license: str
    accepted_formats: _containers.RepeatedScalarFieldContainer[str]
    accepted_licenses: _containers.RepeatedScalarFieldContainer[str]
    personal_data_allowed: bool
    def __init__(self, datanet: _Optional[int] = ..., description: _Optional[str] = ..., license: _Optional[str] = ..., accepted_formats: _Optional[_Iterable[str]] = ..., accepted_licenses: _Optional[_Iterable[str]] = ..., personal_data_allowed: _Optional[bool] = ...) -> None: ...

class SetPermissioned(_message.Message):
    __slots__ = ("datanet", "permissioned")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONED_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    permissioned: bool
    def __init__(self, datanet: _Optional[int] = ..., permissioned: _Optional[bool] = ...) -> None: ...

class RequestAccess(_message.Message):
    __slots__ = ("datanet", "note")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    note: str
    def __init__(self, datanet: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...

class AccessChange(_message.Message):
    __slots__ = ("datanet", "account")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    account: bytes
    def __init__(self, datanet: _Optional[int] = ..., account: _Optional[bytes] = ...) -> None: ...

class DataNetCreated(_message.Message):
    __slots__ = ("datanet", "owner", "name")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    owner: bytes
    name: str
    def __init__(self, datanet: _Optional[int] = ..., owner: _Optional[bytes] = ..., name: _Optional[str] = ...) -> None: ...

class ContributionEvent(_message.Message):
    __slots__ = ("contribution", "datanet", "contributor", "reason", "amount")
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    DATANET_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    contribution: int
    datanet: int
    contributor: bytes
    reason: int
    amount: bytes
    def __init__(self, contribution: _Optional[int] = ..., datanet: _Optional[int] = ..., contributor: _Optional[bytes] = ..., reason: _Optional[int] = ..., amount: _Optional[bytes] = ...) -> None: ...

class SnapshotPublished(_message.Message):
    __slots__ = ("datanet", "version", "root", "count")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    version: int
    root: bytes
    count: int
    def __init__(self, datanet: _Optional[int] = ..., version: _Optional[int] = ..., root: _Optional[bytes] = ..., count: _Optional[int] = ...) -> None: ...

class CuratorEvent(_message.Message):
    __slots__ = ("datanet", "curator")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    CURATOR_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    curator: bytes
    def __init__(self, datanet: _Optional[int] = ..., curator: _Optional[bytes] = ...) -> None: ...

class MetadataUpdated(_message.Message):
    __slots__ = ("datanet", "version")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    version: int
    def __init__(self, datanet: _Optional[int] = ..., version: _Optional[int] = ...) -> None: ...

class PermissionChanged(_message.Message):
    __slots__ = ("datanet", "permissioned")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONED_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    permissioned: bool
    def __init__(self, datanet: _Optional[int] = ..., permissioned: _Optional[bool] = ...) -> None: ...

class AccessEvent(_message.Message):
    __slots__ = ("datanet", "account", "by")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    account: bytes
    by: bytes
    def __init__(self, datanet: _Optional[int] = ..., account: _Optional[bytes] = ..., by: _Optional[bytes] = ...) -> None: ...

class DataNetRequest(_message.Message):
    __slots__ = ("datanet",)
    DATANET_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    def __init__(self, datanet: _Optional[int] = ...) -> None: ...

class DataNetInfo(_message.Message):
    __slots__ = ("datanet", "metadata")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    datanet: DataNet
    metadata: Metadata
    def __init__(self, datanet: _Optional[_Union[DataNet, _Mapping]] = ..., metadata: _Optional[_Union[Metadata, _Mapping]] = ...) -> None: ...

class ListDataNetsRequest(_message.Message):
    __slots__ = ("start_after", "limit")
    START_AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    start_after: int
    limit: int
    def __init__(self, start_after: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class DataNetList(_message.Message):
    __slots__ = ("datanets", "next_start_after")
    DATANETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_START_AFTER_FIELD_NUMBER: _ClassVar[int]
    datanets: _containers.RepeatedCompositeFieldContainer[DataNetInfo]
    next_start_after: int
    def __init__(self, datanets: _Optional[_Iterable[_Union[DataNetInfo, _Mapping]]] = ..., next_start_after: _Optional[int] = ...) -> None: ...

class ContributionsRequest(_message.Message):
    __slots__ = ("datanet", "contributor", "filter_status", "status", "start_after", "limit")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTOR_FIELD_NUMBER: _ClassVar[int]
    FILTER_STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    START_AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    contributor: bytes
    filter_status: bool
    status: Status
    start_after: int
    limit: int
    def __init__(self, datanet: _Optional[int] = ..., contributor: _Optional[bytes] = ..., filter_status: _Optional[bool] = ..., status: _Optional[_Union[Status, str]] = ..., start_after: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ContributionList(_message.Message):
    __slots__ = ("contributions", "next_start_after")
    CONTRIBUTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_START_AFTER_FIELD_NUMBER: _ClassVar[int]
    contributions: _containers.RepeatedCompositeFieldContainer[Contribution]
    next_start_after: int
    def __init__(self, contributions: _Optional[_Iterable[_Union[Contribution, _Mapping]]] = ..., next_start_after: _Optional[int] = ...) -> None: ...

class SnapshotRequest(_message.Message):
    __slots__ = ("datanet", "version")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    version: int
    def __init__(self, datanet: _Optional[int] = ..., version: _Optional[int] = ...) -> None: ...

class MembershipProof(_message.Message):
    __slots__ = ("leaf", "index", "count", "siblings")
    LEAF_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SIBLINGS_FIELD_NUMBER: _ClassVar[int]
    leaf: SnapshotLeaf
    index: int
    count: int
    siblings: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, leaf: _Optional[_Union[SnapshotLeaf, _Mapping]] = ..., index: _Optional[int] = ..., count: _Optional[int] = ..., siblings: _Optional[_Iterable[bytes]] = ...) -> None: ...

class SnapshotWithProofs(_message.Message):
    __slots__ = ("snapshot", "proofs")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    PROOFS_FIELD_NUMBER: _ClassVar[int]
    snapshot: Snapshot
    proofs: _containers.RepeatedCompositeFieldContainer[MembershipProof]
    def __init__(self, snapshot: _Optional[_Union[Snapshot, _Mapping]] = ..., proofs: _Optional[_Iterable[_Union[MembershipProof, _Mapping]]] = ...) -> None: ...

class ProofRequest(_message.Message):
    __slots__ = ("datanet", "version", "contribution")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    version: int
    contribution: int
    def __init__(self, datanet: _Optional[int] = ..., version: _Optional[int] = ..., contribution: _Optional[int] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ("datanet", "contributor")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTOR_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    contributor: bytes
    def __init__(self, datanet: _Optional[int] = ..., contributor: _Optional[bytes] = ...) -> None: ...

class RankRequest(_message.Message):
    __slots__ = ("datanet", "offset", "limit")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    offset: int
    limit: int
    def __init__(self, datanet: _Optional[int] = ..., offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class RankedContributor(_message.Message):
    __slots__ = ("contributor", "stats")
    CONTRIBUTOR_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    contributor: bytes
    stats: ContributorStats
    def __init__(self, contributor: _Optional[bytes] = ..., stats: _Optional[_Union[ContributorStats, _Mapping]] = ...) -> None: ...

class RankedContributors(_message.Message):
    __slots__ = ("contributors", "total", "next_offset")
    CONTRIBUTORS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    contributors: _containers.RepeatedCompositeFieldContainer[RankedContributor]
    total: int
    next_offset: int
    def __init__(self, contributors: _Optional[_Iterable[_Union[RankedContributor, _Mapping]]] = ..., total: _Optional[int] = ..., next_offset: _Optional[int] = ...) -> None: ...

class AccessEntry(_message.Message):
    __slots__ = ("account", "access")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    access: Access
    def __init__(self, account: _Optional[bytes] = ..., access: _Optional[_Union[Access, _Mapping]] = ...) -> None: ...

class AccessList(_message.Message):
    __slots__ = ("permissioned", "entries")
    PERMISSIONED_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    permissioned: bool
    entries: _containers.RepeatedCompositeFieldContainer[AccessEntry]
    def __init__(self, permissioned: _Optional[bool] = ..., entries: _Optional[_Iterable[_Union[AccessEntry, _Mapping]]] = ...) -> None: ...

class AccessRequest(_message.Message):
    __slots__ = ("datanet", "account")
    DATANET_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    datanet: int
    account: bytes
    def __init__(self, datanet: _Optional[int] = ..., account: _Optional[bytes] = ...) -> None: ...

class AccessCheck(_message.Message):
    __slots__ = ("permissioned", "allowed", "reason")
    PERMISSIONED_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    permissioned: bool
    allowed: bool
    reason: str
    def __init__(self, permissioned: _Optional[bool] = ..., allowed: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...
