"""edgectl: the edge controller daemon for a gated compound."""

__version__ = "0.1.0"
