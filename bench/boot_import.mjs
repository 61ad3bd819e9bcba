// The baseline of the wasm_test benchmark: boot Pyodide in Node, install one wheel, import its module.
import { pathToFileURL } from "node:url";

const [runtimeDir, wheel, moduleName] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(`${runtimeDir}/pyodide.mjs`).href);
const pyodide = await loadPyodide({ indexURL: `${runtimeDir}/` });
await pyodide.loadPackage(wheel, {
  errorCallback: (message) => {
    throw new Error(message);
  },
});
pyodide.runPython(`import ${moduleName}`);
