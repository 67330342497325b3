"""RESP2 encoding/parsing and URL handling of coord.resp (pure: no server)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coord.errors import InvalidInputError
from coord.resp import Reader, RespError, _parse_redirect, encode_command
from coord.resp_url import parse_url, redact


def test_encode_command_is_an_array_of_bulk_strings() -> None:
    assert encode_command(["SET", "k", 12, b"\x00v", 1.5]) == (
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$2\r\n\x00v\r\n$3\r\n1.5\r\n"
    )
    assert encode_command(["ECHO", "é"]) == b"*2\r\n$4\r\nECHO\r\n$2\r\n\xc3\xa9\r\n"


def test_encode_refuses_ambiguous_values() -> None:
    with pytest.raises(TypeError):
        encode_command(["SET", True])
    with pytest.raises(TypeError):
        encode_command(["SET", None])  # type: ignore[list-item]


def _parse_all(data: bytes) -> list[object]:
    reader = Reader()
    reader.feed(data)
    out = []
    while True:
        done, reply = reader.get()
        if not done:
            return out
        out.append(reply)


def test_reader_parses_every_reply_type() -> None:
    data = b"+OK\r\n-NOSCRIPT No matching script\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n*2\r\n*1\r\n:1\r\n$0\r\n\r\n"
    replies = _parse_all(data)
    assert replies[0] == "OK"
    assert isinstance(replies[1], RespError) and replies[1].kind == "NOSCRIPT"
    assert replies[2:] == [42, "hello", None, None, [[1], ""]]


def test_reader_waits_for_incomplete_replies_byte_by_byte() -> None:
    data = b"*3\r\n$3\r\nfoo\r\n:-7\r\n*1\r\n$4\r\nb\r\nr\r\n"
    reader = Reader()
    got = []
    for i in range(len(data)):
        reader.feed(data[i : i + 1])
        done, reply = reader.get()
        if done:
            got.append(reply)
    assert got == [["foo", -7, ["b\r\nr"]]]


@given(st.lists(st.one_of(st.text(), st.binary()), max_size=8))
def test_bulk_strings_round_trip(items: list[str | bytes]) -> None:
    # A server echoing the command's bulk strings back as an array: parse(encode(x)) == x.
    data = encode_command(items)
    (reply,) = _parse_all(data)
    expected = [i if isinstance(i, str) else i.decode("utf-8", "surrogateescape") for i in items]
    assert reply == expected


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "db", "user", "password"),
    [
        ("redis://127.0.0.1:6380/2", "redis", "127.0.0.1", 6380, 2, None, None),
        ("redis://localhost", "redis", "localhost", 6379, 0, None, None),
        ("redis://:s3cret@h:1/0", "redis", "h", 1, 0, None, "s3cret"),
        ("redis://alice:p%40ss@h:7000/3", "redis", "h", 7000, 3, "alice", "p@ss"),
        ("rediss://bob:pw@example.org:6390", "rediss", "example.org", 6390, 0, "bob", "pw"),
    ],
)
def test_parse_url(
    url: str, scheme: str, host: str, port: int, db: int, user: str | None, password: str | None
) -> None:
    e = parse_url(url)
    assert (e.scheme, e.host, e.port, e.db, e.username, e.password) == (scheme, host, port, db, user, password)
    assert e.tls == (scheme == "rediss")
    if password:
        assert password not in e.display()


def test_parse_unix_url() -> None:
    e = parse_url("unix://:pw@/tmp/redis.sock?db=4")
    assert (e.scheme, e.path, e.db, e.password) == ("unix", "/tmp/redis.sock", 4, "pw")
    assert "pw" not in e.display()


@pytest.mark.parametrize("url", ["http://h:1", "redis://h:notaport", "redis://h/x", "unix://"])
def test_bad_urls_are_one_line_errors_without_the_password(url: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_url(url.replace("//", "//u:topsecret@", 1) if url != "unix://" else url)
    assert "topsecret" not in info.value.line()
    assert "\n" not in info.value.line()


def test_redact_hides_the_password() -> None:
    assert redact("redis://:abc@127.0.0.1:1/0") == "redis://:***@127.0.0.1:1/0"
    assert redact("redis://127.0.0.1:1/0") == "redis://127.0.0.1:1/0"


def test_redirect_targets() -> None:
    assert _parse_redirect("MOVED 3999 127.0.0.1:6381") == ("127.0.0.1", 6381)
    assert _parse_redirect("ASK 1 [::1]:7000") == ("::1", 7000)
    assert _parse_redirect("MOVED 1") is None


def test_tls_options_in_the_query() -> None:
    e = parse_url("rediss://h:1/0?ssl_ca_certs=/etc/ca.pem&ssl_cert_reqs=none")
    assert (e.tls, e.ca_certs, e.verify) == (True, "/etc/ca.pem", False)
    assert parse_url("rediss://h:1").verify is True
    with pytest.raises(InvalidInputError, match="ssl_cert_reqs"):
        parse_url("rediss://h:1/0?ssl_cert_reqs=maybe")
