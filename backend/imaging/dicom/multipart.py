"""multipart/related for DICOMweb: parse a request body as a stream, build responses as streams."""

import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

CHUNK = 1 << 16


class MultipartError(ValueError):
    pass


def boundary_of(content_type: str) -> bytes:
    match = re.search(r'boundary="?([^";]+)"?', content_type or "", re.I)
    if not content_type.lower().startswith("multipart/related") or not match:
        raise MultipartError("expected Content-Type multipart/related with a boundary")
    return match.group(1).encode()


def split_parts(stream: BinaryIO, boundary: bytes, open_part: Callable[[dict[str, str]], BinaryIO]) -> int:
    """Write each part of a multipart body to the file open_part(headers) returns; bounded memory.

    Returns the number of parts.
    """
    delimiter = b"\r\n--" + boundary
    buffer, state, part, count = b"\r\n", "preamble", None, 0
    finished = False
    while not finished:
        chunk = stream.read(CHUNK)
        buffer += chunk
        progressed = True
        while progressed and not finished:
            progressed = False
            if state == "preamble" or state == "between":
                index = buffer.find(delimiter)
                if index < 0:
                    buffer = buffer[-len(delimiter) :]
                    break
                buffer, state, progressed = buffer[index + len(delimiter) :], "after_delimiter", True
            elif state == "after_delimiter":
                if len(buffer) < 2:
                    break
                if buffer.startswith(b"--"):
                    finished = True
                    break
                state, progressed = "headers", True
            elif state == "headers":
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > CHUNK:
                        raise MultipartError("part headers are too long")
                    break
                headers = {}
                for line in buffer[:end].decode("latin-1").split("\r\n"):
                    if ":" in line:
                        key, value = line.split(":", 1)
                        headers[key.strip().lower()] = value.strip()
                buffer, part, state, progressed = buffer[end + 4 :], open_part(headers), "body", True
                count += 1
            elif state == "body":
                index = buffer.find(delimiter)
                if index < 0:
                    safe = len(buffer) - len(delimiter)
                    if safe > 0:
                        part.write(buffer[:safe])
                        buffer = buffer[safe:]
                    break
                part.write(buffer[:index])
                part.close()
                part, buffer, state, progressed = None, buffer[index:], "between", True
        if not chunk and not finished:
            if part is not None:
                part.close()
            raise MultipartError("the body ended before the closing boundary")
    return count


def multipart_stream(parts: Iterable[tuple[str, Iterable[bytes]]], boundary: str) -> Iterator[bytes]:
    """Body of a multipart/related response: (content type, byte chunks) per part."""
    for content_type, chunks in parts:
        yield f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode()
        yield from chunks
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode()


def new_boundary() -> str:
    return f"spine-{uuid.uuid4().hex}"


def file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk
