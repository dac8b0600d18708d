"""An HTTP answer's body read in one call.

`requests` reads a body 10 KB at a time (`Response.content`), a call into urllib3 and the
socket for each piece, and each a wait to take the GIL again, behind whatever threads
hold it. A pull's threads each read an answer while others map the pages before it, so
a report page of 100 KB or a query page of 1 MB waited ten or a hundred turns. Read as one
`urllib3` read, the socket hands over as much at a time as has arrived: a 120 KB answer from a
local server, read beside three busy threads, took 17 ms where `requests` took 26 (in
1 ms turns; 97 ms and 160 in Python's default 5 ms).
The Mailchimp SDK's requests (`connectors.mailchimp.transport`) and simple-salesforce's
(`connectors.salesforce.client.timed`) are read so.
"""

from __future__ import annotations

from typing import Any


def read_whole(answer: Any) -> Any:
    """`answer` (a `requests.Response` sent with `stream=True`) with its body read whole, as
    `Response.content` holds it; a failure while reading raised as `requests` raises it
    (`iter_content`), so that callers tell a cut-off answer as they did."""
    import requests
    from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

    if answer._content is not False or answer.raw is None:
        return answer  # read already (by a hook), or made without a connection
    if not callable(getattr(answer.raw, "stream", None)):  # not urllib3's: as requests reads
        answer.content  # noqa: B018
        return answer
    try:
        body = answer.raw.read(decode_content=True)
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from None
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from None
    except ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from None
    except SSLError as exc:
        raise requests.exceptions.SSLError(exc) from None
    answer._content = body or b""  # as `Response.content` keeps what it read
    answer._content_consumed = True
    return answer
