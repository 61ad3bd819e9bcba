"""The one base of every error the engine raises for people (the lowest layer: it imports nothing).

Each says what was found, what was expected, and the command that fixes it. The sessions turn any of them
into nox's `session.error` in one place (sessions/__init__.py), so none reaches a user as a traceback.
"""


class EngineError(Exception):
    """What stops a session, with a message for people."""
