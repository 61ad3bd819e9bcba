// Drives WebKitGTK (Safari's engine, on Linux) for run_pytest.mjs: `launchWebKit(job)` gives what
// driveBrowser needs, as launchChromium and launchFirefox do: { browser, page, name, guard }.
//
// job.executable is WebKitWebDriver, job.minibrowser the MiniBrowser it starts, job.xvfb the X server
// (runtime/browsers.py finds all three). MiniBrowser has no headless mode, so an Xvfb of our own runs on a
// display it picks itself (-displayfd) and stops with the browser. The driver speaks WebDriver classic only
// (no BiDi, no console log endpoint, no request interception), over plain HTTP on 127.0.0.1, one command at
// a time. So:
// - the page's console is wrapped in the page and read back by polling: page.evaluate() starts the
//   function with Execute Script, which returns at once with the promise's result kept on window, then
//   polls output and completion with Execute Script until it is done. (While Python runs synchronously the
//   page answers no poll: its output then comes in one batch when the page is free again.)
// - no request can be intercepted in the page: instead MiniBrowser's proxy (its --proxy, for every scheme
//   and every host but 127.0.0.1; the session's `proxy` capability leaves https direct) is a listener of
//   ours on 127.0.0.1 that answers each request with 403 Forbidden and gives its URL to the
//   guard's `allowed` (which records it as refused). So a request elsewhere fails, and is reported.
// Only Node's own modules are used; this file is never loaded by the page.

import { spawn } from "node:child_process";
import http from "node:http";
import net from "node:net";

const STATE = "__pyo3PyodideWebKit"; // what the page keeps on window for us
const POLL_MS = 100;
const START_TIMEOUT_MS = 30_000; // for Xvfb and the driver to come up

// A port for the driver to listen on.
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// The proxy that refuses: each request's URL goes to `refuse` (an https one is known by its host only,
// from CONNECT), and the answer is 403. Resolves to the listening server.
function refusingProxy(refuse) {
  const server = net.createServer((socket) => {
    let head = "";
    socket.on("error", () => {});
    socket.on("data", (chunk) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n")) return;
      const [method, target] = head.split("\r\n")[0].split(" ");
      refuse(method === "CONNECT" ? `https://${target.replace(/:443$/, "")}/` : target);
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      socket.removeAllListeners("data");
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

// A child process whose death before `until` resolves fails with what it printed.
function start(program, args, options, what) {
  const child = spawn(program, args, options);
  const output = [];
  for (const stream of [child.stdout, child.stderr]) stream?.on("data", (chunk) => output.push(chunk));
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (error) => resolve({ error }));
  });
  const failure = exited.then(({ code, signal, error }) => {
    const how = error ? error.message : `exited with ${code ?? signal}`;
    const printed = Buffer.concat(output).toString().trim().split("\n").slice(-20).join("\n");
    throw new Error(`${what} (${program} ${args.join(" ")}) ${how}${printed ? `:\n${printed}` : ""}`);
  });
  failure.catch(() => {}); // only awaited while starting
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  return { child, failure, stop };
}

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not start in ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Xvfb on the first free display: it writes the display's number to file descriptor 3 when it is ready.
async function startXvfb(program) {
  const xvfb = start(
    program,
    ["-displayfd", "3", "-nolisten", "tcp", "-screen", "0", "1280x1024x24"],
    { stdio: ["ignore", "ignore", "pipe", "pipe"] },
    "Xvfb",
  );
  const display = new Promise((resolve) => {
    let text = "";
    xvfb.child.stdio[3].on("data", (chunk) => {
      text += chunk;
      if (text.includes("\n")) resolve(`:${text.trim()}`);
    });
  });
  try {
    return { ...xvfb, display: await withTimeout(Promise.race([display, xvfb.failure]), "Xvfb") };
  } catch (error) {
    await xvfb.stop();
    throw error;
  }
}

// One WebDriver command: plain HTTP with no time limit (the suite is one long wait), its `value`.
function request(port, method, path, body) {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const headers = data === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(data) };
    const sent = http.request({ host: "127.0.0.1", port, method, path, headers }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        let answer;
        try {
          answer = JSON.parse(text);
        } catch {
          return reject(new Error(`WebKitWebDriver answered ${method} ${path} with HTTP ${response.statusCode}: ${text}`));
        }
        if (response.statusCode !== 200) {
          const { error, message } = answer.value || {};
          return reject(new Error(`WebKitWebDriver refused ${method} ${path}: ${error}: ${message}`));
        }
        resolve(answer.value);
      });
    });
    sent.on("error", reject);
    sent.end(data);
  });
}

