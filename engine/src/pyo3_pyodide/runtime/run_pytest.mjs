// Runs the project's pytest suite inside Pyodide: `node run_pytest.mjs JOB.json`, where JOB.json is
// written by runtime/suite.py, which has already picked and checked every file named in it.
//
// In Node ("mode": "node") Pyodide runs in this process and the project folder is mounted with NODEFS.
// With "mode": "browser" this process drives a browser: Chromium through playwright-core, Firefox through
// puppeteer-core over WebDriver BiDi ("browser" says which, "library" where the library is), or WebKitGTK's
// MiniBrowser through its WebKitWebDriver over WebDriver classic, in an Xvfb of its own (webkit.mjs).
// runtime/browsers.py finds the installed programs ("executable", and for WebKit "minibrowser", "xvfb").
// The page, served by wasm_test on 127.0.0.1, imports this same file and calls runInBrowser(), which
// fetches the test files over HTTP and writes them into Pyodide's file system. Any request to another
// origin is refused and fails the run.
//
// Pyodide reports some failures without raising (loadPackage calls errorCallback and carries on), so
// every load is checked, and each installed distribution and module is verified before pytest starts.
// When Pyodide dies inside a test (a fatal error: a trap, an abort, the VM's stack overflowing), that test
// counts as crashed and the tests not yet run go on in a fresh Pyodide (runSuite).
// The exit code is pytest's (1 when a test crashed); SETUP_FAILED means the suite never ran.

const SETUP_FAILED = 100;
const PROJECT_DIR = "/project";
// What a headless Chromium needs on a machine with a closed network (no sandbox as root, no GPU,
// no background connections to Google).
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
// Firefox: puppeteer's profile turns off updates, telemetry and safe browsing, and points remote settings
// at a dummy server, which a release build honours only with this variable (without it, Firefox keeps
// connecting to firefox.settings.services.mozilla.com).
const FIREFOX_ENV = { MOZ_REMOTE_SETTINGS_DEVTOOLS: "1" };

class SetupError extends Error {}

// The Python that runs inside Pyodide lives in .py files of the package (runtime/inside_pyodide.py: the
// snapshot's recipe and the check of the installed wheels; runtime/pytest_inside.py: around pytest), given
// in the job as text (`job.inside`: file name -> source) and written into Pyodide's file system.
const INSIDE_DIR = "/tmp/pyo3-pyodide-wasm-test";

function writeInside(pyodide, inside) {
  pyodide.FS.mkdirTree(INSIDE_DIR);
  for (const [name, source] of Object.entries(inside)) pyodide.FS.writeFile(`${INSIDE_DIR}/${name}`, source);
}

const IMPORT_INSIDE = `import sys\nif "${INSIDE_DIR}" not in sys.path: sys.path.insert(0, "${INSIDE_DIR}")\n`;

// The wheels were resolved and their tags checked on the host for this runtime (the rules its own micropip
// applies), so they are loaded with pyodide.loadPackage, all at once, without starting micropip; then checked.
const CHECK = `${IMPORT_INSIDE}
import json, inside_pyodide
job = json.loads(job_json)
json.dumps(inside_pyodide.check_installed(job["distributions"], job["imports"]))
`;

const RUN_PYTEST = `${IMPORT_INSIDE}
import json, os, pytest_inside

os.environ["COLUMNS"] = columns  # the host terminal's width, for pytest's lines
exit_code = pytest_inside.run(
    json.loads(args_json), folder, json.loads(known_json), source, json.loads(skip_json), record, first_run
)
json.dumps({"exit_code": exit_code, "python": sys.version.split()[0]})
`;

// The snapshot's recipe (inside_pyodide.warm_up), run in the maker only.
const WHEEL_DIR = "/tmp/pyo3-pyodide-wheels";
const WARM_UP = `${IMPORT_INSIDE}
import inside_pyodide
inside_pyodide.warm_up("${WHEEL_DIR}")
`;

