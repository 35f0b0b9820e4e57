#!/usr/bin/env python3
"""A TCP proxy that delays every chunk of bytes by a fixed time, in both directions, keeping order.

Used by the test suite to make a real PostgreSQL answer slowly (README "Slow or hung registry").
Python standard library only.

    delay_proxy.py --port 6000 --target-port 5432 --delay 0.5
"""
import argparse
import asyncio


async def pump(reader, writer, delay):
    """Reads chunks as they come and writes each `delay` seconds after it arrived."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def read():
        try:
            while True:
                data = await reader.read(65536)
                await queue.put((loop.time() + delay, data))
                if not data:
                    return
        except (ConnectionError, OSError):
            await queue.put((loop.time() + delay, b""))

    reading = asyncio.ensure_future(read())
    try:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        reading.cancel()
        try:
            writer.close()
        except Exception:
            pass


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target-host", default="127.0.0.1")
    parser.add_argument("--target-port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.5)
    args = parser.parse_args()

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(args.target_host, args.target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pump(client_reader, server_writer, args.delay),
            pump(server_reader, client_writer, args.delay),
        )

    server = await asyncio.start_server(handle, "127.0.0.1", args.port)
    print(f"delay proxy on {args.port} -> {args.target_host}:{args.target_port}, {args.delay}s", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
