"""What apps load: a pyodide-lock.json that names the project's wheel, and a folder for static hosting."""