// A Pyodide instance made only to be snapshotted (see runtime/snapshots.py). Its output is kept and shown
// only if the recipe fails.
async function makeSnapshot(loadPyodide, indexURL, wheels, inside, readBytes) {
  const maker = await loadPyodide({ indexURL, _makeSnapshot: true });
  if (typeof maker.makeMemorySnapshot !== "function") {
    throw new Error(`Pyodide ${maker.version} has no makeMemorySnapshot`);
  }
  const output = [];
  maker.setStdout({ batched: (line) => output.push(line) });
  maker.setStderr({ batched: (line) => output.push(line) });
  writeInside(maker, inside);
  maker.FS.mkdirTree(WHEEL_DIR);
  for (const wheel of wheels) maker.FS.writeFile(`${WHEEL_DIR}/${wheel.file}`, await readBytes(wheel.source));
  try {
    maker.runPython(WARM_UP);
  } catch (error) {
    throw new Error(`${error.message}\n${output.join("\n")}`);
  }
  return maker.makeMemorySnapshot();
}

// Pyodide restores a snapshot into the memory its module starts with, and this build's module takes no
// INITIAL_MEMORY: a snapshot larger than that (all of ours) would fail with "offset is out of bounds"
// unless the memory is grown to the snapshot's size first.
async function restoreSnapshot(loadPyodide, indexURL, moduleURL, bytes) {
  if (!moduleURL) return loadPyodide({ indexURL, _loadSnapshot: bytes }); // older releases: pyodide.asm.js
  const { default: createModule } = await import(moduleURL);
  const header = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  const createPyodideModule = async (settings) => {
    const module = await createModule(settings);
    module.growMemory(bytes.byteLength - header);
    return module;
  };
  return loadPyodide({ indexURL, _loadSnapshot: bytes, createPyodideModule });
}

// The Pyodide instance the tests run in: restored from the cached snapshot (`store` reads, writes and
// discards it), made first when there is none; booted from scratch, with a note, where that fails.
// Resolves to [pyodide, whether it was restored].
async function bootPyodide(loadPyodide, runtime, snapshot, store) {
  const fromScratch = async () => [await loadPyodide({ indexURL: runtime.indexURL }), false];
  if (!snapshot) return fromScratch();
  let bytes = await store.read();
  if (!bytes) {
    try {
      bytes = await makeSnapshot(loadPyodide, runtime.indexURL, snapshot.wheels, runtime.inside, store.readBytes);
      await store.write(bytes);
      const size = (bytes.byteLength / 2 ** 20).toFixed(1);
      console.log(`wasm_test: saved a snapshot of Pyodide with pytest imported (${size} MiB), for the next runs`);
    } catch (error) {
      console.log(`wasm_test: no snapshot of Pyodide (${error.message.trim()}); booting it from scratch`);
      return fromScratch();
    }
  }
  try {
    const pyodide = await restoreSnapshot(loadPyodide, runtime.indexURL, runtime.moduleURL, bytes);
    // pytest imports `random`, so the snapshot holds its generator's state: seed it from the system, as
    // a fresh start does, or every run would draw the same numbers. (str hashes stay those of the
    // snapshot, as with a fixed PYTHONHASHSEED.)
    pyodide.runPython("import random; random.seed()");
    return [pyodide, true];
  } catch (error) {
    await store.discard();
    console.log(
      `wasm_test: Pyodide refused its cached snapshot (${error.message}); deleted it, booting from scratch`,
    );
    return fromScratch();
  }
}

function withGlobals(pyodide, values, body) {
  const namespace = pyodide.globals.get("dict")();
  try {
    for (const [name, value] of Object.entries(values)) namespace.set(name, value);
    return body(namespace);
  } finally {
    try {
      namespace.destroy();
    } catch {} // a Pyodide that has just died refuses every call
  }
}

// Load the wheels (`job.wheels[].source`: a path in Node, a URL in a browser), then check them; Python's version.
async function installWheels(pyodide, job) {
  const errors = [];
  await pyodide.loadPackage(
    job.wheels.map((wheel) => wheel.source),
    { messageCallback: () => {}, errorCallback: (message) => errors.push(message) },
  );
  if (errors.length) {
    throw new SetupError(`the wheels did not load:\n${errors.join("\n")}`);
  }
  let checked;
  try {
    const check = JSON.stringify({ distributions: job.distributions, imports: job.imports });
    checked = JSON.parse(
      await withGlobals(pyodide, { job_json: check }, (globals) => pyodide.runPythonAsync(CHECK, { globals })),
    );
  } catch (error) {
    throw new SetupError(`the installed wheels could not be checked:\n${error.message}`);
  }
  if (checked.problems.length) {
    throw new SetupError(`the wheels did not install cleanly:\n${checked.problems.join("\n")}`);
  }
  return checked.python;
}

