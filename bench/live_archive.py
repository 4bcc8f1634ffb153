"""The live-archive benchmark on ../shared/benchmarks/bbc-news (2,225 articles), real model.

    .venv/bin/python bench/live_archive.py [--bbc PATH] [--baseline-rev REV] [--subset 300]

Steps, each printing its figures (and all of them as JSON at the end, also in bench/out/):

1. ingest throughput: ``qa index`` of the whole archive, in characters a second; and, on the same
   ``--subset`` of articles (flattened into one folder, as the previous release reads no
   subfolders), this release against ``--baseline-rev`` run from a git worktree in the same run;
2. a real ``qa serve`` on 127.0.0.1 over that store: start to healthy, RSS;
3. ``/ask`` p50/p95 for top_k 5 and 50 against the bare floor measured in the same run (query
   embedding plus the FAISS search alone, in this process, same model and vectors);
4. adding one article to the full archive: POST latency, and time from the write returning to
   the article being the first answer to a question about it (p50, p95);
5. 20 reader threads asking questions plus one writer adding articles for ``--mixed-seconds``:
   errors, read p50/p95 during writes, writes done.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "Who won the general election?",
    "What did the chancellor say about the economy?",
    "Which film won best picture at the Oscars?",
    "How much profit did the bank report?",
    "Who was appointed as the new England coach?",
    "What new mobile phone was launched?",
    "Why did the company shares fall?",
    "What did the prime minister say about Iraq?",
    "Which team won the Six Nations match?",
    "How many jobs will be cut?",
    "What is the new broadband speed?",
    "Who is the new chief executive?",
    "What did the report say about video games?",
    "How much did oil prices rise?",
    "Which band topped the music charts?",
    "Who won the Australian Open?",
    "What happened to the dollar against the euro?",
    "What are the plans for ID cards?",
    "Which album won the award?",
    "What virus attacked computers?",
]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def corpus_chars(folder: Path) -> tuple[int, int]:
    from qa.ingest.corpus import read_corpus

    read = read_corpus(folder)
    return len(read.articles), sum(len(a.text) for a in read.articles)


def flat_subset(bbc: Path, n: int, target: Path) -> Path:
    """``n`` UTF-8 articles spread over the topics, copied into one folder."""
    files = sorted(p for p in bbc.rglob("*.txt") if p.name.lower() != "readme.txt")
    good = []
    for p in files:
        try:
            p.read_text(encoding="utf-8")
            good.append(p)
        except UnicodeDecodeError:
            continue
    step = max(1, len(good) // n)
    target.mkdir(parents=True)
    for p in good[::step][:n]:
        shutil.copy(p, target / f"{p.parent.name}_{p.name}")
    return target


def timed_index(python: str, cwd: Path, corpus: Path, index_dir: Path, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(
        [python, "-m", "api.cli", "index", "--corpus", str(corpus), "--index-dir", str(index_dir)],
        cwd=cwd,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def step_ingest(args: argparse.Namespace, work: Path, env: dict) -> dict:
    out: dict = {}
    subset = flat_subset(args.bbc, args.subset, work / "subset")
    n_sub, chars_sub = corpus_chars(subset)
    worktree = work / "baseline"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(worktree), args.baseline_rev],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        print(f"[ingest] {n_sub} articles, {chars_sub:,} chars: baseline {args.baseline_rev}...")
        base_s = timed_index(sys.executable, worktree, subset, work / "idx-base", env)
        print(f"[ingest] baseline {base_s:.1f} s = {chars_sub / base_s:,.0f} chars/s")
        new_s = timed_index(sys.executable, ROOT, subset, work / "idx-sub", env)
        print(f"[ingest] this release {new_s:.1f} s = {chars_sub / new_s:,.0f} chars/s")
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, capture_output=True
        )
    out["subset"] = {
        "articles": n_sub,
        "chars": chars_sub,
        "baseline_s": round(base_s, 1),
        "baseline_chars_per_s": round(chars_sub / base_s),
        "new_s": round(new_s, 1),
        "new_chars_per_s": round(chars_sub / new_s),
        "speedup": round(base_s / new_s, 2),
    }
    n_all, chars_all = corpus_chars(args.bbc)
    print(f"[ingest] full archive: {n_all} articles, {chars_all:,} chars...")
    full_s = timed_index(sys.executable, ROOT, args.bbc, args.index_dir, env)
    out["full"] = {
        "articles": n_all,
        "chars": chars_all,
        "seconds": round(full_s, 1),
        "chars_per_s": round(chars_all / full_s),
    }
    print(f"[ingest] full archive {full_s:.1f} s = {chars_all / full_s:,.0f} chars/s")
    return out


def start_server(args: argparse.Namespace, env: dict, port: int) -> tuple[subprocess.Popen, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--corpus",
            str(args.bbc),
            "--index-dir",
            str(args.index_dir),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(args.out / "server.log", "w"),  # noqa: SIM115
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}: see {args.out}/server.log")
        time.sleep(0.02)
    proc.kill()
    raise SystemExit("server did not become healthy in 120 s")


def cold_questions() -> list[str]:
    """Questions the server has never been asked, about many different articles: the BBC news
    questions of ``eval/`` (dev and test, 90), so their candidates are mostly not in any cache."""
    out = []
    for name in ("news_dev.jsonl", "news_test.jsonl"):
        with (ROOT / "eval" / name).open(encoding="utf-8") as f:
            out += [json.loads(line)["question"] for line in f if line.strip()]
    return out


class LeanClient:
    """One keep-alive HTTP/1.1 connection, JSON in and the body's bytes out, parsing no more of
    the reply than its status and length: what the server's answer costs, with as little of a
    Python client's own work as can be (httpx runs the reply through h11, its models and
    decoders: 0.8-1.5 ms of a 44 KB reply at top_k 50 here)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = self._connect()

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def post(self, path: str, payload: dict) -> bytes:
        try:
            return self._post(path, payload)
        except ConnectionError:  # the server closed an idle connection (keep-alive timeout)
            self.sock.close()
            self.sock = self._connect()
            return self._post(path, payload)

    def _post(self, path: str, payload: dict) -> bytes:
        body = json.dumps(payload).encode()
        self.sock.sendall(
            f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        data = b""
        while b"\r\n\r\n" not in data:
            data += self._recv()
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in lines
            if line.lower().startswith(b"content-length:")
        )
        while len(rest) < length:
            rest += self._recv()
        if int(lines[0].split()[1]) != 200:
            raise RuntimeError(f"{path}: {lines[0]!r} {rest[:200]!r}")
        return rest

    def _recv(self) -> bytes:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionResetError("the server closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


def step_latency(base: str, args: argparse.Namespace) -> dict:
    """/ask over HTTP against the floor: the same model and vectors, embedding + FAISS only;
    and ``QAEngine.ask`` in this process, to show what HTTP adds.

    Two passes per top_k: "cold", each of 45 news questions asked once (half of them for each
    top_k, so no question and few candidates repeat), then "warm", the 20 benchmark questions
    over ``--rounds`` rounds (their candidates come back, as a popular story's do).

    Each question goes over HTTP twice, as a different text (other trailing white space, so
    embedded again): with httpx, and with ``LeanClient``, which shows what the server itself
    adds (its answers' ``took_ms`` is the engine's share)."""
    from qa.config import Settings
    from qa.engine import QAEngine

    engine = QAEngine.open(Settings(index_dir=args.index_dir, watch=False))
    engine.live.start_lexical(wait=True)  # as the server has it
    engine.sentences.start_warming(wait=True)
    cold = cold_questions()
    halves = {5: cold[::2], 50: cold[1::2]}
    out: dict = {}
    raw = LeanClient(args.port)
    with httpx.Client(base_url=base, timeout=60) as client:
        client.get("/health").raise_for_status()
        # What any request costs over HTTP here, client included: GET /health (a count query)
        rtt = []
        for _ in range(100):
            t0 = time.perf_counter()
            client.get("/health").raise_for_status()
            rtt.append((time.perf_counter() - t0) * 1000)
        out["health_p50_ms"] = round(pct(rtt, 50), 2)
        print(f"[ask] GET /health p50 {out['health_p50_ms']} ms")
        for top_k in (5, 50):
            passes = {
                "cold": halves[top_k],
                "warm": [
                    distinct(q, round_, top_k) for round_ in range(args.rounds) for q in QUESTIONS
                ],
            }
            for name, questions in passes.items():
                floor, asked, inproc, lean, took = [], [], [], [], []
                # In blocks of up to 20 questions: the floor, then /ask over HTTP (two
                # clients), then the same in this process. Interleaving the three question by
                # question had the benchmark's own model and engine evict the server's caches
                # between its requests (it added ~1 ms to every HTTP ask); blocks keep them
                # close in time all the same.
                for start in range(0, len(questions), 20):
                    block = questions[start : start + 20]
                    for text in block:
                        t0 = time.perf_counter()
                        vector = engine.embedder.embed([text])[0]
                        engine.live.dense.search(vector, top_k)
                        floor.append((time.perf_counter() - t0) * 1000)

                    # The first client to ask a question finds its candidates uncached in the
                    # server (cold pass), the second cached: each goes first for every other one.
                    for i, text in enumerate(block):
                        for which in ("httpx", "lean")[:: 1 if i % 2 == 0 else -1]:
                            t0 = time.perf_counter()
                            if which == "httpx":
                                r = client.post(
                                    "/ask", json={"question": text + " ", "top_k": top_k}
                                )
                                asked.append((time.perf_counter() - t0) * 1000)
                                r.raise_for_status()
                            else:  # a client that does next to nothing
                                body = raw.post("/ask", {"question": text + "\n", "top_k": top_k})
                                lean.append((time.perf_counter() - t0) * 1000)
                                took.append(json.loads(body)["took_ms"])
                    for text in block:  # the same work without HTTP, in this process
                        t0 = time.perf_counter()
                        engine.ask(text + "  ", top_k)
                        inproc.append((time.perf_counter() - t0) * 1000)
                row = {
                    "questions": len(questions),
                    "floor_p50_ms": round(pct(floor, 50), 2),
                    "ask_p50_ms": round(pct(asked, 50), 2),
                    "ask_p95_ms": round(pct(asked, 95), 2),
                    "ratio_p50": round(pct(asked, 50) / pct(floor, 50), 2),
                    "lean_client_p50_ms": round(pct(lean, 50), 2),
                    "lean_client_ratio_p50": round(pct(lean, 50) / pct(floor, 50), 2),
                    "server_took_p50_ms": round(pct(took, 50), 2),
                    "in_process_p50_ms": round(pct(inproc, 50), 2),
                    "in_process_ratio_p50": round(pct(inproc, 50) / pct(floor, 50), 2),
                    # the floor as served: the same work plus one HTTP round trip
                    "http_floor_ratio_p50": round(
                        pct(asked, 50) / (pct(floor, 50) + out["health_p50_ms"]), 2
                    ),
                }
                out[f"top_k_{top_k}" if name == "warm" else f"top_k_{top_k}_cold"] = row
                print(f"[ask] top_k {top_k} {name}: {row}")
    raw.close()
    engine.store.close()
    return out


def distinct(question: str, round_: int, top_k: int) -> str:
    """``question`` as a text not asked before in this run, so that it is embedded again (no
    query-vector cache hit), with the same words: only trailing whitespace differs, which the
    tokenizer and the search terms ignore. (A visible suffix such as "(3-50)" added search terms
    and made every question name a number.)"""
    return question + " " * (round_ + 1) + "\t" * (2 if top_k == 50 else 1)


def article(i: int, tag: str) -> dict:
    word = f"zorblax{tag}{i}"
    return {
        "id": f"bench-{tag}-{i}",
        "title": f"Inventor unveils the {word} engine",
        "text": (
            f"Inventor unveils the {word} engine\n\n"
            f"A small company in Leeds has unveiled the {word}, an engine that runs on seawater. "
            f"Its founder said the {word} would go on sale next spring for 400 pounds. "
            "Engineers who tested it were impressed by how quiet it was."
        ),
        "source": "Bench News",
        "published": "2026-11-23",
    }


def step_add_one(base: str, args: argparse.Namespace) -> dict:
    post, visible = [], []
    with httpx.Client(base_url=base, timeout=60) as client:
        for i in range(args.adds):
            doc = article(i, "one")
            t0 = time.perf_counter()
            client.post("/documents", json=doc).raise_for_status()
            t1 = time.perf_counter()
            post.append((t1 - t0) * 1000)
            word = f"zorblaxone{i}"
            while True:
                r = client.post(
                    "/ask", json={"question": f"What does the {word} engine run on?", "top_k": 5}
                )
                answers = r.json()["answers"]
                if answers and answers[0]["doc_id"] == doc["id"]:
                    break
                if time.perf_counter() - t1 > 30:
                    raise SystemExit(f"{doc['id']} not answerable 30 s after its write")
            visible.append((time.perf_counter() - t1) * 1000)
    out = {
        "post_p50_ms": round(pct(post, 50), 1),
        "post_p95_ms": round(pct(post, 95), 1),
        "write_to_answer_p50_ms": round(pct(visible, 50), 1),
        "write_to_answer_p95_ms": round(pct(visible, 95), 1),
    }
    print(f"[add one] {out}")
    return out


def step_mixed(base: str, args: argparse.Namespace) -> dict:
    stop = time.monotonic() + args.mixed_seconds
    reads: list[float] = []
    errors: list[str] = []
    writes = [0]
    lock = threading.Lock()

    def reader(n: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            i = 0
            while time.monotonic() < stop:
                q = QUESTIONS[(n + i) % len(QUESTIONS)]
                t0 = time.perf_counter()
                try:
                    r = client.post("/ask", json={"question": f"{q} {n}.{i}", "top_k": 5})
                    if r.status_code != 200:
                        errors.append(f"read {r.status_code}")
                except httpx.HTTPError as exc:
                    errors.append(f"read {exc!r}")
                with lock:
                    reads.append((time.perf_counter() - t0) * 1000)
                i += 1

    def writer() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            i = 0
            while time.monotonic() < stop:
                try:
                    r = client.post("/documents", json=article(i, "mixed"))
                    if r.status_code != 201:
                        errors.append(f"write {r.status_code}")
                    else:
                        writes[0] += 1
                except httpx.HTTPError as exc:
                    errors.append(f"write {exc!r}")
                i += 1

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(20)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = {
        "seconds": args.mixed_seconds,
        "readers": 20,
        "reads": len(reads),
        "writes": writes[0],
        "errors": len(errors),
        "first_errors": errors[:5],
        "read_p50_ms": round(pct(reads, 50), 1),
        "read_p95_ms": round(pct(reads, 95), 1),
    }
    print(f"[mixed] {out}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bbc", type=Path, default=ROOT.parent / "shared/benchmarks/bbc-news/bbc")
    parser.add_argument("--baseline-rev", default="b209d41", help="previous release to compare")
    parser.add_argument("--subset", type=int, default=300, help="articles in the A/B ingest")
    parser.add_argument("--skip-ingest", action="store_true", help="reuse --index-dir as it is")
    parser.add_argument("--index-dir", type=Path, default=ROOT / "bench/out/bbc-index")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the 20 questions")
    parser.add_argument("--adds", type=int, default=20)
    parser.add_argument("--mixed-seconds", type=float, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--only-ask", action="store_true", help="with --skip-ingest: the /ask latency step alone"
    )
    args = parser.parse_args()
    if not args.bbc.is_dir():  # from a worktree elsewhere the default is not there
        parser.error(f"--bbc {args.bbc} is not a folder: give the BBC archive's bbc/ folder")
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QA_WATCH": "true"}
    results: dict = {"machine": f"{os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d")}
    if not args.skip_ingest:
        shutil.rmtree(args.index_dir, ignore_errors=True)
        with tempfile.TemporaryDirectory() as tmp:
            results["ingest"] = step_ingest(args, Path(tmp), env)
    proc, startup = start_server(args, env, args.port)
    try:
        results["startup_to_healthy_s"] = round(startup, 2)
        print(f"[serve] start to healthy {startup:.2f} s")
        base = f"http://127.0.0.1:{args.port}"
        # It answers from here on; the in-memory BM25 and the prepared articles follow in the
        # background. Measure the rest once they are ready, as a server runs most of its life.
        t0 = time.perf_counter()
        while (health := httpx.get(f"{base}/health").json())["warming"]:
            time.sleep(0.05)
        results["warm_after_healthy_s"] = round(time.perf_counter() - t0, 2)
        results["prepared_articles"] = health["prepared_articles"]
        print(
            f"[serve] background preparation done {results['warm_after_healthy_s']} s later "
            f"({health['prepared_articles']} articles, lexical index: {health['lexical_index']})"
        )
        results["archive"] = {"documents": health["documents"], "passages": health["passages"]}
        results["rss_mb_idle"] = round(rss_mb(proc.pid), 1)
        results["ask"] = step_latency(base, args)
        if not args.only_ask:
            results["add_one"] = step_add_one(base, args)
            results["mixed"] = step_mixed(base, args)
        results["rss_mb_after"] = round(rss_mb(proc.pid), 1)
        print(f"[serve] RSS idle {results['rss_mb_idle']} MB, after {results['rss_mb_after']} MB")
        with httpx.Client(base_url=base, timeout=60) as client:  # leave the archive as it was
            for doc in client.get("/documents", params={"limit": 10000}).json():
                if doc["doc_id"].startswith("bench-"):
                    client.delete(f"/documents/{doc['doc_id']}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    print(json.dumps(results, indent=2))
    name = "live_archive_ask.json" if args.only_ask else "live_archive.json"
    (args.out / name).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
