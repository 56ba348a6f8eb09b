# A real client for interop tests: Python's `websockets` (Debian's
# python3-websockets), compression on by default.
#   /usr/bin/python3 tests/_peers/python_client.py URL
# Sends text, binary and a 100 kB text, pings, then sends "stop" and waits
# for the server to close. Prints one JSON line with what it saw.
import asyncio
import json
import sys

import websockets


async def main():
    url = sys.argv[1]
    async with websockets.connect(url, subprotocols=["chat.v1"], max_size=2**24) as ws:
        await ws.send("hello")
        text = await ws.recv()
        await ws.send(b"\x00\x01\xff")
        binary = await ws.recv()
        big = "x" * 100_000
        await ws.send(big)
        big_back = await ws.recv()
        pong = await ws.ping(b"hi")
        await asyncio.wait_for(pong, 5)
        await ws.send("stop")
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed:
            pass
        print(json.dumps({
            "text": text,
            "binary": list(binary),
            "bigEchoed": big_back == big,
            "extensions": ws.response_headers.get("Sec-WebSocket-Extensions"),
            "protocol": ws.subprotocol,
            "closeCode": ws.close_code,
            "closeReason": ws.close_reason,
        }), flush=True)


asyncio.run(asyncio.wait_for(main(), 20))
