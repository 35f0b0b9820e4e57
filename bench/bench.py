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
     Then the same requests (recorded by the proxy) are POSTed straight to influxd, as many at once as
     ingestd had in flight: InfluxDB's own limit for those batches, and ingestd's share of it. On two
     shared cores that share is bounded by the CPU the broker, ingestd and the proxy take from influxd
     (influxd's CPU per line is reported for both). So the phase runs again from a backlog of its own with
     influxd held to INFLUXD_CPU_SHARE (0.5) of a core by a cgroup (bench/run.sh makes it as root), into a
     fresh database: InfluxDB is then the bottleneck, as it is on a machine of its own, and the share says
     whether ingestd keeps it as busy as a client that only POSTs.
  6. slow sinks: SLOW_N (default 1,000,000) more messages are published to sessions made after the phases above,
     and ingestd drains each copy into a fake InfluxDB answering every write after SLOW_SINKS_MS (0, 100,
     1000) ms: what a slow InfluxDB (InfluxDB 3 waits for its WAL flush, once a second) does to
     throughput, as a ratio to the 0 ms drain of the same backlog, with the concurrency and batch size
     reached (the most writes the sink saw at once, its largest batch).
  6b. tenants: TENANTS_N messages from DEVICES devices spread over TENANTS tenants (one database each),
     drained into sinks answering after TENANTS_SINKS_MS (0, 1000) ms.
  3b. durability (COMPARE_DURABILITY="journal,broker" by default, empty skips it): the same drain with each
     DURABILITY mode named, each from a backlog of its own (README "Durability modes"): rate and CPU per
     message against the drain above (run with DURABILITY=memory; the default is broker).
  7. mapped (COMPARE_MAPPED=0 skips it): ingestd drains a backlog of N Zigbee2MQTT-shaped messages (the same five
     readings) through config/mappings/zigbee2mqtt.yaml into the fake sink; its rate is compared with the drain's.
With BASELINE (bench/run.sh builds that revision), phase 3 first drains a backlog of its own with the
baseline's ingestd, so a change is compared with the revision before it in the same run.
PHASES=slow,tenants,influx (any of limit, drain, durability, mapped, mosquitto, live, influx, slow, tenants) runs only
those: a targeted run on the shared machine.
"""
import hashlib, http.client, json, os, platform, queue, signal, subprocess, sys, threading, time

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
# A million: a few minutes of a fleet's outage. A backlog that arrives in T seconds drains into a sink
# answering after L in no less than T + L, so a short one says more about L than about ingestd
# (200,000 messages arrive in about 0.7 s here, which would bound the 1 s drain at 0.4x).
SLOW_N = int(os.environ.get("SLOW_N", "1000000"))
# Many tenants, one database each (the default INFLUXDB_DB_TEMPLATE), into an instant and a slow sink.
TENANTS = int(os.environ.get("TENANTS", "100"))
TENANTS_N = int(os.environ.get("TENANTS_N", "200000"))
TENANTS_SINKS_MS = [int(x) for x in os.environ.get("TENANTS_SINKS_MS", "0,1000").split(",") if x.strip()]
ALL_PHASES = {"limit", "drain", "durability", "mapped", "mosquitto", "live", "influx", "slow", "tenants"}
PHASES = ALL_PHASES if os.environ.get("PHASES", "all") == "all" else set(os.environ["PHASES"].split(","))
# ingestd's default; the limit run uses the same (see README "Benchmark").
RECEIVE_MAXIMUM = int(os.environ.get("MQTT_RECEIVE_MAXIMUM", "1000"))
# Also drain with these DURABILITY modes (README "Durability modes"), to compare them with memory in one run.
COMPARE_DURABILITY = [m.strip() for m in os.environ.get("COMPARE_DURABILITY", "journal,broker").split(",") if m.strip()]
# Also drain a mapped backlog (MAPPING_FILE, README "Mapping other devices").
COMPARE_MAPPED = os.environ.get("COMPARE_MAPPED", "1") != "0"
MAPPED_FILTER = "zigbee2mqtt/+"
# influxd's pid, and the CPU cgroup bench/run.sh moved it into (empty: none could be made).
INFLUXD_PID = int(os.environ.get("INFLUXD_PID", "0"))
INFLUXD_CGROUP = os.environ.get("INFLUXD_CGROUP", "")
INFLUXD_CPU_SHARE = float(os.environ.get("INFLUXD_CPU_SHARE", "0.5"))
# Pairs of (ingestd drain, direct POST) with influxd held to that share: influxd's own CPU per line moves
# by up to 2x from one drain to the next (its cache snapshots and GC), so one pair decides nothing.
INFLUXD_CAPPED_RUNS = int(os.environ.get("INFLUXD_CAPPED_RUNS", "3"))


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


def set_influxd_cpu(share):
    """Holds influxd to `share` of one core (None: no limit) through its cgroup (v1 cpu or v2 cpu.max)."""
    period = 100000
    v1 = os.path.exists(os.path.join(INFLUXD_CGROUP, "cpu.cfs_quota_us"))
    if v1:
        with open(os.path.join(INFLUXD_CGROUP, "cpu.cfs_period_us"), "w") as f:
            f.write(str(period))
        with open(os.path.join(INFLUXD_CGROUP, "cpu.cfs_quota_us"), "w") as f:
            f.write(str(int(share * period)) if share else "-1")
    else:
        with open(os.path.join(INFLUXD_CGROUP, "cpu.max"), "w") as f:
            f.write(f"{int(share * period) if share else 'max'} {period}")


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


def tenant_of(i, tenants):
    """As the publisher's --tenants: device i belongs to tenant <TENANT><i mod tenants>."""
    return TENANT if tenants == 1 else f"{TENANT}{i % tenants}"


def write_registry(path, tenants=1):
    records = []
    for i in range(DEVICES):
        token = "token-" + device_id(i)
        records.append({"tenant_id": tenant_of(i, tenants), "device_id": device_id(i), "site_id": "site-%d" % (i % 10),
                        "status": "ACTIVE", "provision_token_hash": hashlib.sha256(token.encode()).hexdigest()})
    with open(path, "w") as f:
        json.dump(records, f)


def make_session(client_id, topic=FILTER):
    subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(MQTT_PORT), "-V", "mqttv5", "-x", "86400",
                    "-c", "-i", client_id, "-q", "1", "-t", topic, "-E"], check=True, timeout=30)


