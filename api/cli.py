"""The `qa` command line: index, ask, serve, eval. Errors: one line and a non-zero exit."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from qa.config import Mode, Settings
from qa.errors import IndexStateError, InvalidInputError, ModelError, QAError, StorageError

app = typer.Typer(
    help="Extractive question answering over news articles: verbatim, cited passages only.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _path(value: str) -> Path | str:
    """A path option or argument as written: an empty one is kept as "" for ``_not_empty``
    (Path("") would be the current folder)."""
    return Path(value) if value.strip() else ""


def _not_empty(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
    """Refuse an empty path: `qa index --corpus ""` indexed the current folder, and deleted
    every article of the real corpus."""
    for v in value if isinstance(value, list) else [value]:
        if isinstance(v, str):
            name = param.opts[0] if param.opts and param.opts[0].startswith("-") else "PATH"
            fail(f"{name} is empty, which would mean the current folder: give a path")
    return value


CorpusOpt = Annotated[
    Path | None,
    typer.Option(
        "--corpus",
        parser=_path,
        callback=_not_empty,
        envvar="QA_CORPUS",
        help="folder of .txt/.md/.jsonl articles, or one file [default: seeds/]",
    ),
]
IndexDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--index-dir",
        envvar="QA_INDEX_DIR",
        parser=_path,
        callback=_not_empty,
        help="index folder [default: .qa-index/]",
    ),
]


FILTER_OPTIONS = {
    "source": "--source",
    "doc_ids": "--doc-id",
    "published_after": "--published-after",
    "published_before": "--published-before",
}
"""``qa ask``'s option for each field of ``Filters`` (whose messages name the API's field)"""


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"qa: error: {message}", err=True)
    raise typer.Exit(code)


def exit_code(exc: QAError) -> int:
    return 1 if isinstance(exc, ModelError | IndexStateError | StorageError) else 2


def make_settings(corpus: Path | None, index_dir: Path | None, **overrides: Any) -> Settings:
    values = {
        k: v
        for k, v in {"corpus": corpus, "index_dir": index_dir, **overrides}.items()
        if v is not None
    }
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")  # a validator's words alone
        field = ".".join(str(p) for p in first["loc"])
        # a value given on the command line is named as its option; any other came from the
        # environment (or .env), where the user wrote QA_<FIELD>
        where = f"--{field.replace('_', '-')}" if field in values else f"QA_{field.upper()}"
        if not field:
            fail(f"bad settings: {message}")
        # a validator's message that names its variable itself ("QA_HOST is set but empty")
        # stands alone, whether the value came from the environment or through an option's
        # envvar (--index-dir reads QA_INDEX_DIR)
        variable = f"QA_{field.upper()} "
        if field in values and message.startswith(f"{variable}is set but "):
            # typed on the command line (`qa serve --host ""`): the option, not the variable
            message = f"{where} is {message.removeprefix(f'{variable}is set but ')}"
        named = message.startswith((f"{where} ", variable))
        fail(message if named else f"bad setting {where}: {message}")


def _run(fn: Any) -> Any:
    try:
        return fn()
    except QAError as exc:
        fail(str(exc), exit_code(exc))
    except OSError as exc:  # unwritable index folder, full disk, port in use...
        fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc), 1)
    except sqlite3.DatabaseError as exc:  # one the store did not name: a line, not a traceback
        fail(f"the store failed: {exc}", 1)


def _load_model(settings: Settings) -> Any:
    from qa.engine import load_embedder

    return load_embedder(settings)


def _open_engine(settings: Settings, embedder: Any = None) -> Any:
    from qa.engine import QAEngine

    return QAEngine.open(settings, embedder, rebuild=True)


def _say(message: str) -> None:
    typer.echo(f"qa: {message}", err=True)


@contextlib.contextmanager
def _writing(settings: Settings) -> Iterator[None]:
    """The index folder's writer lock, for a whole command; waits, saying for whom."""
    from qa.store.writer_lock import WriterLock

    with WriterLock(settings.index_dir).hold(on_wait=_say):
        yield


