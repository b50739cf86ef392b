"""Domain errors. Each message names the bad value and the fix; the CLI and UI print them as-is."""


class RagError(Exception):
    """Base class: anything raised on purpose for a person to read."""


class InputError(RagError):
    """A question, file or argument that cannot be used as given."""


class UnsupportedFileError(InputError):
    """A file type we have no reader for, or a file whose content is not text."""


class IndexMissingError(RagError):
    """No index where one was expected."""


class IndexCorruptError(RagError):
    """An index whose files are damaged or disagree with each other."""


class IndexMismatchError(RagError):
    """An index built with a different model or chunk settings than the current config. `what` says the mismatch
    alone, without the advice the message ends with (the evaluation prints it when it rebuilds its own index)."""

    def __init__(self, message: str, what: str = "") -> None:
        super().__init__(message)
        self.what = what or message


class IndexLockedError(RagError):
    """Another process is writing the same index directory."""


class ModelError(RagError):
    """The embedding model could not be built or loaded."""
