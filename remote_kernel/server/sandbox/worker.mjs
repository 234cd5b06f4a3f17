// Sandbox worker: loads Pyodide once, mounts the session directory at /mnt/data
// and runs cells through the Python shim (server/inside/pyodide_shim.py, sent by the driver).
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
// order, and goes to the host as stream events: at once when the last ones left
// STREAM_EVERY_MS ago, else when the shim flushes (before a rich output, in
// time.sleep, at the end of the cell). Python cannot be called from these
// handlers (the GIL is released). Each stream keeps at most the execution's
// max_output_chars (never more than SAFETY_CAP): the rest is only counted, and
// the count goes back with the result so the host writes its truncation notice
// (as the IPython sessions' streams do).
const SAFETY_CAP = 64 * 1024 * 1024;
const STREAM_EVERY_MS = 50;
let chunks = [];
let cellId = null;
let lastSent = 0;
let limit = 0;
let kept = { stdout: 0, stderr: 0 };
let dropped = { stdout: 0, stderr: 0 };

function collector(name) {
  const decoder = new TextDecoder();
  return {
    write(buffer) {
      const text = decoder.decode(buffer, { stream: true });
      const room = Math.max(0, limit - kept[name]);
      const keep = text.length <= room ? text : text.slice(0, room);
      if (keep) {
        kept[name] += keep.length;
        const last = chunks[chunks.length - 1];
        if (last && last[0] === name) last[1] += keep;
        else chunks.push([name, keep]);
        if (performance.now() - lastSent >= STREAM_EVERY_MS) flushOutput();
      }
      dropped[name] += text.length - keep.length;
      return buffer.length;
    },
  };
}

/** Send the stream text written so far as events of the running cell. */
function flushOutput() {
  for (const [name, text] of chunks) {
    const content = { name, text };
    self.postMessage(JSON.stringify({ op: "event", id: cellId, msg_type: "stream", content }));
  }
  chunks = [];
  lastSent = performance.now();
}

/** A new cell: fresh per-stream budgets. */
function startCell(id, maxChars) {
  chunks = [];
  cellId = id;
  lastSent = performance.now();
  limit = Math.min(Math.max(0, maxChars), SAFETY_CAP);
  kept = { stdout: 0, stderr: 0 };
  dropped = { stdout: 0, stderr: 0 };
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

/**
 * input() for the shim: wait up to `ms` for the host's answer. Returns the answer
 * (a string), its byte count when it was too long for the buffer (a number), or
 * undefined when none came (yet). An interrupt wakes the wait and raises
 * KeyboardInterrupt here.
 */
function inputReader(state, data) {
  const decoder = new TextDecoder();
  return (ms) => {
    Atomics.wait(state, 0, 0, ms);
    // Python checks the interrupt buffer only every so many ticks: a loop this
    // slow would see it seconds late, so check it now (raises KeyboardInterrupt).
    pyodide.checkInterrupt();
    const got = Atomics.load(state, 0);
    if (got === 0) return undefined;
    const length = state[1];
    // TextDecoder refuses views of a SharedArrayBuffer: copy the bytes out first.
    const answer = got === 1 ? decoder.decode(data.slice(0, length)) : length;
    Atomics.store(state, 0, 0);
    return answer;
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
  // An output event of the running cell: to the host at once (live output).
  const emit = (line) => self.postMessage(line);
  const readInput = inputReader(message.inputState, message.inputData);
  shim.setup(flushOutput, sleepMs, emit, readInput, message.inputData.length, message.noStdin);
  self.postMessage(JSON.stringify({ op: "ready", load_ms: performance.now() - started }));
}

async function execute(message) {
  let reply;
  startCell(message.id, message.max_output_chars ?? 0);
  try {
    const args = [message.id, message.code];
    const allowStdin = message.allow_stdin === true;
    reply = shim.execute(...args, false, allowStdin);
    if (reply === ASYNC_CELL) {
      // A top-level `await`: run the cell again through callPromising, which lets
      // it suspend (JSPI); an interrupt then also cancels its task (shim.interrupt).
      reply = await shim.execute.callPromising(...args, true, allowStdin);
    }
  } catch (error) {
    // The shim catches user errors itself: this is a broken interpreter.
    if (error && error.pyodide_fatal_error) return fatal(error);
    const content = { ename: "SandboxError", evalue: String(error), traceback: [String(error)] };
    self.postMessage(JSON.stringify({ op: "event", id: message.id, msg_type: "error", content }));
    reply = JSON.stringify({ op: "result", id: message.id, failed: true });
  }
  const result = JSON.parse(reply);
  result.dropped = dropped;
  self.postMessage(JSON.stringify(result));
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