// What the suite did, across the Pyodide instances its crashes needed: each test's outcomes by phase (pytest's
// words: passed, failed, error, skipped, xfailed, xpassed), the test running now, the crashes.
const OUTCOMES = ["passed", "failed", "error", "skipped", "xfailed", "xpassed", "crashed"];

function suiteProgress() {
  const outcomes = new Map(); // "nodeid phase" -> { test, outcome }
  const known = new Set(); // the tests marked as known failures
  const crashes = []; // { test, cause, known }
  const state = { running: null, internalError: null };
  return {
    state,
    crashes,
    // Called from pytest_inside.py as things happen.
    record(kind, test, phase, outcome) {
      if (kind === "start") state.running = test;
      else if (kind === "finish") state.running = null;
      else if (kind === "outcome") outcomes.set(`${test}\0${phase}`, { test, outcome });
      else if (kind === "known") known.add(test);
      else if (kind === "internal-error") state.internalError = test;
    },
    crashed(test, cause) {
      for (const [key, value] of outcomes) if (value.test === test) outcomes.delete(key);
      crashes.push({ test, cause, known: known.has(test) });
      state.running = null;
    },
    // The tests not to run again: those with an outcome, and those that crashed.
    done: () => [...new Set([...outcomes.values()].map((value) => value.test)), ...crashes.map((c) => c.test)],
    counts() {
      const counts = { passed: 0, failed: 0 };
      const add = (outcome) => (counts[outcome] = (counts[outcome] || 0) + 1);
      for (const { outcome } of outcomes.values()) add(outcome);
      // A known failure that crashes Pyodide fails as it was expected to.
      for (const crash of crashes) add(crash.known ? "xfailed" : "crashed");
      const rank = (outcome) => (OUTCOMES.includes(outcome) ? OUTCOMES.indexOf(outcome) : OUTCOMES.length);
      return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => rank(a) - rank(b)));
    },
  };
}

// Two minimal modules, one function each (no locals) whose body catches any wasm exception, for
// WebAssembly.validate: the header, a type section (one type: [] -> []) and a function section (one function
// of that type), then a code section with the body. LEGACY_EH uses the first proposal's `try ... catch_all
// end` (0x06 0x40, 0x19, 0x0b): the form Pyodide 314 and 315 and the Rust side modules built for them use
// (llvm-objdump finds try, catch, delegate and rethrow in them, no try_table). EXNREF_EH uses the standard's
// `block (try_table (catch_all 0))` (0x02 0x40, 0x1f 0x40 with one clause 0x02 to label 0, 0x0b 0x0b).
const WASM_HEAD = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00];
const LEGACY_EH = [0x0a, 0x08, 0x01, 0x06, 0x00, 0x06, 0x40, 0x19, 0x0b, 0x0b];
const EXNREF_EH = [0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x02, 0x40, 0x1f, 0x40, 0x01, 0x02, 0x00, 0x0b, 0x0b, 0x0b];
const validates = (code) => WebAssembly.validate(new Uint8Array([...WASM_HEAD, ...code]));

// What the engine the suite runs in offers Pyodide, measured there (not typed per engine): JSPI (stack
// switching: run_sync, and pyodide.ffi.can_run_sync()), SharedArrayBuffer, cross-origin isolation, and the
// two forms of wasm exception handling (a Rust panic unwinds with them). These names are the only list of
// them: the summary line gives each with yes or no, and the guide's table of engines is checked against it.
function engineFeatures() {
  const features = {
    JSPI: typeof WebAssembly.Suspending === "function",
    SharedArrayBuffer: typeof SharedArrayBuffer === "function",
    "cross-origin isolated": globalThis.crossOriginIsolated === true,
    "legacy wasm exceptions": validates(LEGACY_EH),
    "exnref wasm exceptions": validates(EXNREF_EH),
  };
  return Object.entries(features)
    .map(([feature, offered]) => `${feature} ${offered ? "yes" : "no"}`)
    .join(", ");
}

// A crash is a fatal error of Pyodide (a trap, an abort, the VM's stack overflowing): that instance is dead.
function isFatal(error, pyodide) {
  if (error?.pyodide_fatal_error) return true;
  try {
    pyodide.runPython("0");
    return false;
  } catch {
    return true;
  }
}

