"""Test and app dependencies for a runtime: pip for Pyodide's platform, the wheel cache, the test lock."""
