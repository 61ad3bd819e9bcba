// Makes a custom pyodide-lock.json inside Pyodide, then loads it as an app would:
// `node make_lock.mjs JOB.json`, where JOB.json is written by apps/pyodide_lock.py into the staging
// folder it names ("work"), next to the wheels to add and the runtime's own lock.
//
// 1. A Pyodide of the target runtime loads pyodide-lock and its dependencies (pure wheels, local files),
//    mounts the staging folder with NODEFS and calls add_wheels.py's main(), which writes the lock there.
// 2. A second Pyodide starts with that lock, loads the project by its name and imports its modules.
//    In Node, Pyodide takes a package from packageBaseUrl (the lock's folder) when the file is there,
//    so nothing is fetched.
// Pyodide reports a failed load to errorCallback and carries on: every load is checked. Exit code 0
// when the lock was written and loaded, 1 otherwise (the reason on stderr).

import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";

const WORK = "/work";

class LockError extends Error {}

async function load(pyodide, names, what) {
  const errors = [];
  await pyodide.loadPackage(names, {
    messageCallback: () => {},
    errorCallback: (message) => errors.push(message),
  });
  if (errors.length) throw new LockError(`loading ${what} failed: ${errors.join("; ")}`);
}

async function makeLock(loadPyodide, job) {
  const pyodide = await loadPyodide();
  await load(pyodide, job.toolWheels, "pyodide-lock and its dependencies");
  pyodide.FS.mkdirTree(WORK);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: job.work }, WORK);
  pyodide.FS.chdir(WORK);
  const namespace = pyodide.globals.get("dict")();
  try {
    pyodide.runPython(await readFile(job.script, "utf-8"), { globals: namespace });
    const result = JSON.parse(namespace.get("main")(JSON.stringify(job.lockJob)));
    if (result.error) throw new LockError(result.error);
    console.log(`pyodide-lock added ${result.added.join(", ")}`);
  } finally {
    namespace.destroy();
  }
}

async function checkLock(loadPyodide, job) {
  const lockFile = `${job.work}/pyodide-lock.json`;
  const lock = JSON.parse(await readFile(lockFile, "utf-8"));
  // With --base-url the wheels are not uploaded yet: load the local copies the lock names there.
  const baseURL = job.lockJob.base_url;
  for (const entry of Object.values(lock.packages)) {
    if (baseURL && entry.file_name.startsWith(baseURL)) {
      entry.file_name = entry.file_name.slice(baseURL.length);
    }
  }
  const pyodide = await loadPyodide({ lockFileContents: lock, packageBaseUrl: `${job.work}/` });
  await load(pyodide, job.package, `${job.package} by name with ${lockFile}`);
  for (const module of job.imports) pyodide.pyimport(module);
  console.log(
    `Pyodide ${pyodide.version} loaded ${job.package} by name with the new lock and imported ` +
      job.imports.join(", ") +
      (baseURL ? ` (its wheels from the local copies, not yet from ${baseURL})` : ""),
  );
}

async function main() {
  const job = JSON.parse(await readFile(process.argv[2], "utf-8"));
  try {
    const { loadPyodide } = await import(pathToFileURL(`${job.runtime}/pyodide.mjs`).href);
    await makeLock(loadPyodide, job);
    await checkLock(loadPyodide, job);
  } catch (error) {
    console.error(error instanceof LockError ? error.message : String(error.stack || error));
    process.exitCode = 1;
  }
}

await main();
