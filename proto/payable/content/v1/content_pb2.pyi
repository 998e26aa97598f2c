from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class UploadChunk(_message.Message):
    __slots__ = ("data", "expected_hash", "total_size")
    DATA_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_HASH_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    expected_hash: bytes
    total_size: int
    def __init__(self, data: _Optional[bytes] = ..., expected_hash: _Optional[bytes] = ..., total_size: _Optional[int] = ...) -> None: ...

class BlobInfo(_message.Message):
    __slots__ = ("hash", "size", "already_stored")
    HASH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ALREADY_STORED_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    size: int
    already_stored: bool
    def __init__(self, hash: _Optional[bytes] = ..., size: _Optional[int] = ..., already_stored: _Optional[bool] = ...) -> None: ...

class BlobRequest(_message.Message):
    __slots__ = ("hash",)
    HASH_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    def __init__(self, hash: _Optional[bytes] = ...) -> None: ...

class DownloadChunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...
