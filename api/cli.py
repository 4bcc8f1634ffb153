"""The `qa` command line: index, ask, serve, eval. Errors: one line and a non-zero exit."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from qa.config import Mode, Settings
from qa.errors import IndexStateError, ModelError, QAError

app = typer.Typer(
    help="Extractive question answering over news articles: verbatim, cited passages only.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

CorpusOpt = Annotated[
    Path | None,
    typer.Option(
        "--corpus",
        envvar="QA_CORPUS",
        help="folder of .txt/.md/.jsonl articles, or one file [default: seeds/]",
    ),
]
IndexDirOpt = Annotated[
    Path | None,
    typer.Option("--index-dir", envvar="QA_INDEX_DIR", help="index folder [default: .qa-index/]"),
]


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"qa: error: {message}", err=True)
    raise typer.Exit(code)


def exit_code(exc: QAError) -> int:
    return 1 if isinstance(exc, ModelError | IndexStateError) else 2


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
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        fail(f"bad setting {where}: {first['msg']}")


def _run(fn: Any) -> Any:
    try:
        return fn()
    except QAError as exc:
        fail(str(exc), exit_code(exc))


@app.command()
def index(
    corpus: CorpusOpt = None,
    index_dir: IndexDirOpt = None,
    force: Annotated[bool, typer.Option("--force", help="rebuild even if nothing changed")] = False,
) -> None:
    """Index the corpus (skipped when the corpus, model and chunking are unchanged)."""
    from qa.engine import ensure_index, load_embedder

    settings = make_settings(corpus, index_dir)

    def build() -> None:
        embedder = load_embedder(settings)
        manifest, built = ensure_index(settings, embedder, force=force, progress=True)
        verb = "indexed" if built else "up to date:"
        typer.echo(
            f"{verb} {manifest.n_documents} documents, {manifest.n_passages} passages "
            f"in {settings.index_dir} (model {manifest.model_id})"
        )

    _run(build)


def _print_human(result: Any) -> None:
    if result.abstained:
        typer.echo(f"No answer in these articles (best evidence {result.evidence:.2f}).")
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
        typer.echo(
            f"   [{short}:{answer.highlight.start}-{answer.highlight.end}] {answer.article.source}"
            f"  passage {p.span.start}-{p.span.end}  score {hit.score:.4f}"
        )
        for line in marked.splitlines():
            typer.echo(f"   > {line}")
        typer.echo("")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=50, help="answers at most")] = 5,
    mode: Annotated[str, typer.Option("--mode", help="hybrid, dense or bm25")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="print the /ask JSON response")] = False,
    corpus: CorpusOpt = None,
    index_dir: IndexDirOpt = None,
) -> None:
    """Answer QUESTION with verbatim passages and citations (indexes first if needed)."""
    if mode not in ("hybrid", "dense", "bm25"):
        fail(f"--mode must be hybrid, dense or bm25, not {mode!r}")
    if not question.strip():
        fail("question must not be empty")
    from api.schemas import AskResponse
    from qa.engine import QAEngine

    settings = make_settings(corpus, index_dir)

    def run() -> None:
        engine = QAEngine.open(settings, progress=True)
        m: Mode = mode  # type: ignore[assignment]
        result = engine.ask(question, top_k, m)
        if as_json:
            typer.echo(AskResponse.of(result).model_dump_json(indent=2))
        else:
            _print_human(result)

    _run(run)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to bind [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="port [default: 8000]")] = None,
    corpus: CorpusOpt = None,
    index_dir: IndexDirOpt = None,
) -> None:
    """Index if needed, then serve the HTTP API (and the web page) with uvicorn."""
    import uvicorn

    from api.app import create_app
    from qa.engine import QAEngine

    settings = make_settings(corpus, index_dir, host=host, port=port)
    engine = _run(lambda: QAEngine.open(settings, progress=True))
    uvicorn.run(create_app(settings, engine), host=settings.host, port=settings.port)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    app()


if __name__ == "__main__":
    main()
