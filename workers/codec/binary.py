"""Left only for ``pool_api/runner/msm.py``, the last importer: use :mod:`workers.codec.arrays`.

Everything that was here (element and point bodies, their validators, ``first_not_below``)
is in :mod:`workers.codec.arrays`; once the runner calls ``arrays.encode_points`` this
file goes.
"""

from __future__ import annotations

from workers.codec.arrays import encode_points

__all__ = ["encode_points"]
