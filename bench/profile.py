#!/usr/bin/env python3
"""Where ingestd's drain spends its CPU: `perf record` (cpu-clock sampling; this VM has no hardware
counters, and valgrind 3.19 crashes on the daemon) around one drain of N messages (the bench
workload). Started by bench/profile.sh; prints the top symbols, demangled.
"""
import os, subprocess
import bench

N = int(os.environ.get("N", "100000"))


def main():
    bench.write_registry(os.path.join(bench.WORK, "devices.json"))
    bench.N = N
    client = "bench-prof"
    bench.make_session(client)
    bench.publish(N)
    sink, port = bench.start_sink("prof", N)
    data = os.path.join(bench.WORK, "perf.data")
    log = os.path.join(bench.WORK, "ingestd-prof.log")
    ingestd = bench.Proc(["perf", "record", "-F", "4000", "-g", "-o", data, os.path.join(bench.BIN, "ingestd")],
                         env=bench.ingestd_env(client, port), log=log)
    done = sink.json_line("done_ns", timeout=300)
    ingestd.stop()
    sink.stop()
    report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol", "--stdio", "-g", "none",
                             "--percent-limit", "0.7"], capture_output=True, text=True).stdout
    demangled = subprocess.run(["swift", "demangle", "--simplified"], input=report, capture_output=True, text=True).stdout
    with open(os.path.join(bench.WORK, "perf-report.txt"), "w") as f:
        f.write(demangled)
    print("\n".join(l[:220] for l in demangled.splitlines() if l and not l.startswith("#")))


if __name__ == "__main__":
    main()
