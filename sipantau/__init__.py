"""sipantau: a trustworthy quick count from phone photos of handwritten tally forms."""

__version__ = "0.1.0"
