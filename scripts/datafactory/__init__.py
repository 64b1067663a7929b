"""The training-data factory behind scripts/build_dataset.py (issue 6)."""
