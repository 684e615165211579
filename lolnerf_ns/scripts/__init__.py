"""Command-line tools of the lolnerf method."""
