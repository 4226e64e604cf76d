"""The iden3 binary container of snarkjs' ``.zkey``, ``.wtns``, ``.r1cs`` and ``.ptau`` files.

Layout (iden3/binfileutils ``readBinFile``/``startWriteSection``): a 4-byte
ASCII magic (``"zkey"``, ``"wtns"``, ...), a ``u32`` version, a ``u32`` section
count, then that many sections, each a ``u32`` type id, a ``u64`` byte size and
the body; all integers little-endian.  :func:`read_sections` checks the whole
frame (magic, version, every section inside the file, nothing trailing) and
returns the bodies as zero-copy :class:`memoryview` slices by id.
"""

from __future__ import annotations

import struct

from workers.errors import Groth16InputError

_HEADER = struct.Struct("<4sII")
_SECTION = struct.Struct("<IQ")


def read_sections(
    data: bytes | bytearray | memoryview,
    magic: bytes,
    max_version: int,
    error: type[Groth16InputError],
    what: str,
) -> tuple[int, dict[int, list[memoryview]]]:
    """``(version, {section id: [bodies]})`` of an iden3 binary file, or ``error``.

    ``what`` names the file in messages (``".zkey"``); a section id may repeat,
    so each id maps to the list of its bodies in file order.
    """
    view = memoryview(data).cast("B")
    if len(view) < _HEADER.size:
        raise error(f"{what} is truncated: {len(view)} bytes, not even a header")
    found, version, n_sections = _HEADER.unpack_from(view, 0)
    if found != magic:
        raise error(f"{what} does not start with the magic {magic!r} (got {bytes(found)!r})")
    if not 1 <= version <= max_version:
        raise error(f"{what} has version {version}; supported: 1..{max_version}")
    sections: dict[int, list[memoryview]] = {}
    pos = _HEADER.size
    for i in range(n_sections):
        if pos + _SECTION.size > len(view):
            raise error(f"{what} is truncated in the header of section {i + 1} of {n_sections}")
        section_id, size = _SECTION.unpack_from(view, pos)
        pos += _SECTION.size
        if size > len(view) - pos:
            raise error(
                f"{what} is truncated: section {section_id} claims {size} bytes, "
                f"{len(view) - pos} remain"
            )
        sections.setdefault(section_id, []).append(view[pos : pos + size])
        pos += size
    if pos != len(view):
        raise error(f"{what} has {len(view) - pos} trailing bytes after its last section")
    return version, sections


def unique_section(
    sections: dict[int, list[memoryview]],
    section_id: int,
    error: type[Groth16InputError],
    what: str,
    name: str,
) -> memoryview:
    """The one body of section ``section_id`` (``name`` in messages), or ``error``."""
    bodies = sections.get(section_id, [])
    if len(bodies) != 1:
        state = "missing" if not bodies else f"present {len(bodies)} times"
        raise error(f"{what} section {section_id} ({name}) is {state}")
    return bodies[0]


def expect_size(
    body: memoryview, expected: int, error: type[Groth16InputError], what: str, name: str
) -> None:
    """``error`` unless ``body`` has exactly ``expected`` bytes."""
    if len(body) != expected:
        raise error(f"{what} section {name} has {len(body)} bytes, expected {expected}")
