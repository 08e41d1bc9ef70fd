"""songpop: learn what makes songs popular from chart and audio-feature data, and predict it."""

__version__ = "0.1.0"
