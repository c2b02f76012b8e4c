"""The dead-letter record: what `<input topic>.dlq` holds for a message we could not use."""

from __future__ import annotations

import base64
from typing import NamedTuple

import orjson

# A DLQ record keeps at most this much of the original message, so one huge junk message
# cannot become a huge DLQ message. The offset still locates the original.
MAX_RAW_KEPT = 64 * 1024


class DeadLetter(NamedTuple):
    """A rejected input message, with where it came from and why it was rejected.

    A NamedTuple, not a frozen dataclass: a flood of junk builds one per record, and a frozen
    dataclass costs three times as much to build.
    """

    topic: str
    partition: int
    offset: int
    error: str
    raw: bytes | None
    key: bytes | None = None

    def to_json(self) -> bytes:
        """The CONTRACT's `{"topic", "partition", "offset", "error", "raw"}`.

        `raw` is the original text when it is valid UTF-8, else base64 with `raw_encoding`
        set, so that any byte string survives the round trip.

        >>> DeadLetter("predictions", 0, 7, "not valid JSON", b"{oops").to_json()
        b'{"topic":"predictions","partition":0,"offset":7,"error":"not valid JSON","raw":"{oops"}'
        """
        raw = self.raw
        if raw is None:
            return orjson.dumps({"topic": self.topic, "partition": self.partition, "offset": self.offset,
                                 "error": self.error, "raw": None})
        if len(raw) > MAX_RAW_KEPT:
            body = {"topic": self.topic, "partition": self.partition, "offset": self.offset, "error": self.error,
                    "raw_truncated_from": len(raw)}
            raw = raw[:MAX_RAW_KEPT]
        else:
            body = {"topic": self.topic, "partition": self.partition, "offset": self.offset, "error": self.error}
        if raw.isascii() or is_utf8(raw):   # no call for ASCII, which nearly every record is
            body["raw"] = raw.decode("utf-8")
        else:
            body["raw"] = base64.b64encode(raw).decode("ascii")
            body["raw_encoding"] = "base64"
        return orjson.dumps(body)


def is_utf8(raw: bytes) -> bool:
    r"""Whether `raw` is valid UTF-8, without raising (a raised UnicodeDecodeError costs ~1 us, and a
    flood of binary junk is all invalid): decoding with replacement adds a U+FFFD for each invalid
    sequence, beyond those the text itself holds (encoded as EF BF BD).

    >>> is_utf8("naïve \ufffd".encode()), is_utf8(b"\xff\xfe"), is_utf8(b"\xed\xa0\x80")   # the last: a surrogate
    (True, False, False)
    """
    if raw.isascii():
        return True
    text = raw.decode("utf-8", "replace")
    return "\ufffd" not in text or text.count("\ufffd") == raw.count(b"\xef\xbf\xbd")
