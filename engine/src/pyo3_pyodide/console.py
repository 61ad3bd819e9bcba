"""The one console the engine prints through: to stderr, beside nox's own log lines."""

from rich.console import Console

# markup=False: paths and URLs print as they are; soft_wrap: long lines stay whole in logs.
console = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)
