#!/usr/bin/env python3
"""Writes the packaged /etc/default/ingestd: every setting, commented out with its default.

    env_template.py DEFAULTS README.md > ingestd.default

DEFAULTS is the output of `ingestd check-config --defaults` (the names and defaults from the code);
the sections and the meaning of each setting come from README.md's "Settings" table (the contract).
A setting the code has and the table lacks, or the other way round, is an error: the file cannot
drift from either.
"""
import re
import sys

HEADER = """\
# /etc/default/ingestd: ingestd's settings, read by systemd (EnvironmentFile= in ingestd.service).
# One VAR=value per line: no quotes, no `export`. An empty value counts as unset (the default).
# Every setting is listed below, commented out, with its default; uncomment and change what you need,
# then `systemctl restart ingestd`. A bad value stops ingestd with one line naming it (exit 78):
#   sudo sh -c 'set -a; . /etc/default/ingestd; REGISTRY_FILE=/etc/ingestd/devices.json ingestd check-config'
# The unit sets SPOOL_DIR=/var/lib/ingestd/spool, HEALTH_LISTEN=127.0.0.1:9464 and
# REGISTRY_FILE=/etc/ingestd/devices.json itself (`systemctl edit ingestd` to change them).
# Mode 0640: this file holds secrets (INFLUXDB_TOKEN, MQTT_PASSWORD, PG_PASS, ...).
# Reference: `man ingestd`, and README.md ("Settings") at the project's home.
"""


def read_defaults(path):
    defaults = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line:
                continue
            name, _, value = line.partition("=")
            defaults[name] = value
    return defaults


def plain(markdown):
    """README cell text as a comment: links become their text, escaped pipes plain pipes."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", markdown)
    return text.replace("\\|", "|").strip()


def read_table(path):
    """The rows of README's Settings table: ("section", title) or ("setting", [names], meaning)."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    start = lines.index("## Settings")
    rows = []
    in_table = False
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        if not line.startswith("|"):
            if in_table and line.strip():
                break
            continue
        in_table = True
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) < 3 or cells[0] in ("variable",) or set(cells[0]) <= set("-: "):
            continue
        if cells[0].startswith("**"):
            rows.append(("section", plain(cells[0].strip("*").replace("**", ""))))
            continue
        names = re.findall(r"`([A-Z0-9_]+)`", cells[0])
        rows.append(("setting", names, plain(cells[2])))
    return rows


def main():
    defaults = read_defaults(sys.argv[1])
    rows = read_table(sys.argv[2])
    documented = [name for row in rows if row[0] == "setting" for name in row[1]]
    missing = [name for name in defaults if name not in documented]
    unknown = [name for name in documented if name not in defaults]
    if missing or unknown:
        if missing:
            print(f"env_template: settings without a row in README's Settings table: {', '.join(missing)}", file=sys.stderr)
        if unknown:
            print(f"env_template: README's Settings table names settings the code does not read: {', '.join(unknown)}", file=sys.stderr)
        sys.exit(1)
    out = [HEADER]
    for row in rows:
        if row[0] == "section":
            out.append(f"\n# --- {row[1]} " + "-" * max(3, 96 - len(row[1]) - 7))
            continue
        _, names, meaning = row
        out.append(f"# {meaning}")
        for name in names:
            out.append(f"#{name}={defaults[name]}")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
