#!/usr/bin/env python3
"""ingestd benchmark (README "Benchmark"). Started by bench/run.sh, which builds and starts the servers.

Phases, all in one run against one mosquitto:
  1. sessions: persistent QoS 1 sessions are made once (mosquitto_sub -E) for the limit, for ingestd and
     for the real-InfluxDB variant; then N messages are published once, so each session holds the same backlog.
  2. limit: mosquitto_sub drains its backlog to /dev/null; then the ceiling: `ingestd-bench subscribe`, a
     subscriber that only acknowledges, drains its own (what the broker can deliver to one subscriber).
  3. drain: ingestd drains its backlog into the fake InfluxDB sink (204 at once, counts lines); the
     clock runs from ingestd's start to the sink's acknowledgement of the N-th point.
  4. live: ingestd connected, the publisher sends at a steady rate, the sink measures publish -> ack.
  5. influx: ingestd drains the third backlog into the real influxd (through the counting proxy).
  6. slow sinks: SLOW_N more messages are published to sessions made after the phases above, and ingestd
     drains each into a fake InfluxDB answering every write after SLOW_SINKS_MS (0, 100, 1000) ms:
     what a slow InfluxDB (InfluxDB 3 waits for its WAL flush, once a second) does to throughput.
  3b. durability (COMPARE_DURABILITY="journal,broker" by default, empty skips it): the same drain with each
     DURABILITY mode named, each from a backlog of its own (README "Durability modes"): rate and CPU per
     message against the drain above (DURABILITY=memory, the default).
  7. mapped (COMPARE_MAPPED=0 skips it): ingestd drains a backlog of N Zigbee2MQTT-shaped messages (the same five
     readings) through config/mappings/zigbee2mqtt.yaml into the fake sink; its rate is compared with the drain's.
With BASELINE (bench/run.sh builds that revision), phase 3 first drains a backlog of its own with the
baseline's ingestd, so a change is compared with the revision before it in the same run.
"""
import hashlib, json, os, platform, queue, signal, subprocess, sys, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN_DIR", os.path.join(ROOT, ".build", "release"))
BASELINE_BIN = os.environ.get("BASELINE_BIN_DIR")
BASELINE_REV = os.environ.get("BASELINE_REV", "")
WORK = os.environ["WORK"]
MQTT_PORT = int(os.environ["MQTT_PORT"])
INFLUX_PORT = int(os.environ.get("INFLUX_PORT", "0"))
N = int(os.environ.get("N", "200000"))
DEVICES = int(os.environ.get("DEVICES", "1000"))
LIVE_RATE = int(os.environ.get("LIVE_RATE", "20000"))
LIVE_SECONDS = float(os.environ.get("LIVE_SECONDS", "10"))
FLUSH_MS = int(os.environ.get("INFLUX_FLUSH_INTERVAL_MS", "1000"))
BATCH_SIZE = int(os.environ.get("INFLUX_BATCH_SIZE", "500"))
TENANT = "acme"
FILTER = "tenant/+/device/+/+"
TIMEOUT = float(os.environ.get("PHASE_TIMEOUT", "120"))
# Also drain with MQTT_CLIENT=libmosquitto, to compare the two MQTT clients in the same run.
COMPARE_LIBMOSQUITTO = os.environ.get("COMPARE_LIBMOSQUITTO", "1") != "0"
# Write latencies of the slow-sink phases (ms); 0 is the instant sink on the same backlog, for the ratio.
SLOW_SINKS_MS = [int(x) for x in os.environ.get("SLOW_SINKS_MS", "0,100,1000").split(",") if x.strip()]
SLOW_N = int(os.environ.get("SLOW_N", "20000"))
# ingestd's default; the limit run uses the same (see README "Benchmark").
RECEIVE_MAXIMUM = int(os.environ.get("MQTT_RECEIVE_MAXIMUM", "1000"))
# Also drain with these DURABILITY modes (README "Durability modes"), to compare them with memory in one run.
COMPARE_DURABILITY = [m.strip() for m in os.environ.get("COMPARE_DURABILITY", "journal,broker").split(",") if m.strip()]
# Also drain a mapped backlog (MAPPING_FILE, README "Mapping other devices").
COMPARE_MAPPED = os.environ.get("COMPARE_MAPPED", "1") != "0"
MAPPED_FILTER = "zigbee2mqtt/+"


