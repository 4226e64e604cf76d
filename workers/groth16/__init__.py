"""Groth16 proofs for circom/snarkjs artifacts: ``.zkey``/``.wtns`` readers, prover, verifier.

>>> from workers.groth16 import Groth16Prover, VerificationKey, read_wtns, read_zkey, verify
>>> zkey = read_zkey(open("circuit.zkey", "rb").read())          # doctest: +SKIP
>>> proof = Groth16Prover().prove(zkey, read_wtns(open("w.wtns", "rb").read()))  # doctest: +SKIP
>>> verify(VerificationKey.from_zkey(zkey), proof)                # doctest: +SKIP
True

``proof.proof_json()`` and ``proof.public_json()`` are snarkjs' ``proof.json``
and ``public.json``.  Malformed inputs raise subclasses of
:class:`workers.errors.Groth16InputError` (a ``ValueError``).
"""

from workers.groth16.prover import Groth16Prover, MsmFn, MsmTask, NttFn, Proof
from workers.groth16.verify import VerificationKey, proof_from_json, verify
from workers.groth16.wtns import check_witness, read_wtns
from workers.groth16.zkey import ZKey, read_zkey

__all__ = [
    "Groth16Prover",
    "MsmFn",
    "MsmTask",
    "NttFn",
    "Proof",
    "VerificationKey",
    "ZKey",
    "check_witness",
    "proof_from_json",
    "read_wtns",
    "read_zkey",
    "verify",
]
