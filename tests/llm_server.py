"""A tiny OpenAI-compatible chat server on loopback for the LLM answerer's fast tests.

It answers POST /v1/chat/completions from a script: each request takes the next scripted reply (the last
one repeats), and every request (path, lower-cased headers, JSON body) is kept in `requests` so tests can read the prompt that was sent.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    """One scripted reply: `pieces` streamed as chat.completion.chunk events (`gap_s` seconds apart), or
    `status` with `body`, or a wait of `hang_s` seconds before anything is sent."""

    pieces: tuple[str, ...] = ()
    status: int = 200
    body: bytes = b""
    hang_s: float = 0.0
    gap_s: float = 0.0


def stream(*pieces: str) -> Reply:
    return Reply(pieces=pieces)


def chunk_event(piece: str) -> bytes:
    event = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "m",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": None}]}
    return f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        owner = self.server.owner
        owner.requests.append({"path": self.path, "body": body,
                               "headers": {k.lower(): v for k, v in self.headers.items()}})
        reply = owner.next_reply()
        if reply.hang_s and owner.released.wait(reply.hang_s):
            return
        if reply.status != 200 or reply.body:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json" if reply.status != 200 else "text/event-stream")
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in reply.pieces:
            if reply.gap_s and owner.released.wait(reply.gap_s):
                return
            self.wfile.write(chunk_event(piece))
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: ScriptedLLM


class ScriptedLLM:
    """Start with `with ScriptedLLM(stream("答案[1]。")) as llm:`; `llm.base_url` ends in /v1."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies) or [stream("")]
        self.requests: list[dict] = []
        self.released = threading.Event()  # set on stop, so hanging handlers end
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def next_reply(self) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def __enter__(self) -> ScriptedLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()


def closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was just bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def main(argv: list[str] | None = None) -> int:
    """Serve one scripted reply to every request until killed: the load test's stand-in for a slow model.

        python -m tests.llm_server [--reply TEXT] [--hang-s 1.0] [--gap-s 0.027]

    The reply is streamed one character per piece (about one token each for Chinese), `gap_s` apart, after
    `hang_s` of silence (the model reading the prompt). Prints the base URL on its first line.
    """
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=main.__doc__.split("\n\n")[0])
    parser.add_argument("--reply", default="财报显示，美图2023年总收入27亿元，同比增长29.3%[1]。"
                        "净利润3.7亿元，同比增长233.2%[1]。")
    parser.add_argument("--hang-s", type=float, default=1.0, help="silence before the first piece")
    parser.add_argument("--gap-s", type=float, default=0.027, help="seconds between pieces (37 tokens/s)")
    args = parser.parse_args(argv)
    llm = ScriptedLLM(Reply(pieces=tuple(args.reply), hang_s=args.hang_s, gap_s=args.gap_s))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with llm:
        print(llm.base_url, flush=True)
        try:
            done.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