def device_id(i):
    return "d%03d" % i


class Proc:
    """A child process whose stdout lines arrive in a queue (stderr goes to a log file)."""

    def __init__(self, args, env=None, log=None):
        self.log_path = log
        err = open(log, "w") if log else subprocess.DEVNULL
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, env=env, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            self.lines.put(line.strip())

    def json_line(self, key, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SystemExit(f"timeout waiting for '{key}' from {self.p.args[0]}")
            try:
                line = self.lines.get(timeout=min(left, 1))
            except queue.Empty:
                if self.p.poll() is not None:
                    raise SystemExit(f"{self.p.args} exited with {self.p.returncode} (log: {self.log_path})")
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if key in obj:
                return obj

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick  # utime, stime


def proc_peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def broker_pid():
    """The bench's mosquitto (started by bench/run.sh with a config in the work folder)."""
    conf = os.path.join(WORK, "mosquitto", "mosquitto.conf")
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if conf.encode() in f.read():
                        return int(entry)
            except OSError:
                pass
    return None


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.strip().splitlines()
    mosq = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True).stdout.splitlines()
    return {
        "cores": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
        "swift": swift[0] if swift else "?", "mosquitto": mosq[0] if mosq else "?",
        "loadavg_start": loadavg(),
    }


def write_registry(path):
    records = []
    for i in range(DEVICES):
        token = "token-" + device_id(i)
        records.append({"tenant_id": TENANT, "device_id": device_id(i), "site_id": "site-%d" % (i % 10),
                        "status": "ACTIVE", "provision_token_hash": hashlib.sha256(token.encode()).hexdigest()})
    with open(path, "w") as f:
        json.dump(records, f)


def make_session(client_id, topic=FILTER):
    subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(MQTT_PORT), "-V", "mqttv5", "-x", "86400",
                    "-c", "-i", client_id, "-q", "1", "-t", topic, "-E"], check=True, timeout=30)


def publish(count, rate=0, wait_key="published", shape="envelope"):
    pub = Proc([os.path.join(BIN, "ingestd-bench"), "publish", "--port", str(MQTT_PORT), "--count", str(count),
                "--devices", str(DEVICES), "--rate", str(rate), "--tenant", TENANT, "--shape", shape],
               log=os.path.join(WORK, "publisher.log"))
    result = pub.json_line(wait_key, timeout=TIMEOUT + count / max(rate, 1))
    pub.p.wait()
    return result


def start_sink(name, expect, latency=False, upstream=None, delay_ms=0):
    args = [os.path.join(BIN, "ingestd-bench"), "sink", "--port", "0", "--expect", str(expect)]
    if delay_ms:
        args += ["--delay-ms", str(delay_ms)]
    if latency:
        args.append("--latency")
    if upstream:
        args += ["--upstream", str(upstream)]
    sink = Proc(args, log=os.path.join(WORK, f"sink-{name}.log"))
    return sink, sink.json_line("listening")["listening"]


def ingestd_env(client_id, sink_port, clean=False):
    env = dict(os.environ)
    env.update({
        "MQTT_HOST": "127.0.0.1", "MQTT_PORT": str(MQTT_PORT), "MQTT_CLIENT_ID": client_id,
        "MQTT_CLEAN_SESSION": "1" if clean else "0",
        "INFLUXDB_URL": f"http://127.0.0.1:{sink_port}", "INFLUXDB_API": "v1",
        "RATE_LIMIT_RPS": "0", "REGISTRY": "file", "REGISTRY_FILE": os.path.join(WORK, "devices.json"),
        "REQUIRE_TOKEN": "1", "LOG_STATS_EVERY_SECONDS": "0",
        "INFLUX_BATCH_SIZE": str(BATCH_SIZE), "INFLUX_FLUSH_INTERVAL_MS": str(FLUSH_MS),
        # A spool of its own: never the system's /var/lib/ingestd, and two bench runs never share one.
        "SPOOL_DIR": os.path.join(WORK, "spool-" + client_id),
    })
    return env


def final_stats(log_path):
    """The `final=1` stats line of an ingestd log as a dict."""
    stats = {}
    with open(log_path) as f:
        for line in f:
            if "msg=stats" in line and "final=1" in line:
                for part in line.split():
                    if "=" in part:
                        k, v = part.split("=", 1)
                        stats[k] = v
    return stats


