"""Errors a user can act on. Each says which file, row, column or field, and what was expected."""

from __future__ import annotations


class SongpopError(Exception):
    """Base of every error songpop raises for bad input; the CLI prints it and exits non-zero."""

    exit_code = 2


class DataNotFoundError(SongpopError):
    """A data file is missing and cannot be fetched."""


class LayoutError(SongpopError):
    """A file's columns match no known layout, or a required column is missing."""


class SchemaError(SongpopError):
    """A table's values break its schema (wrong type, out of range, empty...)."""


class MissingExtraError(SongpopError):
    """A part of songpop that needs an optional dependency group (`songpop[mlp]`) is asked for,
    and that group is not installed; the message ends with the command that installs it
    (`config.missing_extra_message`)."""


class BundleError(SongpopError):
    """A saved model folder is incomplete, tampered with, or of an unknown type."""


class InputError(SongpopError):
    """A record given for prediction is invalid."""


class AudioError(SongpopError):
    """An audio file cannot be read or analysed (missing, empty, not audio, damaged, too long)."""


class NotAudioError(AudioError):
    """The file is empty or not audio at all (the API answers 415)."""