def publish(count, rate=0, wait_key="published", shape="envelope", tenants=1):
    pub = Proc([os.path.join(BIN, "ingestd-bench"), "publish", "--port", str(MQTT_PORT), "--count", str(count),
                "--devices", str(DEVICES), "--rate", str(rate), "--tenant", TENANT, "--shape", shape,
                "--tenants", str(tenants)],
               log=os.path.join(WORK, "publisher.log"))
    result = pub.json_line(wait_key, timeout=TIMEOUT + count / max(rate, 1))
    pub.p.wait()
    return result


def start_sink(name, expect, latency=False, upstream=None, delay_ms=0, record=None):
    args = [os.path.join(BIN, "ingestd-bench"), "sink", "--port", "0", "--expect", str(expect)]
    if record:
        args += ["--record", record]
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
        "REQUIRE_TOKEN": "1", "LOG_STATS_EVERY_SECONDS": os.environ.get("BENCH_STATS_SECONDS", "0"),
        "INFLUX_BATCH_SIZE": str(BATCH_SIZE), "INFLUX_FLUSH_INTERVAL_MS": str(FLUSH_MS),
        # The write path's own throughput, like for like with older revisions: DURABILITY=memory unless
        # the run names a mode (the durability phase drains with each mode named).
        "DURABILITY": os.environ.get("DURABILITY", "memory"),
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


def drain_ingestd(name, client_id, sink, sink_port, extra_env=None, bin_dir=BIN, messages=None, watch=None):
    """`watch`: more processes ({name: pid}) whose CPU seconds between ingestd's start and the sink's last
    acknowledgement are reported as `<name>_cpu_seconds`."""
    messages = messages or N
    watched = {k: proc_cpu_seconds(pid) for k, pid in (watch or {}).items()}
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
    watched = {k: proc_cpu_seconds(watch[k]) - v for k, v in watched.items()}
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
        "max_in_flight": done.get("max_in_flight"), "max_batch_lines": done.get("max_batch_lines"),
        "final_concurrency": int(stats.get("influx_concurrency", -1)),
        "ingestd_received": int(stats.get("received", -1)), "ingestd_rejected": int(stats.get("rejected", -1)),
        "ingestd_exit": ingestd.p.returncode, "log": log,
        "broker_cpu_us_per_message": round(broker_cpu / messages * 1e6, 2) if broker_cpu is not None else None,
        "sink_cpu_us_per_message": round(sink_cpu / messages * 1e6, 2),
        **{f"{k}_cpu_seconds": round(v, 3) for k, v in watched.items()},
    }


