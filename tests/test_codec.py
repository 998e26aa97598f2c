import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.codec import U128_MAX, CodecError, decode_u128, encode_u128, format_open, parse_open
from runtime.crypto import Keypair, decode_address, encode_address


@given(st.integers(0, U128_MAX))
def test_u128_round_trip_is_canonical(value):
    data = encode_u128(value)
    assert decode_u128(data) == value
    assert not data.startswith(b"\x00")


@pytest.mark.parametrize("bad", [b"\x00", b"\x00\x01", b"\x01" * 17])
def test_u128_rejects_non_canonical_or_oversized(bad):
    with pytest.raises(CodecError):
        decode_u128(bad)


@pytest.mark.parametrize("bad", [-1, U128_MAX + 1, True, 1.5])
def test_u128_refuses_to_encode_out_of_range(bad):
    with pytest.raises(CodecError):
        encode_u128(bad)


def test_open_amounts_parse_and_format():
    assert parse_open("1.5") == 1_500_000_000_000_000_000
    assert parse_open("2 OPEN") == 2 * 10**18
    assert format_open(1_500_000_000_000_000_000) == "1.5"
    with pytest.raises(CodecError, match="decimals"):
        parse_open("0.0000000000000000001")
    with pytest.raises(CodecError):
        parse_open("lots")
    # every digit counts (Decimal's default 28 rounded these, and a transfer signed another amount)
    assert parse_open("12345678901.123456789012345678") == 12345678901123456789012345678
    assert parse_open("340282366920938463463.374607431768211455") == U128_MAX
    for bad, said in (("340282366920938463463.374607431768211456", "outside"), ("-1", "outside"),
                      ("1e100000", "outside"), ("inf", "not an OPEN amount"), ("-Infinity", "not an OPEN amount"),
                      ("sNaN", "not an OPEN amount"), ("NaN", "not an OPEN amount")):
        with pytest.raises(CodecError, match=said):
            parse_open(bad)


def test_dev_keys_are_stable_and_addresses_checksummed():
    alice = Keypair.from_uri("//Alice")
    assert alice.public == Keypair.from_uri("//Alice").public != Keypair.from_uri("//Bob").public
    address = encode_address(alice.public)
    assert decode_address(address) == alice.public
    typo = address[:-1] + ("2" if address[-1] != "2" else "3")
    with pytest.raises(ValueError, match="checksum|not a Payable"):
        decode_address(typo)


def test_a_boolean_given_as_text_is_true_or_false_never_a_guess():
    """`--arg personal_data_allowed=maybe` was signed as false; a word that says neither is refused."""
    from payable.datanet.v1 import datanet_pb2
    from sdk.client import _convert

    field = datanet_pb2.CreateDataNet.DESCRIPTOR.fields_by_name["personal_data_allowed"]
    assert [_convert(field, w) for w in ("true", "Yes", "1", " TRUE ", "false", "no", "0")] == [True] * 4 + [False] * 3
    for word in ("ture", "maybe", "on", ""):
        with pytest.raises(ValueError, match="not true or false"):
            _convert(field, word)


def test_a_whole_number_field_takes_no_fraction_and_no_boolean():
    """`datanet: 1.5` named DataNet 1; `true` named 1."""
    from payable.datanet.v1 import datanet_pb2
    from sdk.client import _convert

    field = datanet_pb2.PublishSnapshot.DESCRIPTOR.fields_by_name["datanet"]
    assert [_convert(field, v) for v in (3, 3.0, "3")] == [3, 3, 3]
    for bad in (1.5, True, "1.5"):
        with pytest.raises(ValueError):
            _convert(field, bad)
