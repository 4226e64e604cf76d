"""``bench/groth16.py``'s helpers (issue 16 item 6): groth16py's 256-byte proof read into
snarkjs' files, and the seconds covered by overlapping phases of a pooled proof."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from workers.codec.limb_arrays import limbs_to_ints
from workers.groth16 import VerificationKey, proof_from_json, read_wtns, verify

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "groth16"
GROTH16PY_CHAIN12 = bytes.fromhex(
    "1e15b669fc1b04876ed591a590974d22683298982faa624c184eaace84a44b67"
    "00f76453d0c0b1751642eb581e14bf03d22b7f3b00b65dd5a793e4470c5b63bd"
    "03fe6cd4704f9626e2363f2596b3598bff80e8b051e449ff3299e5915d76e063"
    "1e6aa4a6423397eb80e76cc789657154a8b7c86c2bd4da00f606fe6bec0511e8"
    "23d6e0e97cb0a5da560664310b3cd1f937d2044e10e122d02be4d5d021a6e4e2"
    "0185eefdba7dd83b6250e42e79cd97e4a2fff8fc515a7716a85db158f3b7dfe1"
    "11794a82e994a72aa328a38d5f77a449d9d2599fde0933cdf9e8388933ec086c"
    "1c1edf7a19d3b9d1870f4a28463461e9509641e6c7e521658bc73143bbc02b19"
)
"""``groth16py.prove_wtns`` (0.2.0) on ``chain12.zkey`` and ``chain12.w1.wtns``."""


def _bench(name: str):
    sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location(f"bench.{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_groth16py_proof_is_read_in_ethereum_order():
    peers = _bench("groth16_peers")
    vk = VerificationKey.from_json(json.loads((FIXTURES / "chain12.vkey.json").read_text()))
    witness = read_wtns((FIXTURES / "chain12.w1.wtns").read_bytes())
    public = [int(v) for v in limbs_to_ints(witness[1 : 1 + vk.n_public])]
    files = peers.groth16py_proof(GROTH16PY_CHAIN12, public)
    assert files["public"] == [str(v) for v in public]
    assert verify(vk, proof_from_json(files["proof"], files["public"]))
    words = [GROTH16PY_CHAIN12[i : i + 32] for i in range(0, 256, 32)]
    swapped = b"".join([*words[:2], words[3], words[2], words[5], words[4], *words[6:]])
    other = peers.groth16py_proof(swapped, public)  # B's c0 and c1 the other way round
    assert not verify(vk, proof_from_json(other["proof"], other["public"]))
    with pytest.raises(ValueError, match="255 bytes"):
        peers.groth16py_proof(GROTH16PY_CHAIN12[:255], public)


def test_overlapping_phases_count_once():
    union = _bench("groth16_peers").union_seconds
    assert union([]) == 0.0
    assert union([(0.0, 1.0), (2.0, 3.0)]) == 2.0
    assert union([(0.0, 2.0), (1.0, 3.0), (1.5, 1.7)]) == 3.0
    assert union([(5.0, 6.0), (0.0, 10.0)]) == 10.0