def _open_checked(settings: Settings) -> Any:
    """Open the store for `qa index`, repairing whatever LiveIndex.problems() finds (see
    qa/store/checkup.py): no --force needed, nothing deleted that the service did not write.
    Damage to derived data (dense or lexical index) is repaired in place, without the model; only
    damage to the tables of record sets the store aside."""
    from qa.store import checkup
    from qa.store.sync import sync_folder

    engine, problems = _open_and_check(settings)
    if not problems:
        return engine
    found = "; ".join(problems)
    if engine is not None and all(checkup.in_derived_data(p) for p in problems):
        _say(f"repairing {settings.index_dir}: {found}: rebuilding it from the store (no model)")
        try:
            checkup.repair_derived(engine.live, problems)
        except (sqlite3.DatabaseError, IndexStateError) as exc:
            if isinstance(exc, sqlite3.DatabaseError):
                _check_refusal(exc, settings)
            found += f"; repairing it failed: {exc}"
        else:
            engine, problems = _check(engine, settings)
            if not problems:
                return engine
            found = "; ".join(problems)
    if engine is not None:
        engine.store.close()
    aside = checkup.set_aside(settings.index_dir)
    salvaged = checkup.salvage_articles(aside)
    files = checkup.salvage_files(aside)
    _say(
        f"the store in {settings.index_dir} is damaged ({found}): moved it to {aside.name}; "
        f"building a new one from the corpus and the {len(salvaged)} articles still readable in it"
    )
    engine = _open_engine(settings)
    if salvaged:
        engine.add(salvaged, replace=True, progress=True)
    # after the articles: a direct write takes its ids from the files' claims
    lost = checkup.restore_files(engine.store, files)
    if lost and settings.corpus.exists():
        # their files are unchanged, so only a forced read finds them; it reads only the ids the
        # files still claim, so what was deleted directly stays deleted
        _say(f"reading the corpus again for {len(lost)} unreadable articles of unchanged files")
        sync_folder(engine, settings.corpus, force=True, progress=True)
    return engine


def _open_and_check(settings: Settings) -> tuple[Any, list[str]]:
    """The engine (None if it cannot be opened) and the problems found in its index folder."""
    from qa.store.writer_lock import IndexBusyError

    try:
        engine = _open_engine(settings)
    except IndexBusyError:
        raise
    except sqlite3.DatabaseError as exc:
        _check_refusal(exc, settings)
        return None, [str(exc)]
    except IndexStateError as exc:
        return None, [str(exc)]
    return _check(engine, settings)


def _check(engine: Any, settings: Settings) -> tuple[Any, list[str]]:
    from qa.store import checkup

    try:
        return engine, engine.live.problems() + checkup.lexical_problems(engine.store)
    except sqlite3.DatabaseError as exc:
        _check_refusal(exc, settings)
        return engine, [str(exc)]
    except IndexStateError as exc:
        return engine, [str(exc)]


def _check_refusal(exc: sqlite3.DatabaseError, settings: Settings) -> None:
    """Raise a disk's refusal as one: a full disk is no damage, never set a good store aside."""
    from qa.store.db import disk_refused, storage_error

    if disk_refused(exc):
        raise storage_error(exc, settings.index_dir) from exc


@app.command()
def index(
    corpus: CorpusOpt = None,
    index_dir: IndexDirOpt = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="read every file again, not only changed ones (and take a corpus folder now "
            "on another disk as it is)",
        ),
    ] = False,
) -> None:
    """Bring the store up to date with the corpus folder: only new or changed articles are
    embedded, and articles whose files are gone are removed."""
    from qa.store.sync import sync_folder

    settings = make_settings(corpus, index_dir)

    def build() -> None:
        if not settings.corpus.exists():
            fail(f"corpus {settings.corpus} does not exist")
        with _writing(settings):
            engine = _open_checked(settings)
            try:
                report = sync_folder(
                    engine, settings.corpus, force=force, progress=True, other_disk_ok=force
                )
                n_documents, n_passages = engine.counts()
                # past EXACT_LIMIT passages (or back under): the snapshot it leaves is IVF
                if (reason := engine.live.dense.outgrown()) is not None:
                    typer.echo(f"{reason}: rebuilding the dense index (no model call)", err=True)
                    engine.live.regrow()
            finally:
                engine.close()
        if report.other_disk:
            raise typer.Exit(1)  # the sync's warning has said why, and what to do
        if report.changed:
            what = report.summary() + ";"
        else:  # what was skipped is counted whether or not anything changed
            what = (
                f"up to date ({len(report.skipped)} skipped):" if report.skipped else "up to date:"
            )
        typer.echo(
            f"{what} the store in {settings.index_dir} holds {n_documents} "
            f"documents, {n_passages} passages (model {engine.embedder.model_id})"
        )

    _run(build)


