/**
 * The browser page of examples/chat.ts: one HTML document with its script
 * inline. It opens `ws(s)://<same host>/ws?room=…&name=…` with the browser's
 * own `WebSocket`, shows what the room says, and sends what is typed.
 * `?room=` and `?name=` in the page's URL choose the room and the name.
 *
 * The page's state is visible to tests and to people alike: `<body
 * data-state>` is "connecting", "open" or "closed"; each line of the log is
 * an `<li class="message">` ("name: text") or `<li class="notice">`.
 */

/** The chat page, as served for `GET /`. */
export const CHAT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sprig chat</title>
<style>
  body { font: 16px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.3rem; }
  #log { list-style: none; padding: 0.5rem; margin: 0 0 1rem; border: 1px solid #ccc;
         border-radius: 6px; height: 20rem; overflow-y: auto; }
  #log li { padding: 0.1rem 0; }
  #log li.notice { color: #777; font-style: italic; }
  form { display: flex; gap: 0.5rem; }
  #text { flex: 1; padding: 0.4rem; }
  #state { font-size: 0.9rem; color: #777; }
</style>
</head>
<body data-state="connecting">
<h1>sprig chat — room <span id="room"></span>, as <span id="name"></span></h1>
<ul id="log"></ul>
<form id="form">
  <input id="text" autocomplete="off" placeholder="Say something" maxlength="1000">
  <button>Send</button>
</form>
<p id="state">connecting…</p>
<script type="module">
  const params = new URLSearchParams(location.search);
  const room = params.get("room") || "lobby";
  const name = params.get("name") || "guest-" + Math.random().toString(36).slice(2, 6);
  document.getElementById("room").textContent = room;
  document.getElementById("name").textContent = name;

  const log = document.getElementById("log");
  const show = (text, kind) => {
    const li = document.createElement("li");
    li.className = kind;
    li.textContent = text; // text, never HTML: what others type cannot inject markup
    log.append(li);
    log.scrollTop = log.scrollHeight;
  };
  const setState = (state) => {
    document.body.dataset.state = state;
    document.getElementById("state").textContent = state;
  };

  const url = new URL("/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.search = new URLSearchParams({ room, name }).toString();
  const ws = new WebSocket(url);
  ws.onopen = () => setState("open");
  ws.onclose = (event) => {
    setState("closed");
    show("disconnected (" + event.code + ")", "notice");
  };
  ws.onmessage = (event) => {
    const m = JSON.parse(event.data);
    if (m.type === "message") show(m.name + ": " + m.text, "message");
    else show(m.name + (m.type === "join" ? " joined" : " left"), "notice");
  };

  const form = document.getElementById("form");
  const input = document.getElementById("text");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.value && ws.readyState === WebSocket.OPEN) ws.send(input.value);
    input.value = "";
  });
</script>
</body>
</html>
`;
