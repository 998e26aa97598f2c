from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UploadChunk(_message.Message):
    __slots__ = ("data", "expected_hash", "total_size", "uploader", "issued_at", "signature")
    DATA_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_HASH_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    UPLOADER_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    expected_hash: bytes
    total_size: int
    uploader: bytes
    issued_at: int
    signature: bytes
    def __init__(self, data: _Optional[bytes] = ..., expected_hash: _Optional[bytes] = ..., total_size: _Optional[int] = ..., uploader: _Optional[bytes] = ..., issued_at: _Optional[int] = ..., signature: _Optional[bytes] = ...) -> None: ...

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
    __slots__ = ("hash", "reader", "issued_at", "signature")
    HASH_FIELD_NUMBER: _ClassVar[int]
    READER_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    reader: bytes
    issued_at: int
    signature: bytes
    def __init__(self, hash: _Optional[bytes] = ..., reader: _Optional[bytes] = ..., issued_at: _Optional[int] = ..., signature: _Optional[bytes] = ...) -> None: ...

class ManifestChunk(_message.Message):
    __slots__ = ("hash", "size")
    HASH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    size: int
    def __init__(self, hash: _Optional[bytes] = ..., size: _Optional[int] = ...) -> None: ...

class ManifestFile(_message.Message):
    __slots__ = ("path", "size", "hash", "chunks")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    path: str
    size: int
    hash: bytes
    chunks: _containers.RepeatedCompositeFieldContainer[ManifestChunk]
    def __init__(self, path: _Optional[str] = ..., size: _Optional[int] = ..., hash: _Optional[bytes] = ..., chunks: _Optional[_Iterable[_Union[ManifestChunk, _Mapping]]] = ...) -> None: ...

class Manifest(_message.Message):
    __slots__ = ("kind", "files")
    KIND_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    kind: str
    files: _containers.RepeatedCompositeFieldContainer[ManifestFile]
    def __init__(self, kind: _Optional[str] = ..., files: _Optional[_Iterable[_Union[ManifestFile, _Mapping]]] = ...) -> None: ...

class DownloadChunk(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...