@app.command()
def add(
    paths: Annotated[
        list[Path],
        typer.Argument(parser=_path, callback=_not_empty, help="article files or folders to add"),
    ],
    index_dir: IndexDirOpt = None,
) -> None:
    """Add (or replace) the articles in PATHS; unchanged ones are left alone."""
    from qa.ingest.corpus import keep_first, read_corpus

    settings = make_settings(None, index_dir)

    def run() -> None:
        articles, skipped = [], []
        seen: dict[str, str] = {}  # one id in two paths: the first wins, as in a folder
        for path in paths:
            if not path.exists():
                fail(f"{path} does not exist")
            read = keep_first(read_corpus(path), seen)
            articles += read.articles
            skipped += read.skipped
        if not articles:
            fail("no articles to add")
        embedder = _load_model(settings)  # before the lock: a server's writes wait less
        with _writing(settings):
            engine = _open_engine(settings, embedder)
            try:
                result = engine.add(articles, replace=True, progress=True)
            finally:
                engine.close()
        typer.echo(
            f"{len(result.added)} added, {len(result.replaced)} replaced, "
            f"{len(result.unchanged)} unchanged, {len(skipped)} skipped"
        )

    _run(run)


@app.command()
def delete(
    doc_ids: Annotated[list[str], typer.Argument(help="ids of the documents to delete")],
    index_dir: IndexDirOpt = None,
) -> None:
    """Delete documents by id (all or none: an unknown id changes nothing)."""
    settings = make_settings(None, index_dir)

    def run() -> None:
        embedder = _load_model(settings)  # before the lock: a server's writes wait less
        with _writing(settings):
            engine = _open_engine(settings, embedder)
            try:
                result = engine.delete(doc_ids)
            finally:
                engine.close()
        typer.echo(f"{len(result.deleted)} deleted")

    _run(run)


