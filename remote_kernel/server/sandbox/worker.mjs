// Sandbox worker: loads Pyodide once, mounts the session directory at /mnt/data
// and runs cells through the Python shim (_rk_sandbox.py, sent by the driver).
import { loadPyodide } from "npm:pyodide@314.0.7";
import { PRELOAD } from "./preload.mjs";

for (const name of ["log", "info", "debug"]) console[name] = console.error;

let started = performance.now();
let pyodide;
let shim;
let interruptBuffer;
/** What the shim answers, without running anything, for a cell that needs JSPI. */
const ASYNC_CELL = "__rk_async_cell__";

/** Start Pyodide from the prepared memory snapshot when there is one (10x faster). */
async function load(snapshotPath) {
  const options = { env: { HOME: "/home/pyodide" } };
  if (snapshotPath) {
    try {
      return await loadPyodide({ ...options, _loadSnapshot: Deno.readFileSync(snapshotPath) });
    } catch (error) {
      console.error(`sandbox: snapshot ${snapshotPath} unusable (${error}); loading normally`);
    }
  }
  const py = await loadPyodide(options);
  py.runPython(PRELOAD);
  return py;
}

function fatal(error) {
  self.postMessage({ fatal: String(error && error.stack ? error.stack : error) });
}

// Everything a cell writes to fd 1/2 (print, C code, os.write) lands here, in
// order; the shim drains it whenever it adds a rich output and at the end of a
// cell. Python cannot be called from these handlers (the GIL is released).
const SAFETY_CAP = 64 * 1024 * 1024;
let chunks = [];
let buffered = 0;
let overflowed = false;

function collector(name) {
  const decoder = new TextDecoder();
  return {
    write(buffer) {
      if (buffered < SAFETY_CAP) {
        const text = decoder.decode(buffer, { stream: true });
        buffered += text.length;
        chunks.push([name, text]);
      } else if (!overflowed) {
        overflowed = true;
        chunks.push([name, "\n[output truncated: over 64 MiB in one cell]\n", true]);
      }
      return buffer.length;
    },
  };
}

function takeOutput() {
  const taken = chunks;
  chunks = [];
  buffered = 0;
  overflowed = false;
  return taken;
}

/**
 * A file operation Deno refuses (symlink, statfs...) throws NotCapable, which
 * Emscripten's NODEFS would turn into a fatal Pyodide error: make it EACCES,
 * so the cell gets a PermissionError and the session lives on.
 */
function guardNodefs(py) {
  const nodefs = py.FS.filesystems.NODEFS;
  const original = nodefs.tryFSOperation;
  const EACCES = py.ERRNO_CODES?.EACCES ?? 2;
  nodefs.tryFSOperation = function (operation) {
    try {
      return original.call(this, operation);
    } catch (error) {
      if (error && error.name === "NotCapable") throw new py.FS.ErrnoError(EACCES);
      throw error;
    }
  };
}

async function init(message) {
  started = performance.now();
  pyodide = await load(message.snapshot);
  interruptBuffer = message.interruptBuffer;
  pyodide.setInterruptBuffer(interruptBuffer);
  pyodide.setStdout(collector("stdout"));
  pyodide.setStderr(collector("stderr"));
  pyodide.setStdin({ error: true });
  guardNodefs(pyodide);
  if (message.mount) {
    pyodide.FS.mkdirTree("/mnt/data");
    pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: message.mount }, "/mnt/data");
  }
  pyodide.FS.mkdirTree("/lib/remote_kernel");
  pyodide.FS.writeFile("/lib/remote_kernel/_rk_sandbox.py", message.shim);
  pyodide.runPython("import sys; sys.path.insert(0, '/lib/remote_kernel')");
  shim = pyodide.pyimport("_rk_sandbox");
  const wake = message.wakeBuffer;
  // time.sleep for the shim: blocks without burning CPU, returns early on an interrupt.
  const sleepMs = (ms) => Atomics.wait(wake, 0, 0, ms);
  shim.setup(takeOutput, sleepMs);
  self.postMessage(JSON.stringify({ op: "ready", load_ms: performance.now() - started }));
}

async function execute(message) {
  let reply;
  try {
    const args = [message.id, message.code, message.max_output_chars ?? 0];
    reply = shim.execute(...args, false);
    if (reply === ASYNC_CELL) {
      // A top-level `await`: run the cell again through callPromising, which lets
      // it suspend (JSPI); an interrupt then also cancels its task (shim.interrupt).
      reply = await shim.execute.callPromising(...args, true);
    }
  } catch (error) {
    // The shim catches user errors itself: this is a broken interpreter.
    if (error && error.pyodide_fatal_error) return fatal(error);
    reply = JSON.stringify({
      op: "result",
      id: message.id,
      outputs: [],
      error: { ename: "SandboxError", evalue: String(error), traceback: [String(error)] },
    });
  }
  self.postMessage(reply);
}

self.onmessage = async (event) => {
  const message = event.data;
  try {
    if (message.op === "init") await init(message);
    else if (message.op === "execute") await execute(message);
    // Only seen while a cell is suspended in `await` (a running cell blocks this
    // thread, and the interrupt buffer stops it instead).
    else if (message.op === "interrupt" && shim) {
      // Handled here by cancelling the task: clear the buffer, or entering Python
      // for the cancel would itself raise KeyboardInterrupt.
      interruptBuffer[0] = 0;
      shim.interrupt();
    }
  } catch (error) {
    fatal(error);
  }
};

self.onunhandledrejection = (event) => {
  event.preventDefault();
  console.error("unhandled rejection in sandbox worker:", event.reason);
};
