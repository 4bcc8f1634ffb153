"""/ask over HTTP, this code against an earlier commit, side by side in one run.

Both are real ``qa serve`` processes on the same BBC index (built by ``bench/live_archive.py``),
asked the same questions by the same httpx client in alternating blocks of 20, so that the
machine's load falls on both alike. Each answer carries ``took_ms``, the engine's own time in
the server: latency minus ``took_ms`` is what HTTP, FastAPI and the JSON cost around it.

    .venv/bin/python bench/http_ab.py --rev 5ba31e0 --rounds 10
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_archive import QUESTIONS, ROOT, distinct, pct


def serve(cwd: Path, args: argparse.Namespace, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QA_WATCH": "false"}
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    command += ["--corpus", str(args.bbc), "--index-dir", str(args.index_dir)]
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    """Healthy, with the in-memory BM25 and the prepared articles ready."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: server exited with {proc.returncode}")
        try:
            if not httpx.get(f"{url}/health", timeout=2).json().get("warming", True):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url}: not ready in 180 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rev", default="5ba31e0", help="the earlier commit to compare with")
    parser.add_argument("--bbc", type=Path, default=ROOT.parent / "shared/benchmarks/bbc-news/bbc")
    parser.add_argument("--index-dir", type=Path, default=ROOT / "bench/out/bbc-index")
    parser.add_argument("--rounds", type=int, default=10, help="passes over the 20 questions")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out")
    args = parser.parse_args()
    if not (args.index_dir / "store.sqlite3").is_file():
        raise SystemExit(f"no index in {args.index_dir}: run bench/live_archive.py first")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        worktree = Path(tmp) / "earlier"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(worktree), args.rev],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        servers = {
            "earlier": (serve(worktree, args, 8771, args.out / "http_ab_earlier.log"), 8771),
            "this": (serve(ROOT, args, 8772, args.out / "http_ab_this.log"), 8772),
        }
        try:
            for proc, port in servers.values():
                wait_ready(f"http://127.0.0.1:{port}", proc)
            results = measure(args, {name: port for name, (_, port) in servers.items()})
        finally:
            for proc, _ in servers.values():
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(worktree)],
                cwd=ROOT,
                capture_output=True,
            )
    results["rev"] = args.rev
    print(json.dumps(results, indent=2))
    (args.out / "http_ab.json").write_text(json.dumps(results, indent=2))


def measure(args: argparse.Namespace, ports: dict[str, int]) -> dict:
    clients = {
        name: httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        for name, port in ports.items()
    }
    out: dict = {}
    for top_k in (5, 50):
        latency: dict[str, list[float]] = {name: [] for name in clients}
        took: dict[str, list[float]] = {name: [] for name in clients}
        for round_ in range(args.rounds):
            # the earlier code first in even rounds, this code first in odd ones
            order = list(clients) if round_ % 2 == 0 else list(reversed(clients))
            for name in order:
                for q in QUESTIONS:  # the same text for both, new to each in every round
                    text = distinct(q, round_, top_k)
                    t0 = time.perf_counter()
                    r = clients[name].post("/ask", json={"question": text, "top_k": top_k})
                    latency[name].append((time.perf_counter() - t0) * 1000)
                    r.raise_for_status()
                    took[name].append(r.json()["took_ms"])
        row = {
            name: {
                "p50_ms": round(pct(latency[name], 50), 2),
                "p95_ms": round(pct(latency[name], 95), 2),
                "engine_p50_ms": round(pct(took[name], 50), 2),
                "around_engine_p50_ms": round(
                    pct([a - b for a, b in zip(latency[name], took[name], strict=True)], 50), 2
                ),
            }
            for name in clients
        }
        row["this_over_earlier_p50"] = round(row["this"]["p50_ms"] / row["earlier"]["p50_ms"], 3)
        out[f"top_k_{top_k}"] = row
        print(f"[http a/b] top_k {top_k}: {row}")
    return out


if __name__ == "__main__":
    main()
