"""Multi-scalar multiplication on the CPU: Pippenger's bucket method and the input checks.

See ``docs/architecture.md`` §5 for the window rule and the bucket representations.
"""
