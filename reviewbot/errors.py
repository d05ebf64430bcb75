"""The error tree of reviewbot (pure).

    ReviewbotError
    ├── UserInputError          the input is wrong: not mail, not a diff, a hostile path, ...
    │   ├── MalformedMailError      a message that cannot be parsed at all
    │   ├── BadDiffError            a diff unidiff cannot read, or with a hostile path
    │   └── ConfigError             a config file or command-line value that is invalid
    │       └── PatchworkForbidden      patchwork refused a write (no token, or no rights)
    └── InfrastructureError     our side failed: a tree missing, a download, a cache, a tool
        ├── TreeError               the kernel tree cannot be found, fetched or indexed
        ├── SandboxError            bubblewrap is missing or cannot start (sandbox.py)
        ├── KconfigWorkerError      the Kconfig worker died or timed out (kconfig/client.py)
        ├── ConfBuildError          the kernel's conf cannot be built (kconfig/conf_build.py)
        ├── RemoteError             a remote (lore, patchwork) failed, timed out or sent garbage
        ├── StoreError              the SQLite store cannot be opened or migrated (store/db.py)
        └── ExecutorError           a build job's worker was lost (build/executor.py)
            └── JobError                a job function raised

Callers show UserInputError to the user as a one-line reason (exit 2); an
InfrastructureError is ours to fix and is logged with its cause.
"""


class ReviewbotError(Exception):
    """Base of every error reviewbot raises on purpose."""


class UserInputError(ReviewbotError):
    """The input given to reviewbot is unusable."""


class MalformedMailError(UserInputError):
    """A mail that cannot be parsed."""


class BadDiffError(UserInputError):
    """A diff that cannot be read, or that names a hostile path."""


class ConfigError(UserInputError):
    """An invalid configuration value."""


class InfrastructureError(ReviewbotError):
    """Something on reviewbot's side failed."""


class TreeError(InfrastructureError):
    """The kernel tree cannot be found, fetched or indexed."""


class PatchworkForbidden(ConfigError):
    """Patchwork refused a write: the client has no token, or its user may not do this."""


class RemoteError(InfrastructureError):
    """A remote server failed, timed out, or answered with something unusable."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
