"""Element and point encodings: the compact little-endian words of ``docs/architecture.md`` §4.

:mod:`workers.codec.arrays` is the format (shapes, dtypes, validators, bytes);
:mod:`workers.codec.limb_arrays` the plain integer ↔ ``uint64`` word conversions under it.
"""
