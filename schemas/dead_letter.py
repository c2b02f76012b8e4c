"""The dead-letter record: what `<input topic>.dlq` holds for a message we could not use."""

from __future__ import annotations

import binascii

import orjson

# A DLQ record keeps at most this much of the original message, so one huge junk message
# cannot become a huge DLQ message. The offset still locates the original.
MAX_RAW_KEPT = 64 * 1024


def dead_letter_json(topic: str, partition: int, offset: int, error: str, raw: bytes | None) -> bytes:
    """The CONTRACT's `{"topic", "partition", "offset", "error", "raw"}` for a rejected input message.

    `raw` is the original text when it is valid UTF-8, else base64 with `raw_encoding` set, so
    that any byte string survives the round trip; at most `MAX_RAW_KEPT` bytes of it are kept,
    with `raw_truncated_from` set to the original length.

    A flood of junk makes one per record: the usual record (ASCII, small) takes one dict and one
    `orjson.dumps`.

    >>> dead_letter_json("predictions", 0, 7, "not valid JSON", b"{oops")
    b'{"topic":"predictions","partition":0,"offset":7,"error":"not valid JSON","raw":"{oops"}'
    >>> dead_letter_json("labels", 1, 8, "not valid JSON", b"\\xff")
    b'{"topic":"labels","partition":1,"offset":8,"error":"not valid JSON","raw":"/w==","raw_encoding":"base64"}'
    """
    if raw is not None and raw.isascii() and len(raw) <= MAX_RAW_KEPT:
        return orjson.dumps({"topic": topic, "partition": partition, "offset": offset, "error": error,
                             "raw": raw.decode("ascii")})
    body: dict[str, object] = {"topic": topic, "partition": partition, "offset": offset, "error": error}
    if raw is None:
        body["raw"] = None
        return orjson.dumps(body)
    if len(raw) > MAX_RAW_KEPT:
        body["raw_truncated_from"] = len(raw)
        raw = raw[:MAX_RAW_KEPT]
    if is_utf8(raw):
        body["raw"] = raw.decode("utf-8")
    else:
        body["raw"] = binascii.b2a_base64(raw, newline=False).decode("ascii")
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