def _print_human(result: Any) -> None:
    if result.abstained:
        if result.abstention == "no_match":
            typer.echo("No answer in these articles (no passage matches the question and filters).")
            return
        typer.echo(
            f"No answer in these articles (best passage's confidence {result.confidence:.4f}, "
            f"below {result.min_confidence:g})."
        )
        return
    for answer in result.answers:
        hit = answer.hit
        p = hit.passage
        before = answer.article.text[p.span.start : answer.highlight.start]
        after = answer.article.text[answer.highlight.end : p.span.end]
        # «» mark the cited highlight even where the terminal shows no bold (pipes, logs)
        quote = typer.style(f"«{answer.highlight_text}»", bold=True)
        marked = before + quote + after
        doc = answer.article.doc_id
        short = doc if len(doc) <= 12 else doc[:12] + "…"
        typer.echo(f"{answer.rank}. {answer.article.title}")
        a = answer.article
        where = " · ".join(str(x) for x in (a.source, a.published, a.author, a.origin) if x)
        typer.echo(
            f"   [{short}:{answer.highlight.start}-{answer.highlight.end}] {where}"
            f"  passage {p.span.start}-{p.span.end}  confidence {answer.confidence:.2f}"
        )
        for line in marked.splitlines():
            typer.echo(f"   > {line}")
        typer.echo("")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    top_k: Annotated[
        int | None,
        typer.Option("--top-k", "-k", min=1, max=50, help="answers at most [default: QA_TOP_K, 5]"),
    ] = None,
    mode: Annotated[
        str | None, typer.Option("--mode", help="hybrid, dense or bm25 [default: QA_MODE, hybrid]")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the /ask JSON response")] = False,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="only articles from this outlet (repeat)")
    ] = None,
    published_after: Annotated[
        str | None, typer.Option(help="only articles published on or after this ISO date")
    ] = None,
    published_before: Annotated[
        str | None, typer.Option(help="only articles published on or before this ISO date")
    ] = None,
    doc_id: Annotated[
        list[str] | None, typer.Option("--doc-id", help="only this article (repeat)")
    ] = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help="abstain below this confidence [default: the ranker's]"
        ),
    ] = None,
    corpus: CorpusOpt = None,
    index_dir: IndexDirOpt = None,
) -> None:
    """Answer QUESTION with verbatim passages and citations (indexes the corpus on first use)."""
    if mode is not None and mode not in ("hybrid", "dense", "bm25"):
        fail(f"--mode must be hybrid, dense or bm25, not {mode!r}")
    if not question.strip():
        fail("question must not be empty")
    from api.schemas import AskResponse
    from qa.search.filters import Filters
    from qa.store.sync import sync_folder

    settings = make_settings(corpus, index_dir)

    def run() -> None:
        try:
            filters = Filters(
                sources=tuple(source) if source else None,
                published_after=published_after,
                published_before=published_before,
                doc_ids=tuple(doc_id) if doc_id else None,
            )
        except InvalidInputError as exc:  # named as the option the user typed, not the API field
            name = str(exc.field[-1]) if exc.field else ""
            flag = FILTER_OPTIONS.get(name)
            fail(f"{flag}{str(exc).removeprefix(name)}" if flag else str(exc))
        engine = _open_engine(settings)
        if engine.counts()[0] == 0:  # first use: index the corpus folder
            if not settings.corpus.exists():
                fail(f"corpus {settings.corpus} does not exist")
            sync_folder(engine, settings.corpus, progress=True)  # skipped files are logged
        elif corpus is not None and (other := engine.store.synced_elsewhere(corpus)):
            # the answers come from the store as it is: say that it is another folder's
            _say(
                f"the store in {settings.index_dir} was synced from {other}, not {corpus}: "
                f"`qa index --corpus {corpus}` syncs it"
            )
        m: Mode | None = mode  # type: ignore[assignment]
        result = engine.ask(
            question,
            top_k,
            m,
            filters=None if filters.empty else filters,
            min_confidence=min_confidence,
        )
        if as_json:
            typer.echo(AskResponse.of(result).model_dump_json(indent=2))
        else:
            _print_human(result)

    _run(run)


