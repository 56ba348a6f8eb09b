// Scenarios of the WHATWG WebSocketStream, written as browser code: each
// takes the WebSocketStream and WebSocketError constructors and the server's
// ws:// base URL and resolves with a log of what it observed. The same file
// runs in headless Chromium (the browser's own classes) and in-process
// (sprig's), and the logs must match: tests/client/websocket_whatwg_test.ts.

/** How a promise settled: "fulfilled <json>" or "rejected <name> <closeCode>". */
async function settled(promise) {
  try {
    const value = await promise;
    return `fulfilled ${JSON.stringify(value ?? null)}`;
  } catch (e) {
    return `rejected ${e?.name} ${e?.closeCode}`;
  }
}

/** The exception's name, or "none". */
function thrown(f) {
  try {
    f();
    return "none";
  } catch (e) {
    return e.name;
  }
}

/** `closed`, with only the fields both sides have. */
async function closedOf(wss) {
  try {
    const { closeCode, reason } = await wss.closed;
    return `closed ${closeCode} ${JSON.stringify(reason)}`;
  } catch (e) {
    return `closed rejected ${e?.name} ${e?.closeCode}`;
  }
}

export const scenarios = {
  "stream: echo, then close() without a code": async (WebSocketStream, _Error, base) => {
    const log = [];
    const wss = new WebSocketStream(`${base}/echo`);
    const { readable, writable, protocol } = await wss.opened;
    log.push(`opened protocol=${JSON.stringify(protocol)}`);
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write("text");
    await writer.write(new Uint8Array([1, 2, 3]));
    // Binary chunks: Uint8Array in the standard's draft and in sprig,
    // ArrayBuffer in Chromium 156; their buffers' bytes are compared here
    // (the draft's Uint8Array is "a new Uint8Array whose contents are data":
    // its buffer holds the message and nothing else).
    for (let i = 0; i < 2; i++) {
      const { value } = await reader.read();
      log.push(
        typeof value === "string"
          ? `text ${value}`
          : `binary ${[...new Uint8Array(value instanceof ArrayBuffer ? value : value.buffer)]}`,
      );
    }
    wss.close();
    log.push(await closedOf(wss));
    return log;
  },

  "stream: close() with a code and reason, a reason alone": async (WebSocketStream, _E, base) => {
    const log = [];
    const a = new WebSocketStream(`${base}/echo`);
    await a.opened;
    a.close({ closeCode: 4000, reason: "bye" });
    log.push(await closedOf(a));
    const b = new WebSocketStream(`${base}/echo`);
    await b.opened;
    b.close({ reason: "only" });
    log.push(await closedOf(b));
    return log;
  },

  "stream: close() checks": async (WebSocketStream, _E, base) => {
    const log = [];
    const wss = new WebSocketStream(`${base}/echo`);
    await wss.opened;
    for (const closeCode of [999, 1001, 2999, 5000]) {
      log.push(`${closeCode}: ${thrown(() => wss.close({ closeCode }))}`);
    }
    log.push(`124 bytes: ${thrown(() => wss.close({ reason: ".".repeat(124) }))}`);
    log.push(`true: ${thrown(() => wss.close(true))}`);
    // (A closeCode past 65535: the draft's [EnforceRange] makes it a
    // TypeError, as sprig throws; Chromium 156 throws InvalidAccessError.
    // tests/client/websocket_stream_test.ts holds sprig to the draft.)
    wss.close({ closeCode: 3000 });
    log.push(await closedOf(wss));
    return log;
  },

  "stream: the writable and readable end it": async (WebSocketStream, WebSocketError, base) => {
    const log = [];
    const ends = [
      ["writable.close()", (i) => i.writable.close()],
      ["writable.abort()", (i) => i.writable.abort()],
      ["readable.cancel()", (i) => i.readable.cancel()],
      ["abort(plain object)", (i) => i.writable.abort({ closeCode: 3456, reason: "x" })],
      [
        "abort(WebSocketError)",
        (i) => i.writable.abort(new WebSocketError("", { closeCode: 4001, reason: "w" })),
      ],
      [
        "cancel(WebSocketError)",
        (i) => i.readable.cancel(new WebSocketError("", { closeCode: 4002, reason: "r" })),
      ],
    ];
    for (const [what, end] of ends) {
      const wss = new WebSocketStream(`${base}/echo`);
      await end(await wss.opened);
      log.push(`${what}: ${await closedOf(wss)}`);
    }
    return log;
  },

  "stream: the server closes": async (WebSocketStream, _E, base) => {
    const log = [];
    const wss = new WebSocketStream(`${base}/greet`);
    const { readable, writable } = await wss.opened;
    const reader = readable.getReader();
    for (let i = 0; i < 3; i++) {
      const { done, value } = await reader.read();
      log.push(done ? "done" : `read ${value}`);
    }
    log.push(await closedOf(wss));
    log.push(`write after: ${await settled(writable.getWriter().write("late"))}`);
    return log;
  },

  "stream: close() during the handshake": async (WebSocketStream, _E, base) => {
    const wss = new WebSocketStream(`${base}/echo`);
    wss.close({ closeCode: 4000, reason: "ignored" });
    return [`opened ${await settled(wss.opened)}`, await closedOf(wss)];
  },

  "stream: a refused handshake": async (WebSocketStream, _E, base) => {
    const wss = new WebSocketStream(`${base}/refuse`);
    return [`opened ${await settled(wss.opened)}`, await closedOf(wss)];
  },

  "stream: the signal": async (WebSocketStream, _E, base) => {
    const log = [];
    const early = new WebSocketStream(`${base}/echo`, { signal: AbortSignal.abort() });
    log.push(`aborted before: ${await settled(early.opened)} / ${await closedOf(early)}`);
    const controller = new AbortController();
    const during = new WebSocketStream(`${base}/echo`, { signal: controller.signal });
    controller.abort();
    log.push(`aborted during: ${await settled(during.opened)} / ${await closedOf(during)}`);
    const later = new AbortController();
    const after = new WebSocketStream(`${base}/echo`, { signal: later.signal });
    const { readable, writable } = await after.opened;
    later.abort();
    await writable.getWriter().write("still");
    log.push(`aborted after: read ${(await readable.getReader().read()).value}`);
    after.close();
    log.push(await closedOf(after));
    return log;
  },

  "stream: constructor and WebSocketError checks": (WebSocketStream, WebSocketError, base) => {
    const log = [];
    log.push(`no arguments: ${thrown(() => new WebSocketStream())}`);
    log.push(`ftp: ${thrown(() => new WebSocketStream("ftp://127.0.0.1/"))}`);
    log.push(`fragment: ${thrown(() => new WebSocketStream(`${base}/#x`))}`);
    log.push(
      `protocols a string: ${thrown(() => new WebSocketStream(`${base}/`, { protocols: "chat" }))}`,
    );
    log.push(
      `repeated protocol: ${
        thrown(() => new WebSocketStream(`${base}/`, { protocols: ["a", "a"] }))
      }`,
    );
    log.push(`signal {}: ${thrown(() => new WebSocketStream(`${base}/`, { signal: {} }))}`);
    log.push(`length=${WebSocketStream.length}`);
    const plain = new WebSocketError();
    log.push(
      `error: ${plain.name} ${plain.closeCode} ${JSON.stringify(plain.reason)} ${
        plain instanceof DOMException
      }`,
    );
    log.push(`reason only: ${new WebSocketError("", { reason: "r" }).closeCode}`);
    log.push(`1001: ${thrown(() => new WebSocketError("", { closeCode: 1001 }))}`);
    log.push(`124 bytes: ${thrown(() => new WebSocketError("", { reason: ".".repeat(124) }))}`);
    return Promise.resolve(log);
  },

  "stream: a resizable buffer is refused": async (WebSocketStream, _E, base) => {
    const wss = new WebSocketStream(`${base}/echo`);
    const { writable } = await wss.opened;
    const chunk = new Uint8Array(new ArrayBuffer(4, { maxByteLength: 8 }));
    const log = [`write: ${await settled(writable.getWriter().write(chunk))}`];
    wss.close();
    log.push(await closedOf(wss));
    return log;
  },
};