def recorded_bodies(path):
    """The write bodies a sink recorded with --record, in order."""
    bodies = []
    with open(path, "rb") as f:
        while True:
            head = f.readline()
            if not head:
                return bodies
            bodies.append(f.read(int(head)))


def post_direct(bodies, database, connections):
    """POSTs the bodies straight to influxd over `connections` keep-alive connections at once: InfluxDB's
    own rate for those requests."""
    subprocess.run(["curl", "-s", "-o", "/dev/null", "-XPOST", f"http://127.0.0.1:{INFLUX_PORT}/query",
                    "--data-urlencode", f"q=CREATE DATABASE {database}"], check=True)
    work = queue.Queue()
    for body in bodies:
        work.put(body)
    failures = []

    def worker():
        connection = http.client.HTTPConnection("127.0.0.1", INFLUX_PORT, timeout=120)
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                return
            connection.request("POST", f"/write?db={database}&precision=n", body=body,
                               headers={"Content-Type": "text/plain; charset=utf-8"})
            answer = connection.getresponse()
            answer.read()
            if answer.status // 100 != 2:
                failures.append(answer.status)

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(max(1, connections))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - start
    lines = sum(body.count(b"\n") for body in bodies)
    if failures:
        raise SystemExit(f"direct POST to influxd failed: {failures[:5]}")
    return {"lines": lines, "requests": len(bodies), "connections": max(1, connections),
            "seconds": round(seconds, 3), "rate": int(lines / seconds)}


def wait_influxd_idle(limit_seconds=30):
    """Waits until influxd uses under a tenth of a core (what a drain left it to do, compactions and
    garbage collection, must not land in the next measurement), at most `limit_seconds`."""
    if not INFLUXD_PID:
        return
    deadline = time.monotonic() + limit_seconds
    last = proc_cpu_seconds(INFLUXD_PID)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = proc_cpu_seconds(INFLUXD_PID)
        if now - last < 0.05:
            return
        last = now


def drain_real_influx(label, client_id, template, direct_database, cpu_share=None):
    """ingestd drains its backlog into influxd through the recording proxy (into databases named by
    `template`); then the recorded requests are POSTed straight to influxd into `direct_database`, as many
    at once as ingestd had in flight. Both into databases of their own, so neither finds series made."""
    subprocess.run(["curl", "-s", "-o", "/dev/null", "-XPOST", f"http://127.0.0.1:{INFLUX_PORT}/query",
                    "--data-urlencode", f"q=CREATE DATABASE {template.replace('{tenant_id}', TENANT)}"], check=True)
    record = os.path.join(WORK, f"{label}-bodies.bin")
    sink, sink_port = start_sink(label, N, upstream=INFLUX_PORT, record=record)
    wait_influxd_idle()
    part = drain_ingestd(label, client_id, sink, sink_port, {"INFLUXDB_DB_TEMPLATE": template},
                         watch={"influxd": INFLUXD_PID} if INFLUXD_PID else None)
    if INFLUXD_PID:
        used = part["influxd_cpu_seconds"]
        part["influxd_cpu_us_per_line"] = round(used / N * 1e6, 2)
        if cpu_share:
            # How much of its CPU allowance influxd used while ingestd drained: near 1, InfluxDB was the
            # bottleneck all along (the clock includes ingestd's start, before any line reached it).
            part["influxd_busy"] = round(used / (cpu_share * part["seconds"]), 3)
    print(f"  {part['rate']} msg/s, concurrency reached {part['max_in_flight']}, largest batch {part['max_batch_lines']} lines", flush=True)
    print(f"{label}: the same requests POSTed straight to influxd, as many at once as ingestd had …", flush=True)
    bodies = recorded_bodies(record)
    wait_influxd_idle()
    influxd_cpu = proc_cpu_seconds(INFLUXD_PID) if INFLUXD_PID else 0
    direct = post_direct(bodies, direct_database, part["max_in_flight"] or 1)
    if INFLUXD_PID:
        used = proc_cpu_seconds(INFLUXD_PID) - influxd_cpu
        direct["influxd_cpu_us_per_line"] = round(used / direct["lines"] * 1e6, 2)
        if cpu_share:
            direct["influxd_busy"] = round(used / (cpu_share * direct["seconds"]), 3)
    os.remove(record)
    part["direct_post"] = direct
    print(f"  {direct['rate']} lines/s over {direct['connections']} connections; ingestd {part['rate'] / direct['rate']:.2f}x", flush=True)
    return part