def _repair_lexical_rows(engine: Any) -> None:
    """The lexical rows the server's BM25 is built from, counted against the passages (a few ms
    for 30,000; ``qa index`` checks them whole) and rebuilt from the stored text if they differ:
    damage there left articles BM25 never found, without a word."""
    from qa.store import checkup

    found = checkup.lexical_counts(engine.store)
    if found:
        _say(f"repairing {engine.store.folder}: {found[0]}: rebuilding them from the stored text")
        checkup.repair_lexical(engine.store)


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@contextlib.contextmanager
def _listening(host: str, port: int) -> Iterator[list[Any]]:
    """Sockets listening on every address ``host`` resolves to, made as uvicorn (asyncio's
    create_server) makes them, so that `qa serve` finds a port in use or an unknown host in one
    line before it opens the store or indexes anything; uvicorn then serves on them."""
    import socket

    sockets: list[socket.socket] = []
    try:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
            for family, kind, proto, _, address in dict.fromkeys(found):
                sock = socket.socket(family, kind, proto)
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:  # else Linux takes IPv4 on it too, as asyncio says
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen()
        except OSError as exc:  # socket.gaierror for an unknown host is one too
            fail(f"cannot listen on {_where(host, port)} ({(exc.strerror or str(exc)).lower()})", 1)
        except UnicodeError as exc:  # a name the IDNA codec refuses (127.0.0..1, a 64-char label)
            fail(f"cannot listen on {_where(host, port)} (not a valid host name: {exc})", 1)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def _serve_on(sockets: list[Any], config: Any) -> None:
    """Run uvicorn on sockets bound beforehand. It logs where it listens only when it binds
    them itself, so that line is logged here, once the app has started."""
    import socket

    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                self._log_started_message(sockets or [])

        def handle_exit(self, sig: int, frame: Any) -> None:
            # uvicorn looks at should_exit only once the app has started, and the app's start
            # may be a long first sync of the corpus folder: it stops at its next batch
            service = getattr(getattr(self.config.app, "state", None), "service", None)
            if service is not None:
                service.interrupt()
            super().handle_exit(sig, frame)

    Server(config).run(sockets=sockets)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to bind [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="port [default: 8000]")] = None,
    corpus: CorpusOpt = None,
    index_dir: IndexDirOpt = None,
) -> None:
    """Serve the HTTP API (and the web page) with uvicorn; the corpus folder is indexed on first
    use and watched for changes while serving."""
    from api.app import create_app
    from api.limits import uvicorn_config

    settings = make_settings(corpus, index_dir, host=host, port=port)

    def open_for_serving() -> Any:
        try:
            with _writing(settings):  # opening may re-embed a store built otherwise
                engine = _open_engine(settings)
                _repair_lexical_rows(engine)
                return engine
        except sqlite3.DatabaseError as exc:
            _check_refusal(exc, settings)
            raise IndexStateError(f"the store in {settings.index_dir} is damaged ({exc})") from exc
        except IndexStateError as exc:
            raise IndexStateError(
                f"{exc}. `qa index` checks the index folder and repairs it (a damaged store is "
                "set aside, never deleted)"
            ) from exc

    with _listening(settings.host, settings.port) as sockets:
        engine = _run(open_for_serving)
        _serve_on(sockets, uvicorn_config(create_app(settings, engine), settings))


def _parse_ks(text: str) -> list[int]:
    try:
        ks = sorted({int(k) for k in text.split(",") if k.strip()})
    except ValueError:
        fail(f"--k must be a comma-separated list of integers, not {text!r}")
    if not ks or ks[0] < 1 or ks[-1] > 100:
        fail("--k values must be between 1 and 100")
    return ks


def _table(title: str, rows: dict[str, dict[str, float]]) -> str:
    names = list(next(iter(rows.values())))
    width = max(len(n) for n in names)
    lines = [title, f"{'metric':<{width}}  " + "  ".join(f"{m:>8}" for m in rows)]
    for name in names:
        cells = "  ".join(f"{rows[m][name]:>8.3f}" for m in rows)
        lines.append(f"{name:<{width}}  {cells}")
    return "\n".join(lines)


