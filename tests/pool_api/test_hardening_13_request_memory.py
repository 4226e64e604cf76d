"""Issue 14 item 13: memory per request.

The fault: a 32 MiB binary BabyBear NTT job took the API from 290 to 2,229 MiB and
stored a 256 MiB blob (about 60× and 8× the body): at the 256 MiB body limit, some
15 GiB of RAM per request.  What must hold: a binary body is checked where it lies
(NumPy over the received bytes, no Python integers) and stored in its compact
encoding, so the API's peak memory for one job stays within 3× the body and the
stored blob is the body's size; and a request is capped at
``PROVERPOOL_MAX_JOB_ELEMENTS`` elements (413, before the body is read when its
``Content-Length`` says so).

The memory is measured on the real API in a process of its own (uvicorn in a
subprocess, as ``bench/request_memory.py`` does at 32 MiB for every field and curve),
so the RSS is the server's alone.
"""

from __future__ import annotations

import pytest

from bench.request_memory import MIB, measure

OCTET = {"Content-Type": "application/octet-stream"}


@pytest.mark.parametrize("name", ["babybear", "bn254_fr", "bn254_g1"])
def test_peak_memory_of_a_binary_job_is_at_most_three_bodies(name, tmp_path):
    result = measure(name, 8 * MIB, tmp_path)
    assert result.status == 201
    assert result.stored_blob_bytes == result.body_bytes  # the compact encoding, as sent
    assert result.peak_increase_bytes <= 3 * result.body_bytes, (
        f"{name}: peak +{result.peak_increase_bytes / MIB:.1f} MiB for a "
        f"{result.body_bytes / MIB:.1f} MiB body ({result.ratio:.2f}×)"
    )


def test_jobs_over_the_element_cap_are_refused(make_api):
    api = make_api(max_job_elements=8)
    headers = OCTET | api.operator
    over = {"kind": "ntt", "field": "babybear"}
    binary = api.client.post("/v1/jobs", params=over, content=b"\0" * 4 * 16, headers=headers)
    assert binary.status_code == 413, binary.text
    assert "PROVERPOOL_MAX_JOB_ELEMENTS" in binary.json()["detail"]
    as_json = {"kind": "ntt", "field": "babybear", "values": [1] * 16}
    assert api.client.post("/v1/jobs", json=as_json, headers=api.operator).status_code == 413
    msm = {"kind": "msm", "curve": "bn254_g1"}
    terms = api.client.post("/v1/jobs", params=msm, content=b"\0" * 96 * 16, headers=headers)
    assert terms.status_code == 413, terms.text
    under = api.client.post("/v1/jobs", params=over, content=b"\0" * 4 * 8, headers=headers)
    assert under.status_code == 201, under.text
    small = {"kind": "ntt", "field": "babybear", "values": [1] * 8}
    assert api.client.post("/v1/jobs", json=small, headers=api.operator).status_code == 201