def drain_subscriber(argv):
    """Runs a subscriber that exits after draining N messages: wall time from its start, and its CPU."""
    start = time.monotonic_ns()
    sub = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(sub.pid, 0)
    seconds = (time.monotonic_ns() - start) / 1e9
    if status != 0:
        raise SystemExit(f"{argv[0]} failed ({status})")
    cpu = usage.ru_utime + usage.ru_stime
    return {"messages": N, "seconds": round(seconds, 3), "rate": int(N / seconds),
            "cpu_seconds": round(cpu, 2), "cpu_us_per_message": round(cpu / N * 1e6, 2)}


def drain_ingestd(name, client_id, sink, sink_port, extra_env=None, bin_dir=BIN, messages=None):
    messages = messages or N
    log = os.path.join(WORK, f"ingestd-{name}.log")
    env = ingestd_env(client_id, sink_port)
    env.update(extra_env or {})
    broker = broker_pid()
    broker_cpu = proc_cpu_seconds(broker) if broker else 0
    sink_cpu = proc_cpu_seconds(sink.p.pid)
    start = time.monotonic_ns()
    ingestd = Proc([os.path.join(bin_dir, "ingestd")], env=env, log=log)
    done = sink.json_line("done_ns", timeout=TIMEOUT)
    cpu = proc_cpu_seconds(ingestd.p.pid)
    rss = proc_peak_rss_mb(ingestd.p.pid)
    # Who else used the two cores meanwhile: the broker and the sink share them with ingestd.
    broker_cpu = (proc_cpu_seconds(broker) - broker_cpu) if broker else None
    sink_cpu = proc_cpu_seconds(sink.p.pid) - sink_cpu
    ingestd.stop()
    sink.stop()
    stats = final_stats(log)
    seconds = (done["done_ns"] - start) / 1e9
    return {
        "messages": messages, "seconds": round(seconds, 3), "rate": int(messages / seconds),
        "cpu_seconds": cpu, "cpu_seconds_per_million": round(cpu / messages * 1e6, 2),
        "cpu_us_per_message": round(cpu / messages * 1e6, 2), "peak_rss_mb": round(rss, 1),
        "batches": done["requests"], "lines_acked": done["lines"], "refused_batches": done["refused"],
        "ingestd_received": int(stats.get("received", -1)), "ingestd_rejected": int(stats.get("rejected", -1)),
        "ingestd_exit": ingestd.p.returncode, "log": log,
        "broker_cpu_us_per_message": round(broker_cpu / messages * 1e6, 2) if broker_cpu is not None else None,
        "sink_cpu_us_per_message": round(sink_cpu / messages * 1e6, 2),
    }


