"""The network lab's tests (issue 15): skipped, with the reason, where no lab can be built
(not root, no iproute2, no network namespaces)."""

from __future__ import annotations

import pytest
from lab import unavailable

_REASON = unavailable()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _REASON is None:
        return
    for item in items:
        if "tests/netlab/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.skip(reason=_REASON))
