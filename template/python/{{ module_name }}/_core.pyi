from typing import NoReturn

def add(a: int, b: int) -> int:
    """Add two integers; raises OverflowError when the sum does not fit in a 64-bit integer."""

def parse_fraction(text: str) -> float:
    """Parse a fraction like "3/4" into a float.

    Raises ValueError for text that is not a fraction and ZeroDivisionError for a zero denominator.
    """

# panic_with and trap are examples for the tests, not part of the package's API.

def panic_with(message: str) -> None:
    """Panic in Rust; the panic arrives as pyo3_runtime.PanicException (a BaseException)."""

def trap() -> NoReturn:
    """Stop with a WebAssembly trap: no exception, Pyodide reports a fatal error with the stack and
    runs no more Python (names Rust functions in a `nox -s wasm_build -- --debug` wheel). Natively,
    it aborts the process."""

class Counter:
    """A counter that remembers how often it was bumped."""

    @property
    def count(self) -> int: ...
    def __init__(self, start: int = 0) -> None: ...
    def bump(self, step: int = 1) -> int:
        """Add `step` to the count and return the new count."""
