"""Command-line tools of the neurallift method."""