@app.command("eval")
def eval_command(
    dataset: Annotated[
        Path | None,
        typer.Option(
            parser=_path,
            callback=_not_empty,
            help="eval set JSONL [default: eval/seeds_eval.jsonl]",
        ),
    ] = None,
    mode: Annotated[str, typer.Option(help="dense, bm25, hybrid or all")] = "all",
    k: Annotated[str, typer.Option("--k", help="cut-offs for hit@k and recall@k")] = "1,3,5,10",
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    min_confidence: Annotated[
        float | None,
        typer.Option(
            help="abstain below this confidence [default: QA_MIN_CONFIDENCE, else the ranker's]"
        ),
    ] = None,
    answers: Annotated[
        str | None,
        typer.Option(
            help="answer-level eval of seeds, news or squad (first answer, highlight, confidence)"
        ),
    ] = None,
    part: Annotated[
        str, typer.Option(help="with --answers: test (never tuned on) or train")
    ] = "test",
    plot: Annotated[
        Path | None,
        typer.Option(
            parser=_path,
            callback=_not_empty,
            help="write a recall@k PNG here (with --answers: the reliability diagram), and "
            "PATH-abstention.png beside it where abstention is scored",
        ),
    ] = None,
    beir: Annotated[
        Path | None,
        typer.Option(
            parser=_path,
            callback=_not_empty,
            help="evaluate a BEIR-format dataset folder instead",
        ),
    ] = None,
    split: Annotated[str, typer.Option(help="BEIR qrels split")] = "test",
    passage_sentences: Annotated[
        int | None, typer.Option(help="override QA_PASSAGE_SENTENCES")
    ] = None,
    passage_overlap: Annotated[int | None, typer.Option(help="override QA_PASSAGE_OVERLAP")] = None,
    rrf_k: Annotated[float | None, typer.Option(help="override QA_RRF_K")] = None,
    dense_weight: Annotated[float | None, typer.Option(help="override QA_DENSE_WEIGHT")] = None,
    corpus: CorpusOpt = None,
    index_dir: IndexDirOpt = None,
) -> None:
    """Score retrieval on the seeds eval set (or a BEIR dataset with --beir)."""
    modes = ["dense", "bm25", "hybrid"] if mode == "all" else [mode]
    if any(m not in ("dense", "bm25", "hybrid") for m in modes):
        fail(f"--mode must be dense, bm25, hybrid or all, not {mode!r}")
    ks = _parse_ks(k)
    if plot is not None:
        _eval_check_plot(plot)
    overrides: dict[str, Any] = {
        "passage_sentences": passage_sentences,
        "passage_overlap": passage_overlap,
        "rrf_k": rrf_k,
        "dense_weight": dense_weight,
        "min_confidence": min_confidence,
    }
    if answers is not None:
        if answers not in ("seeds", "news", "squad") or part not in ("train", "test"):
            fail(
                "--answers must be seeds, news or squad and --part train or test, "
                f"not {answers!r}/{part!r}"
            )
        # each set has its own archive and the served settings: these options would be ignored
        given = {
            "--corpus": corpus,
            "--dataset": dataset,
            "--beir": beir,
            "--passage-sentences": passage_sentences,
            "--passage-overlap": passage_overlap,
            "--rrf-k": rrf_k,
            "--dense-weight": dense_weight,
        }
        if ignored := [name for name, value in given.items() if value is not None]:
            fail(f"{', '.join(ignored)} cannot be used with --answers (each set has its archive)")
        threshold = make_settings(None, None, min_confidence=min_confidence).min_confidence
        # the sets' archives are indexed under --index-dir, else in .qa-beir beside the code
        _run(lambda: _eval_answers(answers, part, threshold, plot, as_json, index_dir))
        return
    if beir is not None:
        if index_dir is None:
            index_dir = Path(".qa-beir") / beir.resolve().name
        if passage_sentences is None:
            overrides["passage_sentences"] = BEIR_DEFAULT_SENTENCES
            overrides["passage_overlap"] = BEIR_DEFAULT_OVERLAP
    settings = make_settings(corpus, index_dir, **overrides)
    if beir is not None:
        _run(lambda: _eval_beir(settings, modes, beir, split, plot, as_json))
    else:
        _run(lambda: _eval_seeds(settings, modes, ks, dataset, plot, as_json))


# Whole documents: SciFact abstracts mostly fit MiniLM's 256-token window (see eval/RESULTS.md).
BEIR_DEFAULT_SENTENCES = 0
BEIR_DEFAULT_OVERLAP = 0


def _eval_check_plot(plot: Path) -> None:
    """A plot that cannot be written fails now, not after the evaluation it would show."""
    from eval.plot import check_plot_path

    try:
        check_plot_path(plot)
    except InvalidInputError as exc:
        fail(f"--plot {exc}")


def _eval_answers(
    name: str,
    part: str,
    min_confidence: float | None,
    plot: Path | None,
    as_json: bool,
    cache: Path | None,
) -> None:
    from eval.answers import evaluate_answers
    from eval.sets import CACHE, eval_set

    data, engine = eval_set(name, part, cache or CACHE)
    report = evaluate_answers(engine, data.questions, data.name, min_confidence=min_confidence)
    if plot:
        from eval.answers import reliability
        from eval.plot import plot_abstention, plot_reliability

        plot_reliability(
            {data.name: reliability(report.top_confidence, report.top_correct)},
            plot,
            f"{data.name}: ECE {report.metrics['ece']:.3f}",
        )
        steps = [i / 100 for i in range(0, 101, 2)]
        plot_abstention(
            report.sweep(steps),
            report.metrics["min_confidence"],
            plot.with_name(plot.stem + "-abstention.png"),
            f"{data.name}: abstention against min_confidence",
        )
    if as_json:
        typer.echo(json.dumps({"set": data.name, **report.metrics}, indent=2))
    else:
        typer.echo(
            _table(f"{data.name}: {len(data.questions)} questions", {"value": report.metrics})
        )


