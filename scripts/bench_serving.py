#!/usr/bin/env python3
"""Serving under load, in one run on this machine (loopback only): goemo's `serve` with dynamic
batching, the same server with batching off (`--max-batch 1`), and the Python server a user would
build (scripts/serve_transformers.py: FastAPI, uvicorn, `transformers`), all on the same
checkpoint and 2 threads, each loaded by `loadgen` with C concurrent clients sending single
GoEmotions test texts. Installs FastAPI and uvicorn into .venv when missing. Prints a markdown
table.

    cargo build --release --example serve --example loadgen
    .venv/bin/python scripts/bench_serving.py runs/minilm-cpu/checkpoint [--concurrency 32] [--requests 3000]
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BIN = os.path.join(ROOT, "target", "release", "examples")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"no server on port {port} after {seconds} s")


def measure(command, port, args):
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(port)
        load = [os.path.join(BIN, "loadgen"), "--url", f"http://127.0.0.1:{port}/predict",
                "--texts", os.path.join(ROOT, "data", "goemotions", "test.tsv"),
                "--concurrency", str(args.concurrency), "--requests", str(args.requests),
                "--max-seconds", str(args.max_seconds)]
        # A short warm-up, then the measured run.
        subprocess.run(load[:-4] + ["--requests", "100", "--max-seconds", "30"], check=True, stdout=subprocess.DEVNULL)
        out = subprocess.run(load, check=True, capture_output=True, text=True).stdout
        return json.loads(out)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--max-seconds", type=float, default=120)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    try:
        import fastapi, uvicorn  # noqa: F401,E401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "fastapi", "uvicorn"], check=True)
    rows = []
    for name, extra in [("goemo, dynamic batching", ["--max-batch", "32"]), ("goemo, batching off", ["--max-batch", "1"])]:
        port = free_port()
        command = [os.path.join(BIN, "serve"), "--model", args.checkpoint, "--port", str(port),
                   "--threads", str(args.threads), "--max-queue", "100000"] + extra
        rows.append((name, measure(command, port, args)))
    port = free_port()
    command = [sys.executable, os.path.join(ROOT, "scripts", "serve_transformers.py"), args.checkpoint,
               "--port", str(port), "--threads", str(args.threads)]
    rows.append(("Python: FastAPI + uvicorn + transformers", measure(command, port, args)))
    python = rows[-1][1]["throughput_ok_per_s"]
    print(f"{args.concurrency} concurrent clients, {args.requests} single-text requests, {args.threads} threads\n")
    print("| server | requests/s | p50 ms | p95 ms | p99 ms | answers | x Python |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: |")
    for name, s in rows:
        answers = ", ".join(f"{k}: {v}" for k, v in s["by_status"].items())
        print(f"| {name} | {s['throughput_ok_per_s']:.1f} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['p99_ms']:.1f} "
              f"| {answers} | {s['throughput_ok_per_s'] / python:.2f}x |")


if __name__ == "__main__":
    main()
