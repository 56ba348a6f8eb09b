// Scenarios of the WHATWG WebSocket API, written as browser code: each takes
// a WebSocket constructor and the server's ws:// base URL and resolves with
// a log of what it observed. The same file runs in headless Chromium (with
// the browser's WebSocket) and in-process (with sprig's), and the logs must
// match: tests/client/websocket_whatwg_test.ts.

/** Records every event with the readyState seen in it; resolves at close. */
function watch(ws, log, onEvent = () => {}) {
  return new Promise((resolve) => {
    ws.addEventListener("open", () => {
      log.push(`open rs=${ws.readyState} protocol=${ws.protocol}`);
      onEvent("open");
    });
    ws.addEventListener("message", (e) => {
      const d = e.data;
      const shown = typeof d === "string"
        ? `text:${d}`
        : d instanceof ArrayBuffer
        ? `arraybuffer:${[...new Uint8Array(d)].join(",")}`
        : d instanceof Blob
        ? `blob:${d.size}`
        : `other:${Object.prototype.toString.call(d)}`;
      log.push(`message rs=${ws.readyState} ${shown}`);
      onEvent("message", e);
    });
    ws.addEventListener("error", () => log.push(`error rs=${ws.readyState}`));
    ws.addEventListener("close", (e) => {
      log.push(`close rs=${ws.readyState} code=${e.code} reason=${e.reason} clean=${e.wasClean}`);
      resolve(log);
    });
  });
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

export const scenarios = {
  // The server sends two messages and closes with a code and a reason.
  "server messages then close": (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(`${base}/greet`);
    log.push(`constructed rs=${ws.readyState} url=${ws.url.replace(/:\d+/, ":PORT")}`);
    return watch(ws, log);
  },

  // Echo of text and binary, with binaryType arraybuffer.
  "echo text and binary": (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(`${base}/echo`);
    log.push(`binaryType=${ws.binaryType}`);
    ws.binaryType = "arraybuffer";
    let n = 0;
    return watch(ws, log, (type) => {
      if (type === "open") {
        ws.send("hi");
        ws.send(new Uint8Array([1, 2, 3]));
        ws.send(new Uint8Array([9, 8, 7, 6]).buffer);
      } else if (++n === 3) ws.close(4000, "enough");
    });
  },

  // Blob delivery (default binaryType).
  "blob messages": (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(`${base}/echo`);
    return watch(ws, log, (type) => {
      if (type === "open") ws.send(new Uint8Array([5, 5]));
      else ws.close(1000);
    });
  },

  // The argument checks of send() and close().
  "argument checks": (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(`${base}/echo`);
    log.push(`send while connecting: ${thrown(() => ws.send("x"))}`);
    return watch(ws, log, (type) => {
      if (type !== "open") return;
      log.push(`close(1001): ${thrown(() => ws.close(1001))}`);
      log.push(`close(2999): ${thrown(() => ws.close(2999))}`);
      log.push(`close(5000): ${thrown(() => ws.close(5000))}`);
      log.push(`close(1000, 124 bytes): ${thrown(() => ws.close(1000, "é".repeat(62)))}`);
      log.push(`still rs=${ws.readyState}`);
      ws.close(3000, "ok");
      log.push(`after close rs=${ws.readyState}`);
      log.push(`close again: ${thrown(() => ws.close(1000))}`);
      ws.send("dropped");
      log.push(`bufferedAmount after closing send=${ws.bufferedAmount}`);
    });
  },

  // The constructor's checks.
  "constructor checks": (WebSocket, base) => {
    const log = [];
    log.push(`ftp: ${thrown(() => new WebSocket("ftp://127.0.0.1/"))}`);
    log.push(`fragment: ${thrown(() => new WebSocket(`${base}/#x`))}`);
    log.push(`bad protocol: ${thrown(() => new WebSocket(`${base}/`, "a b"))}`);
    log.push(`duplicate protocols: ${thrown(() => new WebSocket(`${base}/`, ["p", "p"]))}`);
    log.push(`not a URL: ${thrown(() => new WebSocket("ws://"))}`);
    return Promise.resolve(log);
  },

  // close() before the connection opens.
  "close while connecting": (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(`${base}/echo`);
    const done = watch(ws, log);
    ws.close();
    log.push(`after close rs=${ws.readyState}`);
    return done;
  },

  // Messages that arrive after close() are not delivered.
  "messages after close are dropped": (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(`${base}/echo`);
    return watch(ws, log, (type) => {
      if (type === "open") ws.send("burst");
      else ws.close(1000);
    });
  },

  // The server closes in answer to a message.
  "server closes": (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(`${base}/echo`);
    return watch(ws, log, (type) => {
      if (type === "open") ws.send("close-me");
    });
  },

  // A refused handshake.
  "refused handshake": (WebSocket, base) => {
    const log = [];
    return watch(new WebSocket(`${base}/refuse`), log);
  },

  // A subprotocol chosen by the server.
  subprotocol: (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(`${base}/echo`, ["nope", "chat.v1"]);
    return watch(ws, log, (type) => {
      if (type === "open") ws.close();
    });
  },

  // Handler attributes keep their position among listeners.
  "handler attributes": (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket(`${base}/echo`);
    ws.addEventListener("open", () => log.push("listener 1"));
    ws.onopen = () => log.push("handler a");
    ws.addEventListener("open", () => log.push("listener 2"));
    ws.onopen = () => log.push("handler b");
    ws.onmessage = () => log.push("never");
    ws.onmessage = null;
    log.push(`onmessage=${ws.onmessage}`);
    return watch(ws, log, (type) => {
      if (type === "open") ws.close();
    });
  },
  // Issue 28. A relative URL resolves against the page's base URL (the
  // in-process run sets globalThis.location to the page's).
  "relative URL": (WebSocket, base) => {
    const log = [];
    const ws = new WebSocket("/echo?q=1");
    log.push(`url=${ws.url.replace(/:\d+/, ":PORT")} same=${ws.url === `${base}/echo?q=1`}`);
    return watch(ws, log, (type) => {
      if (type === "open") ws.close(1000);
    });
  },

  // Issue 28: the argument checks WebIDL makes, and subprotocols compared as written.
  "WebIDL arguments": (WebSocket, base) => {
    const log = [];
    log.push(`no arguments: ${thrown(() => new WebSocket())}`);
    log.push(
      `case-differing protocols: ${
        thrown(() => new WebSocket(`${base}/echo`, ["chat.v1", "Chat.v1"]).close())
      }`,
    );
    const ws = new WebSocket(`${base}/echo`);
    log.push(`send() while connecting: ${thrown(() => ws.send())}`);
    log.push(`close(1000, symbol): ${thrown(() => ws.close(1000, Symbol("r")))}`);
    return watch(ws, log, (type) => {
      if (type !== "open") return;
      log.push(`send() while open: ${thrown(() => ws.send())}`);
      ws.close();
    });
  },

  // Issue 28: the interface's shape (WebIDL §3.7) and the handler attributes' conversion.
  "WebIDL shape": (WebSocket, base) => {
    const log = [];
    log.push(`length=${WebSocket.length}`);
    const d = Object.getOwnPropertyDescriptor(WebSocket, "OPEN");
    log.push(
      `static OPEN: writable=${d.writable} enumerable=${d.enumerable} configurable=${d.configurable}`,
    );
    const p = Object.getOwnPropertyDescriptor(WebSocket.prototype, "CLOSED");
    log.push(`prototype CLOSED: writable=${p.writable} configurable=${p.configurable}`);
    const enumerable = [
      "url",
      "readyState",
      "bufferedAmount",
      "onopen",
      "onerror",
      "onclose",
      "extensions",
      "protocol",
      "close",
      "onmessage",
      "binaryType",
      "send",
    ]
      .filter((name) => Object.getOwnPropertyDescriptor(WebSocket.prototype, name)?.enumerable);
    log.push(`enumerable members: ${enumerable.length}`);
    const ws = new WebSocket(`${base}/echo`);
    log.push(`tag=${Object.prototype.toString.call(ws)}`);
    const handler = {};
    ws.onopen = handler;
    log.push(`onopen={} kept=${ws.onopen === handler}`);
    ws.onopen = 1;
    log.push(`onopen=1 -> ${ws.onopen}`);
    ws.onopen = () => ws.close(4000, "x");
    ws.addEventListener("close", (e) => {
      const proto = Object.getPrototypeOf(e);
      const code = Object.getOwnPropertyDescriptor(proto, "code");
      log.push(
        `close event: tag=${Object.prototype.toString.call(e)} own code=${
          Object.hasOwn(e, "code")
        }` +
          ` getter=${typeof code?.get} setter=${typeof code?.set} enumerable=${code?.enumerable}`,
      );
    });
    return watch(ws, log);
  },
};