function causeOf(error) {
  return `${error?.name || "Error"}: ${String(error?.message ?? error)}`.split("\n")[0];
}

// The top of the VM's stack when Pyodide died: with a debug build (`wasm_build --debug`) the wasm frames
// name the Rust functions.
const STACK_FRAMES = 12;
function stackOf(error) {
  const lines = String(error?.stack || causeOf(error)).split("\n");
  return lines.slice(0, STACK_FRAMES + 1).join("\n");
}

// One pytest run in `pyodide`, synchronous: a fatal error then reaches this caller (run asynchronously, it
// would surface in an event-loop task of Pyodide's, out of reach).
function runPytestOnce(pyodide, job, progress, firstRun) {
  const folder = job.testDir && job.testDir !== "." ? `${PROJECT_DIR}/${job.testDir}` : PROJECT_DIR;
  const values = {
    folder,
    args_json: JSON.stringify(job.pytestArgs),
    known_json: JSON.stringify(job.knownFailures || {}),
    source: job.knownFailuresFrom || "",
    skip_json: JSON.stringify(progress.done()),
    record: (...values) => progress.record(...values),
    first_run: firstRun,
    columns: String(job.columns || 80),
  };
  return JSON.parse(withGlobals(pyodide, values, (globals) => pyodide.runPython(RUN_PYTEST, { globals })));
}

// The part both modes share: the suite in Pyodide instances that `start()` gives ([pyodide, restored], with
// the project's files in place), a fresh one after each crash, going on with the tests not yet run; a test
// that crashed is not run again (with -x the run stops there). The counts cover every Pyodide the suite used.
export async function runSuite(start, job) {
  const progress = suiteProgress();
  const exitFirst = job.pytestArgs.some((argument) => argument === "-x" || argument === "--exitfirst");
  let first = null;
  let result = null;
  while (!result) {
    const [pyodide, restored] = await start();
    writeInside(pyodide, job.inside);
    const python = await installWheels(pyodide, job);
    if (!first) {
      first = { pyodide: pyodide.version, restored, python, features: engineFeatures() };
      console.log(`wasm_test: installed ${job.wheels.map((wheel) => wheel.file).join(", ")}`);
    }
    try {
      result = runPytestOnce(pyodide, job, progress, !progress.crashes.length);
    } catch (error) {
      if (!isFatal(error, pyodide)) throw error;
      const test = progress.state.running;
      const cause = causeOf(error);
      if (!test) {
        throw new SetupError(
          `Pyodide suffered a fatal error outside any test (collecting the tests, or a session fixture): ${cause}`,
        );
      }
      progress.crashed(test, cause);
      console.log(
        `wasm_test: Pyodide crashed in ${test} (${cause}): that test counts as crashed and is not run again; ` +
          (exitFirst ? "stopping there (-x)" : "the tests not yet run go on in a fresh Pyodide"),
      );
      console.log(`wasm_test: the stack where it crashed:\n${stackOf(error)}`);
      if (exitFirst) result = { exit_code: 1 };
    }
  }
  const counts = progress.counts();
  let code = result.exit_code;
  if (progress.crashes.length && code === 5) code = 0; // every test left had run before the last crash
  if (counts.crashed && code === 0) code = 1;
  for (const crash of progress.crashes) {
    const verdict = crash.known ? "XFAIL (a known failure)" : "CRASHED";
    console.log(`wasm_test: ${verdict} ${crash.test}: Pyodide suffered a fatal error: ${crash.cause}`);
  }
  if (progress.state.internalError) console.log(`wasm_test: ${progress.state.internalError}`);
  return { ...first, exit_code: code, counts };
}

function summary(result, where) {
  const counts = Object.entries(result.counts)
    .filter(([outcome, count]) => count || ["passed", "failed"].includes(outcome))
    .map(([outcome, count]) => `${count} ${outcome}`)
    .join(", ");
  return (
    `wasm_test: pytest exited with ${result.exit_code} inside Pyodide ${result.pyodide} ` +
    `(Python ${result.python}) in ${where} (${result.features})` +
    `${result.restored ? ", restored from a memory snapshot" : ""}: ${counts}`
  );
}

