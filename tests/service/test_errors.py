"""service.errors.in_words: what a job's error or a report note says about an exception."""

from __future__ import annotations

import errno

from voicesmith.service.errors import NotFound, in_words


def test_in_words_never_shows_paths_or_errno():
    secret_path = "/srv/voicesmith/data/blobs/datasets/dataset_x/file_y"
    cases = {
        OSError(errno.ENOSPC, "No space left on device", secret_path): "disk is full",
        FileNotFoundError(errno.ENOENT, "No such file or directory", secret_path): "missing",
        PermissionError(errno.EACCES, "Permission denied", secret_path): "not allowed",
        OSError(errno.ENOTTY, "Inappropriate ioctl", secret_path): "could not read or write",
        ImportError(f"cannot import name 'x' from 'y' ({secret_path}.py)"): "ImportError",
        ValueError(f"bad value in {secret_path}"): "internal error",
        MemoryError(): "out of memory",
    }
    for exc, words in cases.items():
        text = in_words(exc)
        assert words in text and secret_path not in text and "Errno" not in text and "/" not in text, text
    assert in_words(NotFound("No dataset 'x' in your organisation.")) == "No dataset 'x' in your organisation."
