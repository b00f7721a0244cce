"""Exception types with messages written for the person who supplied the file."""
from __future__ import annotations


class GenreCoreError(Exception):
    """Base class for every error this package raises on purpose."""


class AudioError(GenreCoreError):
    """The audio given cannot be classified; the message says why in plain words."""


class EmptyAudioError(AudioError):
    pass


class NotAudioError(AudioError):
    pass


class CorruptAudioError(AudioError):
    """Decoding started but failed (truncated file, broken frames, NaN samples)."""


class AudioTooShortError(AudioError):
    pass


class SilentAudioError(AudioError):
    pass


class ModelLoadError(GenreCoreError):
    """A stored model folder is missing files or does not match its config."""


class DatasetError(GenreCoreError):
    """A dataset folder is missing or holds no usable clips."""
