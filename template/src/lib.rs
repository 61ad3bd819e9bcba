//! The Rust side of the Python package: PyO3 turns this module into `_core`.

use pyo3::prelude::*;

#[pymodule]
mod _core {
    use pyo3::exceptions::{PyValueError, PyZeroDivisionError};
    use pyo3::prelude::*;

    /// Add two integers.
    #[pyfunction]
    fn add(a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }

    /// Why a fraction could not be parsed.
    #[derive(Debug)]
    enum FractionError {
        Malformed(String),
        ZeroDenominator,
    }

    // A Rust error becomes a Python exception at the boundary.
    impl From<FractionError> for PyErr {
        fn from(error: FractionError) -> PyErr {
            match error {
                FractionError::Malformed(text) => {
                    PyValueError::new_err(format!("not a fraction like \"3/4\": {text:?}"))
                }
                FractionError::ZeroDenominator => {
                    PyZeroDivisionError::new_err("the denominator is zero")
                }
            }
        }
    }

    /// Parse a fraction like "3/4" into a float.
    #[pyfunction]
    fn parse_fraction(text: &str) -> Result<f64, FractionError> {
        let malformed = || FractionError::Malformed(text.to_owned());
        let (numerator, denominator) = text.split_once('/').ok_or_else(malformed)?;
        let numerator: i64 = numerator.trim().parse().map_err(|_| malformed())?;
        let denominator: i64 = denominator.trim().parse().map_err(|_| malformed())?;
        if denominator == 0 {
            return Err(FractionError::ZeroDenominator);
        }
        Ok(numerator as f64 / denominator as f64)
    }

    /// A counter that remembers how often it was bumped.
    #[pyclass]
    struct Counter {
        #[pyo3(get)]
        count: u64,
    }

    #[pymethods]
    impl Counter {
        #[new]
        #[pyo3(signature = (start=0))]
        fn new(start: u64) -> Self {
            Counter { count: start }
        }

        /// Add `step` to the count and return the new count.
        #[pyo3(signature = (step=1))]
        fn bump(&mut self, step: u64) -> u64 {
            self.count += step;
            self.count
        }

        fn __repr__(&self) -> String {
            format!("Counter({})", self.count)
        }
    }

    /// Panic with `message`: PyO3 turns the panic into `pyo3_runtime.PanicException`.
    #[pyfunction]
    fn panic_with(message: &str) {
        panic!("{message}");
    }

    /// Stop with a WebAssembly trap, which no exception handler sees: Pyodide reports a fatal error
    /// with the stack, and this runtime cannot run Python any more. A wheel built with
    /// `nox -s wasm_build -- --debug` names this function in that stack. Natively: abort the process.
    #[pyfunction]
    fn trap() {
        #[cfg(target_arch = "wasm32")]
        core::arch::wasm32::unreachable();
        #[cfg(not(target_arch = "wasm32"))]
        std::process::abort();
    }
}