def main():
    facts = machine()
    print(f"machine: {facts['cores']} cores, {facts['cpu_model']}, load {facts['loadavg_start']}", flush=True)
    write_registry(os.path.join(WORK, "devices.json"))
    sessions = (["bench-limit", "bench-ceiling", "bench-ingestd"] + (["bench-ingestd-baseline"] if BASELINE_BIN else [])
                + (["bench-ingestd-mosquitto"] if COMPARE_LIBMOSQUITTO else [])
                + [f"bench-ingestd-durability-{mode}" for mode in COMPARE_DURABILITY]
                + (["bench-ingestd-influx"] if INFLUX_PORT else []))
    for s in sessions:
        make_session(s)
    if COMPARE_MAPPED:
        make_session("bench-ingestd-mapped", MAPPED_FILTER)

    print(f"publishing the backlog: {N} messages from {DEVICES} devices to {len(sessions)} persistent sessions …", flush=True)
    backlog = publish(N)
    print(f"  published at {backlog['rate']} msg/s (QoS 1, broker fanning out to {len(sessions)} sessions)", flush=True)
    if COMPARE_MAPPED:
        print(f"publishing the mapped backlog: {N} Zigbee2MQTT-shaped messages …", flush=True)
        publish(N, shape="zigbee2mqtt")

    print("limit: mosquitto_sub drains its backlog to /dev/null …", flush=True)
    # The same MQTT 5 Receive Maximum as ingestd (its MQTT_RECEIVE_MAXIMUM), so both get the same window.
    limit = drain_subscriber(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(MQTT_PORT), "-V", "mqttv5", "-x", "86400",
                              "-D", "connect", "receive-maximum", str(RECEIVE_MAXIMUM),
                              "-c", "-i", "bench-limit", "-q", "1", "-t", FILTER, "-C", str(N)])
    print(f"  {limit['rate']} msg/s", flush=True)

    print("ceiling: a subscriber that only acknowledges drains its backlog …", flush=True)
    ceiling = drain_subscriber([os.path.join(BIN, "ingestd-bench"), "subscribe", "--port", str(MQTT_PORT),
                                "--client-id", "bench-ceiling", "--topic", FILTER, "--count", str(N),
                                "--receive-maximum", str(RECEIVE_MAXIMUM)])
    print(f"  {ceiling['rate']} msg/s", flush=True)

    baseline = None
    if BASELINE_BIN:
        print(f"baseline: ingestd of {BASELINE_REV} drains its backlog into the fake InfluxDB …", flush=True)
        sink, sink_port = start_sink("drain-baseline", N)
        baseline = drain_ingestd("drain-baseline", "bench-ingestd-baseline", sink, sink_port, bin_dir=BASELINE_BIN)
        baseline["revision"] = BASELINE_REV
        print(f"  {baseline['rate']} msg/s, {baseline['cpu_us_per_message']} µs CPU/msg, peak RSS {baseline['peak_rss_mb']} MB", flush=True)

    print("drain: ingestd drains its backlog into the fake InfluxDB …", flush=True)
    sink, sink_port = start_sink("drain", N)
    drain = drain_ingestd("drain", "bench-ingestd", sink, sink_port)
    print(f"  {drain['rate']} msg/s, {drain['cpu_us_per_message']} µs CPU/msg, peak RSS {drain['peak_rss_mb']} MB, {drain['batches']} batches", flush=True)

    durability = []
    for mode in COMPARE_DURABILITY:
        print(f"durability: the same drain with DURABILITY={mode} …", flush=True)
        sink, sink_port = start_sink(f"drain-{mode}", N)
        part = drain_ingestd(f"drain-{mode}", f"bench-ingestd-durability-{mode}", sink, sink_port, {"DURABILITY": mode})
        part["durability"] = mode
        durability.append(part)
        print(f"  {part['rate']} msg/s, {part['cpu_us_per_message']} µs CPU/msg ({part['rate'] / drain['rate']:.2f}x the drain)", flush=True)

    mapped = None
    if COMPARE_MAPPED:
        print("mapped: ingestd drains the Zigbee2MQTT backlog through config/mappings/zigbee2mqtt.yaml …", flush=True)
        sink, sink_port = start_sink("drain-mapped", N)
        mapped = drain_ingestd("drain-mapped", "bench-ingestd-mapped", sink, sink_port, {
            "MAPPING_FILE": os.path.join(ROOT, "config", "mappings", "zigbee2mqtt.yaml"), "REGISTRY": "none"})
        print(f"  {mapped['rate']} msg/s, {mapped['cpu_us_per_message']} µs CPU/msg ({mapped['rate'] / drain['rate']:.2f}x the drain)", flush=True)

    mosquitto = None
    if COMPARE_LIBMOSQUITTO:
        print("drain again with MQTT_CLIENT=libmosquitto …", flush=True)
        sink, sink_port = start_sink("drain-mosquitto", N)
        mosquitto = drain_ingestd("drain-mosquitto", "bench-ingestd-mosquitto", sink, sink_port,
                                  {"MQTT_CLIENT": "libmosquitto"})
        print(f"  {mosquitto['rate']} msg/s, {mosquitto['cpu_us_per_message']} µs CPU/msg", flush=True)

    live_count = int(LIVE_RATE * LIVE_SECONDS)
    print(f"live: {LIVE_RATE} msg/s for {LIVE_SECONDS:g} s, publish -> sink acknowledgement …", flush=True)
    sink, sink_port = start_sink("live", live_count, latency=True)
    log = os.path.join(WORK, "ingestd-live.log")
    ingestd = Proc([os.path.join(BIN, "ingestd")], env=ingestd_env("bench-live", sink_port, clean=True), log=log)
    deadline = time.monotonic() + 30
    while "mqtt subscribed" not in open(log).read():
        if time.monotonic() > deadline:
            raise SystemExit("ingestd did not subscribe (log: %s)" % log)
        time.sleep(0.05)
    pub = publish(live_count, rate=LIVE_RATE)
    done = sink.json_line("done_ns", timeout=TIMEOUT)
    live_cpu = proc_cpu_seconds(ingestd.p.pid)
    ingestd.stop()
    sink.stop()
    live = {"rate_target": LIVE_RATE, "rate_published": pub["rate"], "messages": live_count,
            "flush_interval_ms": FLUSH_MS, "batch_size": BATCH_SIZE, "batches": done["requests"],
            "cpu_us_per_message": round(live_cpu / live_count * 1e6, 2), **done["latency_ms"]}
    print(f"  p50 {live['p50']:.1f} ms, p99 {live['p99']:.1f} ms, max {live['max']:.1f} ms", flush=True)

    influx = None
    if INFLUX_PORT:
        print("influx: ingestd drains its backlog into the real influxd (v1) …", flush=True)
        subprocess.run(["curl", "-s", "-o", "/dev/null", "-XPOST", f"http://127.0.0.1:{INFLUX_PORT}/query",
                        "--data-urlencode", f"q=CREATE DATABASE telemetry_{TENANT}"], check=True)
        sink, sink_port = start_sink("influx", N, upstream=INFLUX_PORT)
        influx = drain_ingestd("influx", "bench-ingestd-influx", sink, sink_port)
        print(f"  {influx['rate']} msg/s", flush=True)

    slow = []
    if SLOW_SINKS_MS and SLOW_N > 0:
        slow_sessions = [f"bench-slow-{ms}" for ms in SLOW_SINKS_MS]
        for session in slow_sessions:
            make_session(session)
        print(f"slow sinks: publishing {SLOW_N} more messages for {len(slow_sessions)} new sessions …", flush=True)
        publish(SLOW_N)
        for ms, client_id in zip(SLOW_SINKS_MS, slow_sessions):
            print(f"slow sink: ingestd drains {SLOW_N} messages into a sink answering after {ms} ms …", flush=True)
            sink, sink_port = start_sink(f"slow-{ms}", SLOW_N, delay_ms=ms)
            part = drain_ingestd(f"slow-{ms}", client_id, sink, sink_port, messages=SLOW_N)
            part["delay_ms"] = ms
            slow.append(part)
            print(f"  {part['rate']} msg/s, {part['batches']} batches, peak RSS {part['peak_rss_mb']} MB", flush=True)

    facts["loadavg_end"] = loadavg()
    ratio = drain["rate"] / limit["rate"]
    ratio_to_ceiling = drain["rate"] / ceiling["rate"]
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": facts,
        "workload": {"messages": N, "devices": DEVICES, "metrics_per_message": 5, "qos": 1,
                     "receive_maximum": RECEIVE_MAXIMUM,
                     "registry": DEVICES, "require_token": True, "rate_limit": "off",
                     "batch_size": BATCH_SIZE, "flush_interval_ms": FLUSH_MS,
                     "payload_example": "see Sources/ingestd-bench/Publisher.swift"},
        "publish": backlog, "limit_mosquitto_sub": limit, "ceiling_subscriber": ceiling, "drain_ingestd": drain,
        "ratio": round(ratio, 3), "ratio_to_ceiling": round(ratio_to_ceiling, 3),
        "drain_ingestd_libmosquitto": mosquitto, "drain_ingestd_baseline": baseline, "drain_ingestd_mapped": mapped,
        "drain_ingestd_durability": durability,
        "live": live, "influx_real": influx, "slow_sinks": slow,
    }
    rows = [
        ("mosquitto_sub drain (limit)", f"{limit['rate']:,} msg/s",
         f"{limit['seconds']} s, {limit['cpu_us_per_message']} µs CPU/msg, receive maximum {RECEIVE_MAXIMUM}"),
        ("ceiling: subscriber that only acknowledges", f"{ceiling['rate']:,} msg/s",
         f"{ceiling['seconds']} s, {ceiling['cpu_us_per_message']} µs CPU/msg"),
        ("ingestd drain -> fake sink", f"{drain['rate']:,} msg/s", f"{drain['seconds']} s"),
        ("ratio ingestd / mosquitto_sub", f"{ratio:.2f}", "goal >= 0.67"),
        ("ratio ingestd / ceiling", f"{ratio_to_ceiling:.2f}", "share of what the broker delivers"),
        ("ingestd CPU per message", f"{drain['cpu_us_per_message']} µs",
         f"{drain['cpu_seconds_per_million']} s per million, {drain['cpu_us_per_message'] / limit['cpu_us_per_message']:.2f}x mosquitto_sub's"),
        ("ingestd peak RSS", f"{drain['peak_rss_mb']} MB", "goal <= 64 MB"),
        ("batches (drain)", f"{drain['batches']}", f"batch size {BATCH_SIZE}"),
        ("broker / sink CPU per message (drain)", f"{drain['broker_cpu_us_per_message']} / {drain['sink_cpu_us_per_message']} µs",
         "sharing the cores with ingestd"),
    ]
    if baseline:
        rows.append((f"baseline {BASELINE_REV}: same drain", f"{baseline['rate']:,} msg/s",
                     f"{baseline['cpu_us_per_message']} µs CPU/msg, peak RSS {baseline['peak_rss_mb']} MB; "
                     f"this build: {drain['rate'] / baseline['rate']:.2f}x the rate, "
                     f"{drain['cpu_us_per_message'] / baseline['cpu_us_per_message']:.2f}x the CPU"))
    if mosquitto:
        rows.append(("same drain, MQTT_CLIENT=libmosquitto", f"{mosquitto['rate']:,} msg/s",
                     f"{mosquitto['cpu_us_per_message']} µs CPU/msg, ratio {mosquitto['rate'] / limit['rate']:.2f}"))
    for part in durability:
        goal = ", goal >= 0.9 for broker to become the default" if part["durability"] == "broker" else ""
        rows.append((f"same drain, DURABILITY={part['durability']}", f"{part['rate']:,} msg/s",
                     f"{part['cpu_us_per_message']} µs CPU/msg, {part['rate'] / drain['rate']:.2f}x the drain (memory), "
                     f"peak RSS {part['peak_rss_mb']} MB{goal}"))
    if mapped:
        rows.append(("mapped drain (zigbee2mqtt rule, no registry)", f"{mapped['rate']:,} msg/s",
                     f"{mapped['cpu_us_per_message']} µs CPU/msg, {mapped['rate'] / drain['rate']:.2f}x the drain, goal >= 0.9"))
    rows += [
        (f"live {LIVE_RATE}/s p50 / p99 / max", f"{live['p50']:.1f} / {live['p99']:.1f} / {live['max']:.1f} ms",
         f"goal p99 <= {FLUSH_MS + 100} ms"),
    ]
    if influx:
        rows.append(("ingestd drain -> real influxd", f"{influx['rate']:,} msg/s", f"{influx['seconds']} s, {influx['batches']} batches"))
    instant = next((p for p in slow if p["delay_ms"] == 0), None)
    for part in slow:
        if part["delay_ms"] == 0:
            continue
        share = f", {part['rate'] / instant['rate']:.3f}x the instant sink" if instant else ""
        rows.append((f"drain {SLOW_N} -> sink answering after {part['delay_ms']} ms", f"{part['rate']:,} msg/s",
                     f"{part['batches']} batches, peak RSS {part['peak_rss_mb']} MB{share}"))
    if instant:
        rows.append((f"drain {SLOW_N} -> instant sink (same backlog)", f"{instant['rate']:,} msg/s", f"{instant['batches']} batches"))
    rows.append(("publisher (backlog)", f"{backlog['rate']:,} msg/s", f"{len(sessions)} sessions"))
    rows.append(("load average start / end", f"{facts['loadavg_start'][0]} / {facts['loadavg_end'][0]}", f"{facts['cores']} cores"))
    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'':{width}}  {'result':>28}  notes")
    for name, value, note in rows:
        print(f"{name:{width}}  {value:>28}  {note}")
    out = os.path.join(ROOT, "bench", "results", time.strftime("%Y-%m-%dT%H-%M-%S") + ".json")
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"\nwritten: {os.path.relpath(out, ROOT)}")
    for name, part in (("drain", drain), ("drain-baseline", baseline), ("drain-mosquitto", mosquitto), ("influx", influx),
                       ("drain-mapped", mapped), *((f"slow-{p['delay_ms']}", p) for p in slow)):
        if part and (part["lines_acked"] < part["messages"] or part["ingestd_rejected"] != 0):
            raise SystemExit(f"{name}: not every message arrived ({part})")


if __name__ == "__main__":
    main()
