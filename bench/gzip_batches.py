#!/usr/bin/env python3
"""Measures INFLUX_GZIP on large batches (README, "Throughput when InfluxDB is slow").

    python3 bench/gzip_batches.py                          compression only: ratio and speed per zlib level
    INFLUX_URL=http://127.0.0.1:8086 python3 bench/gzip_batches.py   also POSTs each batch to an InfluxDB 1.x,
                                                   plain and gzip, and times both (database gzipbench)

Lines are shaped like the benchmark's (Sources/ingestd-bench/Publisher.swift, through the encoder):
measurement, tenant/device/site tags, five fields, a nanosecond timestamp. ingestd compresses with the
same zlib (level 1, one call per batch, on the writer's threads), so the numbers carry over.
"""
import gzip, os, random, time, urllib.error, urllib.request, zlib

SIZES = [512 * 1024, 8 << 20]
LEVELS = [1, 6]


def lines(total_bytes, seed=1):
    rng = random.Random(seed)
    out, size, ts, seq = [], 0, 1_733_300_000_000_000_000, 0
    while size < total_bytes:
        device = rng.randrange(1000)
        line = (f"telemetry,tenant_id=acme,device_id=d{device:03d},site_id=site-{device % 10} "
                f"temp_c={20 + rng.random() * 5:.2f},humidity={40 + rng.random() * 20:.2f},door_open={rng.random() < 0.1},"
                f"rssi={-90 + rng.randrange(40)},battery_v={3 + rng.random() * 0.3:.3f},seq={seq}i {ts}\n")
        seq += 1
        ts += 1_000_000
        out.append(line)
        size += len(line)
    return "".join(out).encode()


def post(url, body, gzip):
    request = urllib.request.Request(url + "/write?db=gzipbench&precision=n", data=body, method="POST")
    if gzip:
        request.add_header("Content-Encoding", "gzip")
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            answer.read()
    except urllib.error.HTTPError as error:
        raise SystemExit(f"InfluxDB answered {error.code}: {error.read()[:200]!r}")
    return time.perf_counter() - start


def main():
    influx = os.environ.get("INFLUX_URL")
    if influx:
        urllib.request.urlopen(urllib.request.Request(influx + "/query", data=b"q=CREATE DATABASE gzipbench", method="POST")).read()
    print(f"{'batch':>8} {'level':>5} {'ratio':>6} {'compress MB/s':>14} {'ms per batch':>12}" + ("   POST plain / gzip ms" if influx else ""))
    for size in SIZES:
        body = lines(size, seed=size)
        for level in LEVELS:
            start = time.perf_counter()
            rounds = 0
            while time.perf_counter() - start < 1.0:
                compressed = zlib.compress(body, level)
                rounds += 1
            seconds = (time.perf_counter() - start) / rounds
            extra = ""
            if influx and level == 1:
                # Distinct timestamps per round would grow the database; the same points overwrite themselves.
                plain = min(post(influx, body, False) for _ in range(3))
                packed = min(post(influx, gzip.compress(body, compresslevel=1), True) for _ in range(3))
                extra = f"   {plain * 1000:.0f} / {(packed + seconds) * 1000:.0f} (compression included)"
            print(f"{len(body) // 1024:>6}Ki {level:>5} {len(body) / len(compressed):>6.1f} {len(body) / seconds / 1e6:>14.0f} {seconds * 1000:>12.1f}{extra}")


if __name__ == "__main__":
    main()
