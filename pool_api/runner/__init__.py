"""The job runner: claims queued jobs under the pool's lease and runs them on the cluster."""