def drain_slow(label, sessions_and_delays, messages, extra_env=None):
    """ingestd drains each session's copy of one backlog into a sink answering after its delay."""
    parts = []
    for ms, client_id in sessions_and_delays:
        print(f"{label}: ingestd drains {messages} messages into a sink answering after {ms} ms …", flush=True)
        sink, sink_port = start_sink(f"{label}-{ms}", messages, delay_ms=ms)
        part = drain_ingestd(f"{label}-{ms}", client_id, sink, sink_port, extra_env, messages=messages)
        part["delay_ms"] = ms
        parts.append(part)
        print(f"  {part['rate']} msg/s, {part['batches']} batches, peak RSS {part['peak_rss_mb']} MB, "
              f"concurrency reached {part['max_in_flight']}, largest batch {part['max_batch_lines']} lines", flush=True)
    instant = next((p for p in parts if p["delay_ms"] == 0), None)
    for part in parts:
        part["ratio_to_instant"] = round(part["rate"] / instant["rate"], 3) if instant else None
    return parts


def slow_rows(label, parts, messages, goals):
    rows = []
    for part in parts:
        ratio = f", {part['ratio_to_instant']:.2f}x the instant sink" if part["delay_ms"] and part["ratio_to_instant"] else ""
        goal = f" (goal >= {goals[part['delay_ms']]})" if part["delay_ms"] in goals else ""
        rows.append((f"{label} {messages} -> sink answering after {part['delay_ms']} ms", f"{part['rate']:,} msg/s",
                     f"{part['seconds']} s{ratio}{goal}; peak RSS {part['peak_rss_mb']} MB; "
                     f"concurrency {part['max_in_flight']}, largest batch {part['max_batch_lines']} lines, {part['batches']} batches"))
    return rows


