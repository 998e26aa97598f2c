from payable import options_pb2 as _options_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class PostNote(_message.Message):
    __slots__ = ("content_hash",)
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    content_hash: bytes
    def __init__(self, content_hash: _Optional[bytes] = ...) -> None: ...

class DeleteNote(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Note(_message.Message):
    __slots__ = ("content_hash", "deposit")
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    DEPOSIT_FIELD_NUMBER: _ClassVar[int]
    content_hash: bytes
    deposit: bytes
    def __init__(self, content_hash: _Optional[bytes] = ..., deposit: _Optional[bytes] = ...) -> None: ...

class NotePosted(_message.Message):
    __slots__ = ("author", "content_hash")
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    author: bytes
    content_hash: bytes
    def __init__(self, author: _Optional[bytes] = ..., content_hash: _Optional[bytes] = ...) -> None: ...
