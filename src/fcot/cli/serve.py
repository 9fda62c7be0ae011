"""`fcot serve MODEL_DIR`: expose a local causal LM as an OpenAI-compatible endpoint."""

from __future__ import annotations

import socket

import typer

from fcot.cli import app
from fcot.cli.common import Optional, PrecisionOption, err_console
from fcot.errors import ConfigError


@app.command()
def serve(
    model: str = typer.Argument(..., help="Model folder, .gguf file, or the default student alias."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port (0: any free port, printed at start)."),
    name: Optional[str] = typer.Option(None, "--name", help="Model id clients use (default: the folder name)."),
    max_batch: int = typer.Option(8, "--max-batch", min=1, help="Requests generated together in one batch."),
    device: Optional[str] = typer.Option(None, help="torch device (default: cuda if available, else cpu)."),
    precision: Optional[str] = PrecisionOption,
) -> None:
    """Serve MODEL on /v1/models, /v1/completions and /v1/chat/completions."""
    import uvicorn

    from fcot.serve import create_app, load_generator

    generator = load_generator(model, device=device, precision=precision or "auto")
    err_console.print(str(generator.precision), highlight=False)
    api = create_app(generator, model_name=name, max_batch=max_batch)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by connections: no 40 ms ACK stalls
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port") from exc
    bound = sock.getsockname()[1]
    err_console.print(f"serving {name or generator.name} at http://{host}:{bound}/v1", highlight=False, soft_wrap=True)
    server = uvicorn.Server(uvicorn.Config(api, log_level="warning"))
    server.run(sockets=[sock])
