# A real peer for interop tests: Python's `websockets` (Debian's
# python3-websockets) as an echo server, permessage-deflate on by default.
# Prints "LISTENING <port>" when ready; exits when stdin closes.
#   /echo  echoes;  /close/<code>  closes with that code and reason "bye";
#   /fragments  echoes each message as three fragments (compressed as one message)
# Arguments: --no-compression, --server-max-window-bits N,
#   --no-context-takeover (both directions)
import asyncio
import sys

import websockets
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory


async def handler(ws, path):
    if path.startswith("/close/"):
        await ws.close(int(path[7:]), "bye")
        return
    async for message in ws:
        if path == "/fragments" and len(message) >= 3:
            third = len(message) // 3
            await ws.send([message[:third], message[third : 2 * third], message[2 * third :]])
        else:
            await ws.send(message)


async def main():
    args = sys.argv[1:]
    if "--no-compression" in args:
        extensions = []
    else:
        kwargs = {}
        if "--server-max-window-bits" in args:
            kwargs["server_max_window_bits"] = int(args[args.index("--server-max-window-bits") + 1])
        if "--no-context-takeover" in args:
            kwargs["server_no_context_takeover"] = True
            kwargs["client_no_context_takeover"] = True
        extensions = [ServerPerMessageDeflateFactory(**kwargs)]
    async with websockets.serve(
        handler, "127.0.0.1", 0, extensions=extensions, max_size=64 * 1024 * 1024, compression=None
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"LISTENING {port}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


asyncio.run(main())
