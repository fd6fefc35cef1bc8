"""User-facing error types: the CLI turns these into one clear line and a non-zero exit."""


class VptrError(Exception):
    """Any failure a user can act on (bad file, bad config, bad checkpoint)."""


class DataError(VptrError):
    """Bad input data. Always names the offending file and the problem."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f'{self.path}: {problem}')


class ConfigError(VptrError):
    """A configuration file or key=value override that cannot be used."""


class CheckpointError(VptrError):
    """A checkpoint directory that is missing, tampered with, truncated or mismatched."""