def main():
    facts = machine()
    print(f"machine: {facts['cores']} cores, {facts['cpu_model']}, load {facts['loadavg_start']}", flush=True)
    write_registry(os.path.join(WORK, "devices.json"))
    sessions = []
    if "limit" in PHASES:
        sessions += ["bench-limit", "bench-ceiling"]
    if "drain" in PHASES:
        sessions += ["bench-ingestd"] + (["bench-ingestd-baseline"] if BASELINE_BIN else [])
    if "mosquitto" in PHASES and COMPARE_LIBMOSQUITTO:
        sessions.append("bench-ingestd-mosquitto")
    if "durability" in PHASES and "drain" in PHASES:
        sessions += [f"bench-ingestd-durability-{mode}" for mode in COMPARE_DURABILITY]
    if "influx" in PHASES and INFLUX_PORT:
        sessions += ["bench-ingestd-influx"] + ([f"bench-ingestd-influx-capped-{i}" for i in range(INFLUXD_CAPPED_RUNS)]
                                                if INFLUXD_CGROUP else [])
    for s in sessions:
        make_session(s)
    compare_mapped = COMPARE_MAPPED and "mapped" in PHASES
    if compare_mapped:
        make_session("bench-ingestd-mapped", MAPPED_FILTER)

    backlog = None
    if sessions:
        print(f"publishing the backlog: {N} messages from {DEVICES} devices to {len(sessions)} persistent sessions …", flush=True)
        backlog = publish(N)
        print(f"  published at {backlog['rate']} msg/s (QoS 1, broker fanning out to {len(sessions)} sessions)", flush=True)
    if compare_mapped:
        print(f"publishing the mapped backlog: {N} Zigbee2MQTT-shaped messages …", flush=True)
        publish(N, shape="zigbee2mqtt")

    limit = ceiling = None
    if "limit" in PHASES:
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

    baseline = drain = None
    if "drain" in PHASES:
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
    # Compared with the drain above: only with it.
    for mode in (COMPARE_DURABILITY if "durability" in PHASES and drain else []):
        print(f"durability: the same drain with DURABILITY={mode} …", flush=True)
        sink, sink_port = start_sink(f"drain-{mode}", N)
        part = drain_ingestd(f"drain-{mode}", f"bench-ingestd-durability-{mode}", sink, sink_port, {"DURABILITY": mode})
        part["durability"] = mode
        durability.append(part)
        print(f"  {part['rate']} msg/s, {part['cpu_us_per_message']} µs CPU/msg ({part['rate'] / drain['rate']:.2f}x the drain)", flush=True)

    mapped = None
    if compare_mapped:
        print("mapped: ingestd drains the Zigbee2MQTT backlog through config/mappings/zigbee2mqtt.yaml …", flush=True)
        sink, sink_port = start_sink("drain-mapped", N)
        mapped = drain_ingestd("drain-mapped", "bench-ingestd-mapped", sink, sink_port, {
            "MAPPING_FILE": os.path.join(ROOT, "config", "mappings", "zigbee2mqtt.yaml"), "REGISTRY": "none"})
        share = f" ({mapped['rate'] / drain['rate']:.2f}x the drain)" if drain else ""
        print(f"  {mapped['rate']} msg/s, {mapped['cpu_us_per_message']} µs CPU/msg{share}", flush=True)

    mosquitto = None
    if "mosquitto" in PHASES and COMPARE_LIBMOSQUITTO:
        print("drain again with MQTT_CLIENT=libmosquitto …", flush=True)
        sink, sink_port = start_sink("drain-mosquitto", N)
        mosquitto = drain_ingestd("drain-mosquitto", "bench-ingestd-mosquitto", sink, sink_port,
                                  {"MQTT_CLIENT": "libmosquitto"})
        print(f"  {mosquitto['rate']} msg/s, {mosquitto['cpu_us_per_message']} µs CPU/msg", flush=True)

    live = None
    if "live" in PHASES:
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

    influx = capped = None
    if "influx" in PHASES and INFLUX_PORT:
        print("influx: ingestd drains its backlog into the real influxd (v1) …", flush=True)
        influx = drain_real_influx("influx", "bench-ingestd-influx", "telemetry_{tenant_id}", "telemetry_direct")
        if INFLUXD_CGROUP and INFLUXD_CAPPED_RUNS > 0:
            runs = []
            set_influxd_cpu(INFLUXD_CPU_SHARE)
            try:
                for i in range(INFLUXD_CAPPED_RUNS):
                    print(f"influx: again with influxd held to {INFLUXD_CPU_SHARE:g} of a core (InfluxDB the bottleneck), "
                          f"pair {i + 1} of {INFLUXD_CAPPED_RUNS} …", flush=True)
                    runs.append(drain_real_influx(f"influx-capped-{i}", f"bench-ingestd-influx-capped-{i}",
                                                  f"capped{i}_{{tenant_id}}", f"capped{i}_direct", INFLUXD_CPU_SHARE))
            finally:
                set_influxd_cpu(None)
            ratios = sorted(r["rate"] / r["direct_post"]["rate"] for r in runs)
            busy = sorted(r["influxd_busy"] for r in runs)
            capped = {"influxd_cpu_share": INFLUXD_CPU_SHARE, "runs": runs,
                      "ratios": [round(r, 3) for r in ratios], "median_ratio": round(ratios[len(ratios) // 2], 3),
                      "influxd_busy": busy, "median_influxd_busy": busy[len(busy) // 2]}
        else:
            print("influx: no CPU cgroup for influxd (needs root), so no drain with InfluxDB as the bottleneck", flush=True)

    slow = []
    if "slow" in PHASES and SLOW_SINKS_MS and SLOW_N > 0:
        slow_sessions = [f"bench-slow-{ms}" for ms in SLOW_SINKS_MS]
        for session in slow_sessions:
            make_session(session)
        print(f"slow sinks: publishing {SLOW_N} more messages for {len(slow_sessions)} new sessions …", flush=True)
        publish(SLOW_N)
        slow = drain_slow("slow", list(zip(SLOW_SINKS_MS, slow_sessions)), SLOW_N)

    tenants = []
    if "tenants" in PHASES and TENANTS_SINKS_MS and TENANTS_N > 0:
        write_registry(os.path.join(WORK, "devices-tenants.json"), TENANTS)
        tenant_sessions = [f"bench-tenants-{ms}" for ms in TENANTS_SINKS_MS]
        for session in tenant_sessions:
            make_session(session)
        print(f"tenants: publishing {TENANTS_N} messages of {TENANTS} tenants for {len(tenant_sessions)} new sessions …", flush=True)
        publish(TENANTS_N, tenants=TENANTS)
        tenants = drain_slow("tenants", list(zip(TENANTS_SINKS_MS, tenant_sessions)), TENANTS_N,
                             {"REGISTRY_FILE": os.path.join(WORK, "devices-tenants.json")})

    facts["loadavg_end"] = loadavg()
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": facts, "phases": sorted(PHASES),
        "workload": {"messages": N, "devices": DEVICES, "metrics_per_message": 5, "qos": 1,
                     "receive_maximum": RECEIVE_MAXIMUM,
                     "registry": DEVICES, "require_token": True, "rate_limit": "off",
                     "batch_size": BATCH_SIZE, "flush_interval_ms": FLUSH_MS,
                     "payload_example": "see Sources/ingestd-bench/Publisher.swift"},
        "publish": backlog, "limit_mosquitto_sub": limit, "ceiling_subscriber": ceiling, "drain_ingestd": drain,
        "ratio": round(drain["rate"] / limit["rate"], 3) if drain and limit else None,
        "ratio_to_ceiling": round(drain["rate"] / ceiling["rate"], 3) if drain and ceiling else None,
        "drain_ingestd_libmosquitto": mosquitto, "drain_ingestd_baseline": baseline, "drain_ingestd_mapped": mapped,
        "drain_ingestd_durability": durability,
        "live": live, "influx_real": influx, "influx_real_capped": capped, "slow_sinks": slow,
        "tenants": {"tenants": TENANTS, "messages": TENANTS_N, "drains": tenants} if tenants else None,
    }
    rows = []
    if limit:
        rows += [("mosquitto_sub drain (limit)", f"{limit['rate']:,} msg/s",
                  f"{limit['seconds']} s, {limit['cpu_us_per_message']} µs CPU/msg, receive maximum {RECEIVE_MAXIMUM}"),
                 ("ceiling: subscriber that only acknowledges", f"{ceiling['rate']:,} msg/s",
                  f"{ceiling['seconds']} s, {ceiling['cpu_us_per_message']} µs CPU/msg")]
    if drain:
        rows.append((f"ingestd drain -> fake sink (DURABILITY={os.environ.get('DURABILITY', 'memory')})", f"{drain['rate']:,} msg/s", f"{drain['seconds']} s"))
        if limit:
            rows += [("ratio ingestd / mosquitto_sub", f"{result['ratio']:.2f}", "goal >= 0.67"),
                     ("ratio ingestd / ceiling", f"{result['ratio_to_ceiling']:.2f}", "share of what the broker delivers")]
        mosq_share = f", {drain['cpu_us_per_message'] / limit['cpu_us_per_message']:.2f}x mosquitto_sub's" if limit else ""
        rows += [
            ("ingestd CPU per message", f"{drain['cpu_us_per_message']} µs", f"{drain['cpu_seconds_per_million']} s per million{mosq_share}"),
            ("ingestd peak RSS", f"{drain['peak_rss_mb']} MB", "goal <= 64 MB"),
            ("batches (drain)", f"{drain['batches']}", f"batch size {BATCH_SIZE}, largest {drain['max_batch_lines']} lines"),
            ("broker / sink CPU per message (drain)", f"{drain['broker_cpu_us_per_message']} / {drain['sink_cpu_us_per_message']} µs",
             "sharing the cores with ingestd"),
        ]
    if baseline:
        rows.append((f"baseline {BASELINE_REV}: same drain", f"{baseline['rate']:,} msg/s",
                     f"{baseline['cpu_us_per_message']} µs CPU/msg, peak RSS {baseline['peak_rss_mb']} MB; "
                     f"this build: {drain['rate'] / baseline['rate']:.2f}x the rate, "
                     f"{drain['cpu_us_per_message'] / baseline['cpu_us_per_message']:.2f}x the CPU"))
    if mosquitto:
        share = f", ratio {mosquitto['rate'] / limit['rate']:.2f}" if limit else ""
        rows.append(("same drain, MQTT_CLIENT=libmosquitto", f"{mosquitto['rate']:,} msg/s",
                     f"{mosquitto['cpu_us_per_message']} µs CPU/msg{share}"))
    for part in durability:
        goal = ", goal >= 0.9 for broker to be the default" if part["durability"] == "broker" else ""
        rows.append((f"same drain, DURABILITY={part['durability']}", f"{part['rate']:,} msg/s",
                     f"{part['cpu_us_per_message']} µs CPU/msg, {part['rate'] / drain['rate']:.2f}x the drain (memory), "
                     f"peak RSS {part['peak_rss_mb']} MB{goal}"))
    if mapped and drain:
        rows.append(("mapped drain (zigbee2mqtt rule, no registry)", f"{mapped['rate']:,} msg/s",
                     f"{mapped['cpu_us_per_message']} µs CPU/msg, {mapped['rate'] / drain['rate']:.2f}x the drain, goal >= 0.9"))
    if live:
        rows.append((f"live {LIVE_RATE}/s p50 / p99 / max", f"{live['p50']:.1f} / {live['p99']:.1f} / {live['max']:.1f} ms",
                     f"goal p99 <= {FLUSH_MS + 100} ms"))
    real = [(influx, "", "")] if influx else []
    for i, part in enumerate(capped["runs"] if capped else []):
        real.append((part, f", influxd at {INFLUXD_CPU_SHARE:g} core, pair {i + 1}", ""))
    for part, label, goal in real:
        d = part["direct_post"]
        rows.append((f"ingestd drain -> real influxd{label}", f"{part['rate']:,} msg/s",
                     f"{part['seconds']} s, {part['batches']} batches, largest {part['max_batch_lines']} lines, "
                     f"concurrency {part['max_in_flight']}; CPU µs/msg: ingestd {part['cpu_us_per_message']}, "
                     f"broker {part['broker_cpu_us_per_message']}, proxy {part['sink_cpu_us_per_message']}, "
                     f"influxd {part.get('influxd_cpu_us_per_line')}"
                     + (f"; influxd busy {part['influxd_busy']:.2f} of its share" if "influxd_busy" in part else "")))
        rows.append((f"same requests POSTed straight to influxd{label}", f"{d['rate']:,} lines/s",
                     f"{d['connections']} connections, influxd {d.get('influxd_cpu_us_per_line')} µs CPU/line; "
                     f"ingestd {part['rate'] / d['rate']:.2f}x{goal}"))
    if capped:
        rows.append((f"ingestd / direct POST, influxd at {INFLUXD_CPU_SHARE:g} core", f"{capped['median_ratio']:.2f}x median",
                     f"pairs {', '.join(f'{r:.2f}x' for r in capped['ratios'])} (goal >= 0.9)"))
        rows.append((f"influxd busy during ingestd's drains, at {INFLUXD_CPU_SHARE:g} core", f"{capped['median_influxd_busy']:.2f} median",
                     f"{', '.join(f'{b:.2f}' for b in capped['influxd_busy'])} of its CPU share (1 = InfluxDB the bottleneck throughout)"))
    rows += slow_rows("drain", slow, SLOW_N, {100: 0.8, 1000: 0.5})
    rows += slow_rows(f"{TENANTS} tenants", tenants, TENANTS_N, {1000: 0.25})
    if backlog:
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
                       *((f"influx-capped-{i}", p) for i, p in enumerate(capped["runs"] if capped else [])),
                       ("drain-mapped", mapped), *((f"slow-{p['delay_ms']}", p) for p in slow),
                       *((f"tenants-{p['delay_ms']}", p) for p in tenants)):
        if part and (part["lines_acked"] < part["messages"] or part["ingestd_rejected"] != 0):
            raise SystemExit(f"{name}: not every message arrived ({part})")


if __name__ == "__main__":
    main()
