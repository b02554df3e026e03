"""What the Prefect flows in flows/ are made of: running DVC stages and experiments as tasks (dvcflow), their
metrics and data-quality reports as Prefect artifacts (reports), frame decoding on a Ray cluster (scale)."""