async function waitForDriver(port, driver) {
  for (;;) {
    try {
      const status = await request(port, "GET", "/status");
      if (status.ready !== false) return;
    } catch {} // not listening yet
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 50)), driver.failure]);
  }
}

// Installed in the page after each navigation: console output and uncaught errors, kept until polled.
const WRAP_CONSOLE = `
if (!window.${STATE}) {
  const state = (window.${STATE} = { messages: [], errors: [], run: null });
  const text = (values) => values.map((value) => (value instanceof Error ? value.stack || String(value) : String(value))).join(" ");
  for (const type of ["log", "info", "warn", "error", "debug"]) {
    const original = console[type].bind(console);
    console[type] = (...values) => {
      state.messages.push([type, text(values)]);
      original(...values);
    };
  }
  addEventListener("error", (event) => state.errors.push(String(event.message)));
  addEventListener("unhandledrejection", (event) => state.errors.push(String(event.reason?.stack || event.reason)));
}
`;

// Start `source` (a function's text) on `arg`; the result is kept on window for POLL.
const START_RUN = `
const state = window.${STATE};
const [source, arg] = arguments;
state.run = { done: false };
Promise.resolve()
  .then(() => (0, eval)("(" + source + ")")(arg))
  .then(
    (value) => (state.run = { done: true, value }),
    (error) => (state.run = { done: true, error: String(error?.stack || error) }),
  );
`;

const POLL = `
const state = window.${STATE};
const answer = { messages: state.messages.splice(0), errors: state.errors.splice(0), run: state.run };
return answer;
`;

export async function launchWebKit(job) {
  const xvfb = await startXvfb(job.xvfb || "Xvfb");
  let driver = null;
  let session = null;
  let port = null;
  let proxy = null;
  let allowed = () => false; // until guard() is called, every request through the proxy is refused
  const close = async () => {
    if (session) await request(port, "DELETE", `/session/${session}`).catch(() => {});
    if (driver) await driver.stop();
    await xvfb.stop();
    if (proxy) await new Promise((resolve) => proxy.close(resolve));
  };
  try {
    port = await freePort();
    proxy = await refusingProxy((url) => allowed(url));
    driver = start(
      job.executable,
      [`--port=${port}`],
      { env: { ...process.env, DISPLAY: xvfb.display }, stdio: ["ignore", "pipe", "pipe"] },
      "WebKitWebDriver",
    );
    await withTimeout(Promise.race([waitForDriver(port, driver), driver.failure]), "WebKitWebDriver");
    const through = `127.0.0.1:${proxy.address().port}`;
    const created = await withTimeout(
      Promise.race([
        request(port, "POST", "/session", {
          capabilities: {
            alwaysMatch: {
              "webkitgtk:browserOptions": { binary: job.minibrowser, args: ["--automation", `--proxy=http://${through}`, "--ignore-host=127.0.0.1"] },
              timeouts: { script: null, pageLoad: 300_000 },
            },
          },
        }),
        driver.failure,
      ]),
      "a MiniBrowser session",
    );
    session = created.sessionId;
    const command = (method, path, body) => request(port, method, `/session/${session}${path}`, body);
    const execute = (script, args = []) => command("POST", "/execute/sync", { script, args });

    const listeners = { console: [], pageerror: [] };
    const deliver = (answer) => {
      for (const [type, text] of answer.messages) {
        const message = { type: () => type, text: () => text };
        for (const listener of listeners.console) listener(message);
      }
      for (const text of answer.errors) for (const listener of listeners.pageerror) listener(new Error(text));
    };
    const page = {
      on(event, listener) {
        listeners[event].push(listener);
      },
      async goto(url) {
        await command("POST", "/url", { url });
        await execute(WRAP_CONSOLE);
      },
      async evaluate(fn, arg) {
        await execute(START_RUN, [fn.toString(), arg ?? null]);
        for (;;) {
          const answer = await execute(POLL);
          deliver(answer);
          if (answer.run.done) {
            if (answer.run.error) throw new Error(answer.run.error);
            return answer.run.value;
          }
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        }
      },
      async screenshot({ path }) {
        const { writeFile } = await import("node:fs/promises");
        await writeFile(path, Buffer.from(await command("GET", "/screenshot"), "base64"));
      },
    };
    const guard = (check) => {
      allowed = check;
    };
    return { browser: { close }, page, name: `WebKit ${created.capabilities.browserVersion}`, guard };
  } catch (error) {
    await close();
    throw error;
  }
}
