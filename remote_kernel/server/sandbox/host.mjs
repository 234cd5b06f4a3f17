// Sandbox host: the main thread of one Deno process per session.
//
// Talks line-delimited JSON with the Python driver over stdin/stdout and runs
// Pyodide in a Worker, so that an execution can be interrupted (KeyboardInterrupt
// through a SharedArrayBuffer) while the main thread stays responsive.
// Deno's own diagnostics go to stderr. Permissions are fixed by the driver's
// command line: nothing here grants anything.

// Nothing but protocol lines may reach stdout: route console output to stderr.
for (const name of ["log", "info", "debug"]) console[name] = console.error;

const encoder = new TextEncoder();
const stdout = Deno.stdout.writable.getWriter();
let writing = Promise.resolve();

/** Write one protocol message (a JSON string or an object) as one line. */
function send(message) {
  const line = typeof message === "string" ? message : JSON.stringify(message);
  writing = writing.then(() => stdout.write(encoder.encode(line + "\n")));
  return writing;
}

const interruptBuffer = new Uint8Array(new SharedArrayBuffer(1));
// Wakes a cell blocked in time.sleep (Atomics.wait in the worker) on an interrupt.
const wakeBuffer = new Int32Array(new SharedArrayBuffer(4));
// input()/getpass(): the cell blocks (Atomics.wait in the worker) on inputState[0]
// until an `input` message's answer is in inputData: state 1 = answer of
// inputState[1] bytes; 2 = an answer of inputState[1] bytes, too long for the buffer.
const INPUT_LIMIT = 1024 * 1024;
const inputState = new Int32Array(new SharedArrayBuffer(8));
const inputData = new Uint8Array(new SharedArrayBuffer(INPUT_LIMIT));
const worker = new Worker(new URL("./worker.mjs", import.meta.url).href, { type: "module" });

worker.onmessage = (event) => {
  const message = event.data;
  if (message && message.fatal) {
    send({ op: "fatal", message: String(message.fatal) }).then(() => Deno.exit(3));
    return;
  }
  send(message);
};
worker.onerror = (event) => {
  event.preventDefault();
  send({ op: "fatal", message: String(event.message) }).then(() => Deno.exit(3));
};

/** The answer to the cell's input(): into the shared buffer, then wake the cell. */
function answerInput(value) {
  const bytes = encoder.encode(value);
  const fits = bytes.length <= inputData.length;
  if (fits) inputData.set(bytes);
  inputState[1] = bytes.length;
  Atomics.store(inputState, 0, fits ? 1 : 2);
  Atomics.notify(inputState, 0);
}

function handle(message) {
  switch (message.op) {
    case "init":
      worker.postMessage({ ...message, interruptBuffer, wakeBuffer, inputState, inputData });
      break;
    case "execute":
      // The driver runs one execution at a time: clear any stale interrupt first.
      interruptBuffer[0] = 0;
      Atomics.store(wakeBuffer, 0, 0);
      Atomics.store(inputState, 0, 0); // an answer that came too late is not the next one's
      worker.postMessage(message);
      break;
    case "interrupt":
      interruptBuffer[0] = 2; // SIGINT
      Atomics.store(wakeBuffer, 0, 1);
      Atomics.notify(wakeBuffer, 0);
      Atomics.notify(inputState, 0); // a cell waiting in input() wakes to its KeyboardInterrupt
      worker.postMessage({ op: "interrupt" }); // for a cell suspended in `await`
      break;
    case "input":
      answerInput(String(message.value ?? ""));
      break;
    case "shutdown":
      worker.terminate();
      writing.then(() => Deno.exit(0));
      break;
    default:
      send({ op: "log", message: `unknown op ${JSON.stringify(message.op)}` });
  }
}

const decoder = new TextDecoder();
let pending = "";
for await (const chunk of Deno.stdin.readable) {
  pending += decoder.decode(chunk, { stream: true });
  let newline;
  while ((newline = pending.indexOf("\n")) >= 0) {
    const line = pending.slice(0, newline);
    pending = pending.slice(newline + 1);
    if (!line.trim()) continue;
    try {
      handle(JSON.parse(line));
    } catch (error) {
      send({ op: "log", message: `bad request line: ${error}` });
    }
  }
}
// stdin closed: the driver is gone.
worker.terminate();
Deno.exit(0);