// Pyodide's default output in a browser logs every flush as a line of its own (pytest's progress
// dots included); this writes whole lines, and what remains when `flush` is called.
function lineWriter(log) {
  const decoder = new TextDecoder();
  let pending = "";
  return {
    write(bytes) {
      const lines = (pending + decoder.decode(bytes, { stream: true })).split("\n");
      pending = lines.pop();
      lines.forEach((line) => log(line));
      return bytes.length;
    },
    flush() {
      if (pending) log(pending);
      pending = "";
    },
  };
}

// A browser keeps the snapshot on wasm_test's server, which writes it to the cache file (PUT) and deletes
// it (DELETE).
function httpStore(snapshot, fetchBytes) {
  if (!snapshot) return null;
  const url = new URL(snapshot.url, location.href).href;
  return {
    read: async () => {
      if (!snapshot.exists) return null;
      const response = await fetch(url);
      return response.ok ? new Uint8Array(await response.arrayBuffer()) : null;
    },
    write: async (bytes) => {
      const response = await fetch(url, { method: "PUT", body: bytes });
      if (!response.ok) throw new Error(`PUT ${url}: HTTP ${response.status}`);
    },
    discard: () => fetch(url, { method: "DELETE" }),
    readBytes: (source) => fetchBytes(new URL(source, location.href).href),
  };
}

// Browser side: called by the page that wasm_test serves; resolves to a result, never throws.
export async function runInBrowser(job) {
  const stdout = lineWriter(console.log);
  const stderr = lineWriter(console.error);
  try {
    const fetchBytes = async (url) => {
      const response = await fetch(url);
      if (!response.ok) throw new SetupError(`GET ${url}: HTTP ${response.status}`);
      return new Uint8Array(await response.arrayBuffer());
    };
    const indexURL = new URL(job.runtime, location.href).href;
    const { loadPyodide } = await import(`${indexURL}pyodide.mjs`);
    const runtime = {
      indexURL,
      moduleURL: job.snapshot?.module && `${indexURL}${job.snapshot.module}`,
      inside: job.inside,
    };
    const store = httpStore(job.snapshot, fetchBytes);
    const files = new Map(); // fetched once, written into every Pyodide the suite needs
    for (const file of job.files) files.set(file, await fetchBytes(`${job.filesURL}${file}`));
    const start = async () => {
      const [pyodide, restored] = await bootPyodide(loadPyodide, runtime, job.snapshot, store);
      pyodide.setStdout(stdout);
      pyodide.setStderr(stderr);
      for (const [file, bytes] of files) {
        const target = `${PROJECT_DIR}/${file}`;
        pyodide.FS.mkdirTree(target.slice(0, target.lastIndexOf("/")));
        pyodide.FS.writeFile(target, bytes);
      }
      return [pyodide, restored];
    };
    const absolute = (url) => new URL(url, location.href).href;
    const wheels = job.wheels.map((wheel) => ({ ...wheel, source: absolute(wheel.source) }));
    return await runSuite(start, { ...job, wheels });
  } catch (error) {
    return { setupError: error instanceof SetupError ? error.message : String(error.stack || error) };
  } finally {
    stdout.flush();
    stderr.flush();
  }
}

// Node keeps the snapshot in the cache file wasm_test names; written under another name, then renamed.
async function fileStore(file) {
  const { mkdir, readFile, rename, rm, writeFile } = await import("node:fs/promises");
  const { dirname } = await import("node:path");
  return {
    read: () => readFile(file).catch(() => null),
    write: async (bytes) => {
      await mkdir(dirname(file), { recursive: true });
      const partial = `${file}.${process.pid}.part`;
      await writeFile(partial, bytes);
      await rename(partial, file);
    },
    discard: () => rm(file, { force: true }),
    readBytes: (path) => readFile(path),
  };
}

async function runInNode(job) {
  const { pathToFileURL } = await import("node:url");
  const { loadPyodide } = await import(pathToFileURL(`${job.runtime}/pyodide.mjs`).href);
  const runtime = {
    indexURL: `${job.runtime}/`,
    moduleURL: job.snapshot?.module && pathToFileURL(`${job.runtime}/${job.snapshot.module}`).href,
    inside: job.inside,
  };
  const store = job.snapshot && (await fileStore(job.snapshot.file));
  const start = async () => {
    const [pyodide, restored] = await bootPyodide(loadPyodide, runtime, job.snapshot, store);
    pyodide.FS.mkdirTree(PROJECT_DIR);
    pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: job.project }, PROJECT_DIR);
    return [pyodide, restored];
  };
  const result = await runSuite(start, job);
  console.log(summary(result, `Node ${process.version}`));
  return result.exit_code;
}

// Each launcher starts an installed browser with the npm library that drives it, and gives what
// driveBrowser needs: the browser, a page, the name to report, and guard(allowed), which makes the page
// fail every request whose URL `allowed` refuses.
async function launchChromium(job) {
  const { createRequire } = await import("node:module");
  const { chromium } = createRequire(`${job.library}/package.json`)("playwright-core");
  const browser = await chromium.launch({ executablePath: job.executable, args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  const guard = (allowed) =>
    page.route("**/*", (route) =>
      allowed(route.request().url()) ? route.continue() : route.abort("blockedbyclient"),
    );
  return { browser, page, name: `Chromium ${browser.version()}`, guard };
}

async function launchFirefox(job) {
  const { createRequire } = await import("node:module");
  const { pathToFileURL } = await import("node:url");
  let puppeteer;
  try {
    const entry = createRequire(`${job.library}/package.json`).resolve("puppeteer-core");
    const module = await import(pathToFileURL(entry).href);
    puppeteer = module.default ?? module;
  } catch (error) {
    throw new SetupError(
      `puppeteer-core from ${job.library} does not load in Node ${process.version} ` +
        `(its package.json asks for Node >= 22.12): ${error.message}`,
    );
  }
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: job.executable,
    headless: true,
    protocolTimeout: 0, // the whole suite is one evaluate call: no time limit on it, as in Chromium
    env: { ...process.env, ...FIREFOX_ENV },
  });
  const page = await browser.newPage();
  const guard = async (allowed) => {
    await page.setRequestInterception(true);
    page.on("request", (request) =>
      allowed(request.url()) ? request.continue() : request.abort("blockedbyclient"),
    );
  };
  const version = (await browser.version()).replace(/^firefox\//i, "");
  return { browser, page, name: `Firefox ${version}`, guard };
}

// WebKit: webkit.mjs uses Node's own modules, so it is imported here only (this file is also the page's).
async function launchWebKit(job) {
  const webkit = await import(new URL("webkit.mjs", import.meta.url).href);
  return webkit.launchWebKit(job);
}

const LAUNCHERS = { chromium: launchChromium, firefox: launchFirefox, webkit: launchWebKit };

async function driveBrowser(job) {
  const launch = LAUNCHERS[job.browser];
  if (!launch) throw new SetupError(`no such browser: ${job.browser} (${Object.keys(LAUNCHERS).join(", ")})`);
  const { browser, page, name, guard } = await launch(job);
  try {
    page.on("console", (message) => {
      (message.type() === "error" ? console.error : console.log)(message.text());
    });
    page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
    // Everything comes from wasm_test's server; a request elsewhere (Pyodide's CDN) is a bug: refuse it.
    // data: and blob: URLs are no requests to anyone (a blob: URL's origin is the page's own).
    const origin = new URL(job.url).origin;
    const refused = [];
    await guard((url) => {
      const parsed = new URL(url);
      if (parsed.protocol === "data:" || parsed.origin === origin) return true;
      refused.push(url);
      return false;
    });
    await page.goto(job.url);
    const result = await page.evaluate(
      async (pageJob) => (await import(new URL("run_pytest.mjs", location.href))).runInBrowser(pageJob),
      job.page,
    );
    if (refused.length) {
      throw new SetupError(`the page asked for files outside ${origin}: ${refused.join(", ")}`);
    }
    if (result.setupError) throw new SetupError(result.setupError);
    console.log(summary(result, name));
    return result.exit_code;
  } finally {
    await browser.close();
  }
}

async function main() {
  const { readFileSync } = await import("node:fs");
  const job = JSON.parse(readFileSync(process.argv[2], "utf-8"));
  try {
    process.exitCode = job.mode === "browser" ? await driveBrowser(job) : await runInNode(job);
  } catch (error) {
    console.error(`wasm_test: ${error instanceof SetupError ? error.message : error.stack}`);
    process.exitCode = SETUP_FAILED;
  }
}

if (typeof process !== "undefined" && process.argv?.[1]) {
  const { pathToFileURL } = await import("node:url");
  if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
}
