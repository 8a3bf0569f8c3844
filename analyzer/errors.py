"""Errors the library raises; the CLI turns them into one-line messages."""


class BundleError(Exception):
    """The input cannot be read as a bundle at all (exit code 2)."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem
