"""A recording reverse proxy: put it between Open WebUI and ``qa serve`` to capture the requests
Open WebUI really sends to ``/v1`` (the fixtures in tests/api/fixtures/openwebui/ came from it).

    python -m tests.openwebui.record --upstream http://127.0.0.1:8000 --port 8001 --out log.jsonl

Each request is appended to ``--out`` as one JSON line: method, path, body, upstream status.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "accept-encoding"}


def build(upstream: str, out: Path) -> Starlette:
    client = httpx.AsyncClient(base_url=upstream, timeout=60)

    async def proxy(request: Request) -> StreamingResponse:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream_request = client.build_request(
            request.method,
            request.url.path,
            params=request.query_params,
            headers=headers,
            content=body,
        )
        response = await client.send(upstream_request, stream=True)
        try:
            logged_body = json.loads(body) if body else None
        except ValueError:
            logged_body = body.decode("utf-8", "replace")
        with out.open("a", encoding="utf-8") as log:
            record = {
                "method": request.method,
                "path": request.url.path,
                "body": logged_body,
                "status": response.status_code,
            }
            log.write(json.dumps(record, ensure_ascii=False) + "\n")
        return StreamingResponse(
            response.aiter_raw(),
            status_code=response.status_code,
            headers={k: v for k, v in response.headers.items() if k.lower() not in HOP_BY_HOP},
            background=BackgroundTask(response.aclose),
        )

    methods = ["GET", "POST", "PUT", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", proxy, methods=methods)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    uvicorn.run(build(args.upstream, args.out), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
