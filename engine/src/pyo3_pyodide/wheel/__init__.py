"""The wheel: the maturin build plan, the audit of a built wheel, and whether a wheel fits a runtime."""
