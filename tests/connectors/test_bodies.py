"""`connectors.bodies.read_whole`: an answer's body read in one call, over a real socket,
and a body cut off raised as `requests` raises it."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from connectors.bodies import read_whole


def serve_once(reply: bytes) -> Iterator[str]:
    """A local server that answers one request with `reply` (raw bytes), then closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(reply)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        thread.join(timeout=5)
        listener.close()


BODY = b'{"emails": [' + b",".join(b'{"n": %d}' % n for n in range(20000)) + b"]}"


@pytest.fixture
def whole() -> Iterator[str]:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    yield from serve_once(head + b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY)


@pytest.fixture
def cut_off() -> Iterator[str]:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    yield from serve_once(head + b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY[:1000])


def test_a_body_is_read_whole_as_requests_would_hold_it(whole: str) -> None:
    with requests.Session() as session:
        answer = read_whole(session.get(whole, stream=True, timeout=5))

    assert answer.content == BODY
    assert answer.json()["emails"][-1] == {"n": 19999}
    assert len(BODY) > 100_000  # more than requests' ten 10 KB reads


def test_a_body_cut_off_is_raised_as_requests_raises_it(cut_off: str) -> None:
    with requests.Session() as session, pytest.raises(requests.exceptions.ChunkedEncodingError):
        read_whole(session.get(cut_off, stream=True, timeout=5))


def test_an_answer_made_without_a_connection_keeps_its_content() -> None:
    answer = requests.Response()
    answer._content = b"{}"

    assert read_whole(answer).content == b"{}"


def test_answers_read_whole_leave_their_connection_to_the_next_request() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY

    def serve() -> None:
        connection, _ = listener.accept()
        accepted.append(1)
        with connection:
            for _ in range(3):
                connection.recv(65536)
                connection.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    with requests.Session() as session:
        bodies = [read_whole(session.get(url, stream=True, timeout=5)).content for _ in range(3)]
    thread.join(timeout=5)
    listener.close()

    assert bodies == [BODY] * 3
    assert accepted == [1]  # one connection, kept open and used again


def test_the_body_is_read_in_one_call(whole: str) -> None:
    with requests.Session() as session:
        answer = session.get(whole, stream=True, timeout=5)
        reads: list[dict[str, object]] = []
        read = answer.raw.read

        def counted(*args: object, **kwargs: object) -> bytes:
            reads.append({"args": args, **kwargs})
            return read(*args, **kwargs)  # type: ignore[no-any-return]

        answer.raw.read = counted
        assert read_whole(answer).content == BODY

    assert reads == [{"args": (), "decode_content": True}]


def test_a_body_read_already_is_kept(whole: str) -> None:
    def read_by_a_hook(answer: requests.Response, **_: object) -> None:
        assert answer.content == BODY

    with requests.Session() as session:
        session.hooks["response"].append(read_by_a_hook)
        answer = read_whole(session.get(whole, stream=True, timeout=5))

    assert answer.content == BODY


def test_a_body_not_from_urllib3_is_read_as_requests_reads_it() -> None:
    answer = requests.Response()
    answer.raw = io.BytesIO(b'{"a": 1}')

    assert read_whole(answer).json() == {"a": 1}
