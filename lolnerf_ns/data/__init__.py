"""From a collection of single-view photos (or known cameras) to identity-aware ray batches."""
