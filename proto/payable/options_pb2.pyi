from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor
AMOUNT_FIELD_NUMBER: _ClassVar[int]
amount: _descriptor.FieldDescriptor
ACCOUNT_FIELD_NUMBER: _ClassVar[int]
account: _descriptor.FieldDescriptor
ANY_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
any_account: _descriptor.FieldDescriptor
