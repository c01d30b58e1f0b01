"""The header values ingestion needs, read straight from the bytes of a plain DICOM file.

Almost every file a scanner or PACS sends is uncompressed explicit VR little endian. For those,
walking the top-level elements with `struct` and decoding only the ~25 values the platform
stores costs a fraction of a pydicom parse. Anything else (another transfer syntax, another
character set, multi-valued text, a header that ends early, a malformed element) gives None and
pydicom reads the file instead, so its checks and error messages stay the only ones.
"""

import struct

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.uid import UID

EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
# Explicit VR elements whose length takes 4 bytes (after 2 reserved ones) instead of 2.
LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
KNOWN_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split()
)
# Character sets whose text decodes with one Python codec (the default repertoire is ASCII).
CODECS = {"": "ascii", "ISO_IR 6": "ascii", "ISO_IR 100": "latin-1", "ISO_IR 192": "utf-8"}
UNDEFINED_LENGTH = 0xFFFFFFFF
ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010
TRANSFER_SYNTAX = 0x00020010

KEYWORDS = (
    "SpecificCharacterSet",
    "PatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyDescription",
    "SeriesInstanceUID",
    "SeriesNumber",
    "SeriesDescription",
    "FrameOfReferenceUID",
    "Modality",
    "SOPInstanceUID",
    "SOPClassUID",
    "InstanceNumber",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "PixelSpacing",
    "SliceThickness",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "BitsAllocated",
    "SamplesPerPixel",
)
WANTED = {tag_for_keyword(k): k for k in KEYWORDS}
EXPECTED_VR = {k: dictionary_VR(tag_for_keyword(k)).encode() for k in KEYWORDS}

_element = struct.Struct("<HH2sH")
_long_length = struct.Struct("<I")


class NotPlain(Exception):
    """The file is outside the plain case: pydicom must read it."""


class RawHeader:
    """The subset of a pydicom Dataset's interface that check_dicom uses, over raw values."""

    def __init__(self, values: dict, transfer_syntax: str, pixel_data: memoryview | None) -> None:
        self.values, self.pixel_data = values, pixel_data
        self.file_meta = {"TransferSyntaxUID": UID(transfer_syntax)}

    def get(self, keyword: str, default=None):
        return self.values.get(keyword, default)

    def __contains__(self, keyword: str) -> bool:
        return keyword == "PixelData" and self.pixel_data is not None or keyword in self.values

    @property
    def PixelData(self) -> memoryview:  # noqa: N802 - pydicom's name
        return self.pixel_data


def read_raw_header(content: bytes) -> RawHeader | None:
    """The header of a plain (uncompressed explicit VR little endian) DICOM file, else None."""
    try:
        return _read(memoryview(content))
    except (NotPlain, struct.error, UnicodeDecodeError, ValueError):
        return None


def _read(buf: memoryview) -> RawHeader:
    if len(buf) < 132 or buf[128:132] != b"DICM":
        raise NotPlain
    pos, transfer_syntax = 132, ""
    while pos + 8 <= len(buf) and _tag(buf, pos) >> 16 == 0x0002:  # file meta: always explicit VR LE
        tag, _, value, pos = _next_element(buf, pos)
        if tag == TRANSFER_SYNTAX:
            transfer_syntax = bytes(value).decode("ascii").strip(" \0")
    if transfer_syntax != EXPLICIT_VR_LITTLE_ENDIAN:
        raise NotPlain
    raw: dict[str, tuple[bytes, bytes]] = {}
    pixel_data = None
    while pos + 8 <= len(buf):
        tag, vr, value, pos = _next_element(buf, pos)
        if tag == PIXEL_DATA:
            pixel_data = value
            break
        keyword = WANTED.get(tag)
        if keyword is not None:
            if vr != EXPECTED_VR[keyword]:
                raise NotPlain
            raw[keyword] = (vr, bytes(value))
    if pos < len(buf) and pixel_data is None:
        raise NotPlain  # bytes left that are not a whole element: pydicom says what is wrong
    codec = CODECS.get(_text(raw.pop("SpecificCharacterSet", (b"CS", b""))[1], "ascii"))
    if codec is None:
        raise NotPlain
    return RawHeader(
        {k: _convert(vr, value, codec) for k, (vr, value) in raw.items()}, transfer_syntax, pixel_data
    )


def _tag(buf: memoryview, pos: int) -> int:
    group, element = struct.unpack_from("<HH", buf, pos)
    return group << 16 | element


def _next_element(buf: memoryview, pos: int) -> tuple[int, bytes, memoryview, int]:
    """(tag, VR, value, position after it) of the explicit VR element at pos."""
    group, element, vr, length = _element.unpack_from(buf, pos)
    pos += 8
    if vr in LONG_VRS:
        (length,) = _long_length.unpack_from(buf, pos)
        pos += 4
    elif vr not in KNOWN_VRS:
        raise NotPlain
    if length == UNDEFINED_LENGTH:
        if vr != b"SQ":
            raise NotPlain  # encapsulated pixel data or implicit VR inside UN: not plain
        end = _skip_sequence(buf, pos)
        return group << 16 | element, vr, buf[pos:end], end
    if pos + length > len(buf):
        raise NotPlain
    return group << 16 | element, vr, buf[pos : pos + length], pos + length


def _skip_sequence(buf: memoryview, pos: int) -> int:
    """Position after an undefined-length sequence's delimiter (its items are skipped, not read)."""
    while True:
        tag, (length,) = _tag(buf, pos), _long_length.unpack_from(buf, pos + 4)
        pos += 8
        if tag == SEQUENCE_END:
            return pos
        if tag != ITEM:
            raise NotPlain
        if length != UNDEFINED_LENGTH:
            pos += length
            continue
        while _tag(buf, pos) != ITEM_END:
            *_, pos = _next_element(buf, pos)
        pos += 8


def _text(value: bytes, codec: str) -> str:
    text = value.decode(codec).strip(" \0")
    if not text.isprintable():
        raise NotPlain  # control characters: pydicom's own stripping rules apply
    return text


def _convert(vr: bytes, value: bytes, codec: str):
    """The value as pydicom would give it, for the VRs of the wanted keywords."""
    if vr == b"US":
        numbers = struct.unpack(f"<{len(value) // 2}H", value)
        return numbers[0] if len(numbers) == 1 else list(numbers)
    text = _text(value, codec)
    if vr == b"DS":
        numbers = [float(v) for v in text.split("\\")] if text else []
        return numbers[0] if len(numbers) == 1 else numbers or ""
    if "\\" in text:
        raise NotPlain  # multi-valued text: pydicom's MultiValue
    if vr == b"IS":
        return int(text) if text else ""
    return text
