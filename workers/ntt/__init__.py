"""Number-theoretic transforms on the CPU (radix-2 Cooley–Tukey, batched rows, twiddles)."""
