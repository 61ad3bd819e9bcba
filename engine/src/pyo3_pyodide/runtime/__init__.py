"""The Pyodide runtime: the npm package in the per-user cache, the Node and browser runners, a local server."""
