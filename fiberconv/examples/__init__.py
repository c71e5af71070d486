"""Runnable end-to-end examples: ``python -m fiberconv.examples.<name>``."""
