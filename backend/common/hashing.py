import hashlib


def stable_unit(*parts: object) -> float:
    """A stable number in [0, 1) from the parts: blinding, reference sets and cold-start order survive restarts."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
