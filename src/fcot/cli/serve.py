"""`fcot serve RUN_DIR`: expose a student (or any local causal LM) as an OpenAI-compatible endpoint."""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Any

import typer

from fcot.cli import app
from fcot.cli.common import AnswerTypeOption, Optional, PrecisionOption, ThreadsOption, err_console, quiet_libraries
from fcot.errors import ConfigError, ModelError, TaskNotFound
from fcot.models.completions import SERVE_BATCH


@app.command()
def serve(
    model: str = typer.Argument(..., help="`fcot train` run folder, `fcot export` output (run by llama.cpp / "
                                "onnxruntime, no torch), model folder, .gguf file, or the default student alias."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port, 0 to 65535 (0: any free port, printed at start)."),
    name: Optional[str] = typer.Option(None, "--name", help="Model id clients use (default: the folder or file name)."),
    max_batch: int = typer.Option(SERVE_BATCH, "--max-batch", min=1, help="Sequences decoded together: requests join the "
                                  "running batch between decoding steps (a GGUF export gives each an equal share of "
                                  "the key/value cache, printed at start; an ONNX export answers one at a time)."),
    device: Optional[str] = typer.Option(None, help="torch device (default: cuda if available, else cpu)."),
    precision: Optional[str] = PrecisionOption,
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="FCOT_API_KEY", show_default=False,
                                          help="Require 'Authorization: Bearer KEY' on every request."),
    task: Optional[str] = typer.Option(None, "--task", help="The run's task when fcot does not know its key: "
                                       "the task file (with --answer-type)."),
    answer_type: Optional[str] = AnswerTypeOption,
    threads: Optional[int] = ThreadsOption,
    calculator: Optional[bool] = typer.Option(None, "--calculator/--no-calculator", help="Write the result of each "
                                              "arithmetic expression a completion ends in `=` for the model (as fcot "
                                              "eval --calculator; default: on for a run curated with --calculator)."),
) -> None:
    """Serve MODEL on /v1/models, /v1/completions and /v1/chat/completions.

    Given a trained run or its export, chat questions are asked in the run's trained format and answered with
    rationale and answer; /v1/completions takes any prompt. Requests are decoded continuously batched (an ONNX
    export: one sequence at a time); an export runs in the precision it was written in.
    """
    sock = _listen(host, port)
    quiet_libraries()
    import uvicorn

    from fcot.models import read_run_info
    from fcot.serve import create_app

    info = read_run_info(model)  # a run folder's fcot.yaml, or what an export stores
    generator, student_task = load_served(model, device, precision, task, answer_type, threads, info)
    if calculator is None:
        calculator = info.calculator
    err_console.print(generator.precision_note() or generator.precision, highlight=False)
    api = create_app(generator, model_name=name, max_batch=max_batch, task=student_task, api_key=api_key,
                     calculator=calculator)
    share = api.state.batcher.context_length  # a GGUF export's sequences split the key/value cache
    if share < generator.context_length:
        err_console.print(f"{max_batch} sequences at once, of up to {share} tokens each "
                          "(fewer with --max-batch: longer)", highlight=False)
    about = f" ({student_task.task.key} questions, template {student_task.template})" if student_task else ""
    address = f"[{host}]" if ":" in host else host
    err_console.print(f"serving {name or generator.name}{about} at http://{address}:{sock.getsockname()[1]}/v1"
                      + ("; API key required" if api_key else ""), highlight=False, soft_wrap=True)
    server = uvicorn.Server(uvicorn.Config(api, log_level="warning"))
    server.run(sockets=[sock])


def load_served(model: str, device: str | None = None, precision: str | None = None, task: str | None = None,
                answer_type: str | None = None, threads: int | None = None, info: Any = None) -> tuple[Any, Any]:
    """(Completions, StudentTask or None) for MODEL: an fcot export through its edge runtime (no torch), else torch;
    `info` is MODEL's `read_run_info`, read here when not given."""
    from fcot.models import open_student, read_run_info

    info = info or read_run_info(model)
    student_task = _student_task(model, info, task, answer_type)
    if info.export is not None and (device or precision):
        raise ConfigError(f"--device/--precision: {model} is an export; it runs on the CPU in the precision it "
                          "was written in, so drop them")
    student = open_student(model, threads=threads, device=device, precision=precision or "auto")
    if student.model_type != "decoder":
        raise ModelError(f"{model}: an encoder-decoder model; fcot serve needs a causal LM")
    return student, student_task


def _listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port, or a ConfigError naming whichever of the two is wrong."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port}: out of range; use 0 to 65535 (0: any free port)")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"--host {host!r}: not an IP address or known host name ({exc.strerror or exc}); "
                          "use e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (all interfaces)") from exc
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by connections: no 40 ms ACK stalls
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise ConfigError(f"cannot listen on port {port} of {host} ({exc.strerror}); pick another --port") from exc
        raise ConfigError(f"--host {host}: cannot listen there ({exc.strerror}); use an address of this machine, "
                          "e.g. 127.0.0.1 or 0.0.0.0") from exc
    return sock


def _student_task(model: str, info: Any, task: str | None, answer_type: str | None) -> Any:
    """The StudentTask of a trained run (None for other models), with --task standing in for an unknown task."""
    from fcot.serve import StudentTask
    from fcot.tasks import resolve_task

    key = task or info.task
    if not key or not info.template:
        if task:
            raise ConfigError(f"--task needs a trained run: {model} has no fcot.yaml naming its template; "
                              "drop --task")
        return None
    try:
        found = resolve_task(key, answer_type)
    except TaskNotFound as exc:
        if task:
            raise
        raise ConfigError(f"{model}: trained on task {key!r}, which is not a built-in task; pass its file with "
                          "--task FILE --answer-type TYPE") from exc
    return StudentTask(found, info.template, info.stop_phrase)