def _eval_seeds(
    settings: Settings,
    modes: list[str],
    ks: list[int],
    dataset: Path | None,
    plot: Path | None,
    as_json: bool,
) -> None:
    from eval import SEEDS_EVAL
    from eval.dataset import load_dataset, validate
    from eval.run import evaluate_seeds
    from qa.engine import QAEngine

    questions = load_dataset(dataset or SEEDS_EVAL)
    from qa.store.sync import sync_folder

    engine = QAEngine.open(settings, rebuild=True)
    sync_folder(engine, settings.corpus, progress=True)
    engine.live.start_lexical(wait=True)  # rank as a server does
    articles = {str(d["doc_id"]): engine.document(str(d["doc_id"])) for d in engine.documents()}
    problems = validate(questions, articles)
    if problems:
        raise InvalidInputError(f"eval set has {len(problems)} bad entries, first: {problems[0]}")
    reports = evaluate_seeds(engine, questions, modes, ks)  # type: ignore[arg-type]
    if plot:
        from eval.plot import plot_recall

        plot_recall(
            {r.mode: {k: r.metrics[f"recall@{k}"] for k in ks} for r in reports},
            plot,
            f"Seeds eval set: recall@k ({reports[0].n_answerable} answerable questions)",
        )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "dataset": str(dataset or SEEDS_EVAL),
                    "questions": reports[0].n_questions,
                    "answerable": reports[0].n_answerable,
                    "min_confidence": engine.min_confidence,
                    "modes": {r.mode: r.metrics for r in reports},
                },
                indent=2,
            )
        )
        return
    title = (
        f"{reports[0].n_questions} questions ({reports[0].n_answerable} answerable), "
        f"abstention below confidence {engine.min_confidence:.3f}"
    )
    typer.echo(_table(title, {r.mode: r.metrics for r in reports}))


def _eval_beir(
    settings: Settings,
    modes: list[str],
    beir: Path,
    split: str,
    plot: Path | None,
    as_json: bool,
) -> None:
    from eval.beir import load_beir, run_beir
    from qa.engine import QAEngine

    data = load_beir(beir, split)
    engine = QAEngine.open(settings, rebuild=True)
    engine.add(data.articles, replace=True, progress=True)  # only new or changed are embedded
    engine.live.start_lexical(wait=True)  # rank as a server does
    results = run_beir(engine, data, modes)  # type: ignore[arg-type]
    if plot:
        from eval.beir import RECALL_CUTOFFS
        from eval.plot import plot_recall

        plot_recall(
            {m: {k: r[f"recall@{k}"] for k in RECALL_CUTOFFS} for m, r in results.items()},
            plot,
            f"{data.name} {split}: recall@k ({len(data.queries)} queries)",
        )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "dataset": str(beir),
                    "split": split,
                    "queries": len(data.queries),
                    "chunking": dataclasses.asdict(settings.chunking()),
                    "rrf_k": settings.rrf_k,
                    "dense_weight": settings.dense_weight,
                    "modes": results,
                },
                indent=2,
            )
        )
        return
    typer.echo(
        _table(
            f"{data.name} {split}: {len(data.queries)} queries, {len(data.articles)} documents, "
            f"{settings.chunking()}",
            results,
        )
    )


def main() -> None:
    # Our own messages at INFO; libraries only when something is wrong (faiss, for one, logs
    # which CPU build it loaded at INFO).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for ours in ("qa", "api", "eval"):
        logging.getLogger(ours).setLevel(logging.INFO)
    app()


if __name__ == "__main__":
    main()
