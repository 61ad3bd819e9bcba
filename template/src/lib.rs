//! The crate: plain Rust, with its unit tests (`cargo test`), and the module `_core` that PyO3 makes of
//! it for Python.

use pyo3::prelude::*;

/// Why a fraction could not be parsed.
#[derive(Debug, PartialEq)]
pub enum FractionError {
    Malformed(String),
    ZeroDenominator,
}

/// Parse a fraction like "3/4" into a float.
pub fn parse_fraction(text: &str) -> Result<f64, FractionError> {
    let malformed = || FractionError::Malformed(text.to_owned());
    let (numerator, denominator) = text.split_once('/').ok_or_else(malformed)?;
    let numerator: i64 = numerator.trim().parse().map_err(|_| malformed())?;
    let denominator: i64 = denominator.trim().parse().map_err(|_| malformed())?;
    if denominator == 0 {
        return Err(FractionError::ZeroDenominator);
    }
    Ok(numerator as f64 / denominator as f64)
}

#[pymodule]
mod _core {
    use pyo3::exceptions::{PyOverflowError, PyValueError, PyZeroDivisionError};
    use pyo3::prelude::*;

    use crate::FractionError;

    /// Add two integers.
    #[pyfunction]
    fn add(a: i64, b: i64) -> PyResult<i64> {
        a.checked_add(b).ok_or_else(|| {
            PyOverflowError::new_err(format!("{a} + {b} does not fit in a 64-bit integer"))
        })
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
        crate::parse_fraction(text)
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

    // The two functions below are examples for the tests (`{module}._core.panic_with`, `._core.trap`),
    // not part of the package's API.

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

#[cfg(test)]
mod tests {
    use super::{parse_fraction, FractionError};

    #[test]
    fn parses_a_fraction() {
        assert_eq!(parse_fraction("3/4"), Ok(0.75));
        assert_eq!(parse_fraction(" -1 / 8 "), Ok(-0.125));
    }

    #[test]
    fn refuses_text_that_is_not_a_fraction() {
        for text in ["three quarters", "3/", "3/4/5", "1.5/2"] {
            assert_eq!(
                parse_fraction(text),
                Err(FractionError::Malformed(text.to_owned()))
            );
        }
    }

    #[test]
    fn refuses_a_zero_denominator() {
        assert_eq!(parse_fraction("1/0"), Err(FractionError::ZeroDenominator));
    }
}
