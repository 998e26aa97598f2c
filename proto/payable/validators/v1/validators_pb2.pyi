from payable import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Candidate(_message.Message):
    __slots__ = ("account", "consensus_key", "bond", "joined_at", "jailed", "jailed_until_ms", "tombstoned")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_KEY_FIELD_NUMBER: _ClassVar[int]
    BOND_FIELD_NUMBER: _ClassVar[int]
    JOINED_AT_FIELD_NUMBER: _ClassVar[int]
    JAILED_FIELD_NUMBER: _ClassVar[int]
    JAILED_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONED_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    consensus_key: bytes
    bond: bytes
    joined_at: int
    jailed: bool
    jailed_until_ms: int
    tombstoned: bool
    def __init__(self, account: _Optional[bytes] = ..., consensus_key: _Optional[bytes] = ..., bond: _Optional[bytes] = ..., joined_at: _Optional[int] = ..., jailed: _Optional[bool] = ..., jailed_until_ms: _Optional[int] = ..., tombstoned: _Optional[bool] = ...) -> None: ...

class SigningInfo(_message.Message):
    __slots__ = ("start_height", "counted", "missed", "missed_bits")
    START_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    COUNTED_FIELD_NUMBER: _ClassVar[int]
    MISSED_FIELD_NUMBER: _ClassVar[int]
    MISSED_BITS_FIELD_NUMBER: _ClassVar[int]
    start_height: int
    counted: int
    missed: int
    missed_bits: bytes
    def __init__(self, start_height: _Optional[int] = ..., counted: _Optional[int] = ..., missed: _Optional[int] = ..., missed_bits: _Optional[bytes] = ...) -> None: ...

class Validator(_message.Message):
    __slots__ = ("account", "consensus_key", "power")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_KEY_FIELD_NUMBER: _ClassVar[int]
    POWER_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    consensus_key: bytes
    power: int
    def __init__(self, account: _Optional[bytes] = ..., consensus_key: _Optional[bytes] = ..., power: _Optional[int] = ...) -> None: ...

class ValidatorSet(_message.Message):
    __slots__ = ("validators", "elected_at")
    VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    ELECTED_AT_FIELD_NUMBER: _ClassVar[int]
    validators: _containers.RepeatedCompositeFieldContainer[Validator]
    elected_at: int
    def __init__(self, validators: _Optional[_Iterable[_Union[Validator, _Mapping]]] = ..., elected_at: _Optional[int] = ...) -> None: ...

class BlockVoters(_message.Message):
    __slots__ = ("proposer", "signers")
    PROPOSER_FIELD_NUMBER: _ClassVar[int]
    SIGNERS_FIELD_NUMBER: _ClassVar[int]
    proposer: bytes
    signers: _containers.RepeatedCompositeFieldContainer[Validator]
    def __init__(self, proposer: _Optional[bytes] = ..., signers: _Optional[_Iterable[_Union[Validator, _Mapping]]] = ...) -> None: ...

class Bond(_message.Message):
    __slots__ = ("consensus_key", "amount")
    CONSENSUS_KEY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    consensus_key: bytes
    amount: bytes
    def __init__(self, consensus_key: _Optional[bytes] = ..., amount: _Optional[bytes] = ...) -> None: ...

class BondExtra(_message.Message):
    __slots__ = ("amount",)
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    amount: bytes
    def __init__(self, amount: _Optional[bytes] = ...) -> None: ...

class Unbond(_message.Message):
    __slots__ = ("amount",)
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    amount: bytes
    def __init__(self, amount: _Optional[bytes] = ...) -> None: ...

class Unjail(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Bonded(_message.Message):
    __slots__ = ("account", "consensus_key", "bond")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CONSENSUS_KEY_FIELD_NUMBER: _ClassVar[int]
    BOND_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    consensus_key: bytes
    bond: bytes
    def __init__(self, account: _Optional[bytes] = ..., consensus_key: _Optional[bytes] = ..., bond: _Optional[bytes] = ...) -> None: ...

class Unbonded(_message.Message):
    __slots__ = ("account", "amount", "withdrawable_at")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWABLE_AT_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    amount: bytes
    withdrawable_at: int
    def __init__(self, account: _Optional[bytes] = ..., amount: _Optional[bytes] = ..., withdrawable_at: _Optional[int] = ...) -> None: ...

class NewValidatorSet(_message.Message):
    __slots__ = ("validators", "removed")
    VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    validators: _containers.RepeatedCompositeFieldContainer[Validator]
    removed: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, validators: _Optional[_Iterable[_Union[Validator, _Mapping]]] = ..., removed: _Optional[_Iterable[bytes]] = ...) -> None: ...

class Slashed(_message.Message):
    __slots__ = ("account", "amount", "kind", "height")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    amount: bytes
    kind: int
    height: int
    def __init__(self, account: _Optional[bytes] = ..., amount: _Optional[bytes] = ..., kind: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class JailedForDowntime(_message.Message):
    __slots__ = ("account", "slashed", "missed", "window", "jailed_until_ms")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SLASHED_FIELD_NUMBER: _ClassVar[int]
    MISSED_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    JAILED_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    slashed: bytes
    missed: int
    window: int
    jailed_until_ms: int
    def __init__(self, account: _Optional[bytes] = ..., slashed: _Optional[bytes] = ..., missed: _Optional[int] = ..., window: _Optional[int] = ..., jailed_until_ms: _Optional[int] = ...) -> None: ...

class Unjailed(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    def __init__(self, account: _Optional[bytes] = ...) -> None: ...

class FeesRewarded(_message.Message):
    __slots__ = ("total", "proposer", "proposer_share")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PROPOSER_FIELD_NUMBER: _ClassVar[int]
    PROPOSER_SHARE_FIELD_NUMBER: _ClassVar[int]
    total: bytes
    proposer: bytes
    proposer_share: bytes
    def __init__(self, total: _Optional[bytes] = ..., proposer: _Optional[bytes] = ..., proposer_share: _Optional[bytes] = ...) -> None: ...

class CandidateRef(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    def __init__(self, account: _Optional[bytes] = ...) -> None: ...

class CandidatesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CandidateList(_message.Message):
    __slots__ = ("candidates",)
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    def __init__(self, candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ...) -> None: ...

class ActiveRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CandidateLiveness(_message.Message):
    __slots__ = ("account", "window", "max_missed", "counted", "missed", "start_height", "jailed", "jailed_until_ms", "tombstoned")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    MAX_MISSED_FIELD_NUMBER: _ClassVar[int]
    COUNTED_FIELD_NUMBER: _ClassVar[int]
    MISSED_FIELD_NUMBER: _ClassVar[int]
    START_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    JAILED_FIELD_NUMBER: _ClassVar[int]
    JAILED_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONED_FIELD_NUMBER: _ClassVar[int]
    account: bytes
    window: int
    max_missed: int
    counted: int
    missed: int
    start_height: int
    jailed: bool
    jailed_until_ms: int
    tombstoned: bool
    def __init__(self, account: _Optional[bytes] = ..., window: _Optional[int] = ..., max_missed: _Optional[int] = ..., counted: _Optional[int] = ..., missed: _Optional[int] = ..., start_height: _Optional[int] = ..., jailed: _Optional[bool] = ..., jailed_until_ms: _Optional[int] = ..., tombstoned: _Optional[bool] = ...) -> None: ...
