#!/usr/bin/env python3
"""Execute DataFlow Lab notebooks headless on the tslab (TypeScript) kernel.

    .lab-env/venv/bin/python scripts/run_notebooks.py --out DIR [--timeout 600] NOTEBOOK...

(Any python3 works as the launcher: the script re-executes itself with <repo>/.lab-env/venv/bin/python,
which scripts/jupyter-env.sh creates.)

- Notebooks run one after the other, in the order given, each on a fresh `tslab` kernel whose
  working directory is the notebook's own folder and whose environment is this process's
  environment (notebook parameters come from environment variables).
- For each notebook the executed .ipynb and an HTML export (nbconvert HTMLExporter, "lab" template)
  are written to DIR, also for a failing notebook (executed up to the failing cell) so a person
  can look at it.
- A notebook FAILS when any cell has an `error` output, any `stderr` stream output, or an
  execute_reply whose status is not "ok", or on a cell timeout / dead kernel. tslab reports a
  thrown error as stderr text plus a bare status="error" reply (no `error` output), and it reports
  unhandled promise rejections and uncaught exceptions from timers as stderr text that often
  arrives after its cell has finished; nbclient would drop those, so this runner attributes them
  to the cell that produced them and also waits --settle seconds after the last cell for them.
- Execution stops at the first failure: later cells and later notebooks are not run.
- Prints one line per notebook, then a closing line `N passed, M failed` (", K skipped" appended
  when notebooks were not run), and writes DIR/summary.json.

Exit status: 0 all passed, 1 a notebook failed, 2 usage or setup error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import warnings
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The project-local Jupyter (scripts/jupyter-env.sh); the workshop image names its own with DATAFLOW_JUPYTER_VENV.
VENV = Path(os.environ.get("DATAFLOW_JUPYTER_VENV") or REPO_ROOT / ".lab-env" / "venv")
KERNEL_NAME = "tslab"
QUOTE_LINES = 8


def _die(msg: str, code: int = 2) -> None:
    print(f"run_notebooks: ERROR: {msg}", file=sys.stderr)
    sys.exit(code)


def _ensure_venv_python() -> None:
    """Re-execute with the project venv's python unless already running in it."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    venv_python = VENV / "bin" / "python"
    if not venv_python.exists():
        _die(f"no project Jupyter at {VENV}: run scripts/jupyter-env.sh")
    if os.environ.get("RUN_NOTEBOOKS_REEXEC") == "1":  # guard against a loop
        _die(f"{venv_python} does not report {VENV} as sys.prefix: run scripts/jupyter-env.sh")
    os.environ["RUN_NOTEBOOKS_REEXEC"] = "1"
    os.execv(str(venv_python), [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]])


_ensure_venv_python()
os.environ.pop("RUN_NOTEBOOKS_REEXEC", None)
# Same Jupyter environment as scripts/jupyter-env.sh and lab.sh: per-user Jupyter/IPython dirs inside
# .lab-env (kernel connection files included), and the venv's share/jupyter wins over them. (In the workshop
# image, DATAFLOW_JUPYTER_VENV: the user's own dirs, as for their server.)
if not os.environ.get("DATAFLOW_JUPYTER_VENV"):
    for _var, _sub in (("JUPYTER_CONFIG_DIR", "jupyter/config"), ("JUPYTER_DATA_DIR", "jupyter/data"),
                       ("JUPYTER_RUNTIME_DIR", "jupyter/runtime"), ("IPYTHONDIR", "ipython")):
        os.environ.setdefault(_var, str(REPO_ROOT / ".lab-env" / _sub))
os.environ["JUPYTER_PREFER_ENV_PATH"] = "1"

import nbformat  # noqa: E402
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from nbclient.exceptions import CellExecutionComplete, CellTimeoutError, DeadKernelError  # noqa: E402
from nbclient.util import ensure_async  # noqa: E402
from nbconvert import HTMLExporter  # noqa: E402


class CellFailure(Exception):
    def __init__(self, cell_index: int | None, kind: str, text: str) -> None:
        super().__init__(text)
        self.cell_index = cell_index
        self.kind = kind
        self.text = text


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _cell_problem(cell, reply_status: str | None) -> tuple[str, str] | None:
    """(kind, text) describing why this executed cell counts as failed, or None."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            tb = "\n".join(out.get("traceback") or []) or f"{out.get('ename')}: {out.get('evalue')}"
            return "error", tb
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            return "stderr", _text(out.get("text"))
    if reply_status not in (None, "ok"):
        return f"status={reply_status}", f"kernel replied status={reply_status!r} with no error output"
    return None


class TslabClient(NotebookClient):
    """NotebookClient that keeps late output of earlier cells instead of dropping it.

    nbclient reads IOPub only for the cell being executed; tslab writes unhandled-rejection and
    uncaught-exception reports (and any other late console output) under the parent header of the
    cell that was current when the callback was scheduled, often after that cell went idle.
    Such messages are appended to the cell they belong to, and make it fail when they are stderr.
    """

    settle = 0.5

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cell_of_msg: dict[str, int] = {}
        self._late_problem_cells: list[int] = []
        self._reply_status: str | None = None
        self.on_cell_executed = self._remember_reply

    def _remember_reply(self, cell, cell_index, execute_reply):
        self._reply_status = (execute_reply or {}).get("content", {}).get("status")

    def _take_stray(self, msg) -> None:
        cell_index = self._cell_of_msg.get(msg.get("parent_header", {}).get("msg_id"))
        if cell_index is None or msg["msg_type"] not in ("stream", "display_data", "error"):
            return
        cell = self.nb.cells[cell_index]
        cell.outputs.append(nbformat.v4.output_from_msg(msg))
        if msg["msg_type"] == "error" or msg["content"].get("name") == "stderr":
            self._late_problem_cells.append(cell_index)

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):  # nbclient 0.11 internals
        assert self.kc is not None
        self._cell_of_msg[parent_msg_id] = cell_index
        while True:
            msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=None))
            if msg["parent_header"].get("msg_id") == parent_msg_id:
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    return
            else:
                self._take_stray(msg)

    async def _drain(self, seconds: float) -> None:
        assert self.kc is not None
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=left))
            except Exception:  # queue.Empty
                return
            self._take_stray(msg)

    def _raise_if_failed(self, current: int | None) -> None:
        candidates = sorted(set(self._late_problem_cells) | ({current} if current is not None else set()))
        for index in candidates:
            problem = _cell_problem(self.nb.cells[index], self._reply_status if index == current else None)
            if problem:
                raise CellFailure(index, *problem)

    async def run(self) -> None:
        """Like NotebookClient.async_execute, but stops at the first failing cell."""
        self.reset_execution_trackers()
        async with self.async_setup_kernel():
            assert self.kc is not None
            info = await self.async_wait_for_reply(await ensure_async(self.kc.kernel_info()))
            if info is not None and "language_info" in info["content"]:
                self.nb.metadata["language_info"] = info["content"]["language_info"]
            try:
                for index, cell in enumerate(self.nb.cells):
                    if cell.cell_type != "code" or not cell.source.strip():
                        continue
                    self._reply_status = None
                    try:
                        await self.async_execute_cell(cell, index, execution_count=self.code_cells_executed + 1)
                    except CellTimeoutError as e:
                        raise CellFailure(index, "timeout", str(e)) from None
                    except DeadKernelError as e:
                        raise CellFailure(index, "dead kernel", str(e)) from None
                    self._raise_if_failed(index)
            finally:
                # Late output (e.g. an unhandled rejection) of the last cell that ran, or of the
                # cell that failed, arrives after its idle status: collect it before shutdown.
                await self._drain(self.settle)
            self._raise_if_failed(None)
        self.set_widgets_metadata()


def _quote(text: str) -> str:
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    shown = lines[:QUOTE_LINES]
    if len(lines) > QUOTE_LINES:
        shown.append(f"... ({len(lines) - QUOTE_LINES} more lines)")
    return "\n".join(f"    | {ln}" for ln in shown)


def _check_kernelspec() -> None:
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        _die(f"Jupyter kernel '{KERNEL_NAME}' is not registered in {sys.prefix}: run scripts/jupyter-env.sh")
    resource_dir = Path(spec.resource_dir).resolve()
    if Path(sys.prefix).resolve() not in resource_dir.parents:
        _die(f"kernel '{KERNEL_NAME}' resolves to {resource_dir}, outside {sys.prefix} "
             "(JUPYTER_PATH or a user kernelspec shadows it): run scripts/jupyter-env.sh")
    if not Path(spec.argv[0]).exists():
        _die(f"kernel '{KERNEL_NAME}' starts {spec.argv[0]}, which does not exist: "
             "run 'npm install' then scripts/jupyter-env.sh")


def _run_one(nb_path: Path, out_dir: Path, stem: str, args) -> dict:
    nb = nbformat.read(nb_path, as_version=4)
    code_cells = sum(1 for c in nb.cells if c.cell_type == "code" and c.source.strip())
    client = TslabClient(
        nb,
        kernel_name=KERNEL_NAME,
        timeout=args.timeout,
        startup_timeout=args.startup_timeout,
        allow_errors=True,  # failures are judged by this runner (tslab sends no `error` outputs)
        record_timing=True,
        resources={"metadata": {"path": str(nb_path.parent)}},
    )
    client.settle = args.settle
    failure: CellFailure | None = None
    started = time.monotonic()
    try:
        asyncio.run(client.run())
    except CellFailure as e:
        failure = e
    except Exception as e:  # kernel failed to start, protocol errors, ...
        failure = CellFailure(None, type(e).__name__, str(e) or repr(e))
    seconds = time.monotonic() - started

    ipynb_out = out_dir / f"{stem}.ipynb"
    html_out = out_dir / f"{stem}.html"
    nbformat.write(nb, ipynb_out)
    notes: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            html, _ = HTMLExporter(template_name="lab").from_notebook_node(
                nb, resources={"metadata": {"name": nb_path.stem, "path": str(nb_path.parent)}})
        html_out.write_text(html, encoding="utf-8")
        # e.g. a display_data holding only application/vnd.vegalite.v5+json: JupyterLab renders it,
        # nbconvert's HTML has no renderer for it (it needs a text/html or image fallback mime type).
        for w in caught:
            msg = str(w.message).replace("dict_keys(", "").replace("])", "]")
            if msg not in notes:
                notes.append(msg)
    except Exception as e:
        html_out = None
        if failure is None:
            failure = CellFailure(None, "html export", f"{type(e).__name__}: {e}")

    result = {
        "notebook": str(nb_path),
        "name": nb_path.name,
        "status": "failed" if failure else "passed",
        "cells": len(nb.cells),
        "code_cells": code_cells,
        "executed_cells": client.code_cells_executed,
        "seconds": round(seconds, 2),
        "ipynb": str(ipynb_out),
        "html": str(html_out) if html_out else None,
        "failure": None,
        "notes": notes,
    }
    if failure:
        cell = nb.cells[failure.cell_index] if failure.cell_index is not None else None
        result["failure"] = {
            "cell_index": failure.cell_index,
            "execution_count": cell.get("execution_count") if cell is not None else None,
            "kind": failure.kind,
            "message": failure.text,
        }
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="directory for executed .ipynb, .html and summary.json")
    ap.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds (default 600)")
    ap.add_argument("--startup-timeout", type=int, default=60, help="kernel start timeout in seconds (default 60)")
    ap.add_argument("--settle", type=float, default=0.5,
                    help="seconds to wait after the last cell for late async errors (default 0.5)")
    ap.add_argument("notebooks", nargs="+", type=Path, metavar="NOTEBOOK")
    args = ap.parse_args(argv)

    notebooks = [p.resolve() for p in args.notebooks]
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        _die("no such notebook: " + ", ".join(missing))
    _check_kernelspec()
    out_dir = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    from jupyter_core.paths import jupyter_runtime_dir

    Path(jupyter_runtime_dir()).mkdir(parents=True, exist_ok=True)

    stems: set[str] = set()
    results: list[dict] = []
    failed = False
    width = max(len(p.name) for p in notebooks)
    for nb_path in notebooks:
        stem = nb_path.stem
        n = 2
        while stem in stems:
            stem, n = f"{nb_path.stem}-{n}", n + 1
        stems.add(stem)
        shown = os.path.relpath(nb_path)
        if failed:
            results.append({"notebook": str(nb_path), "name": nb_path.name, "status": "skipped",
                            "reason": "not run after an earlier failure"})
            print(f"{nb_path.name:<{width}}  {'-':>9}  {'-':>8}  SKIPPED", flush=True)
            continue
        res = _run_one(nb_path, out_dir, stem, args)
        results.append(res)
        verdict = "OK" if res["status"] == "passed" else "FAILED"
        print(f"{nb_path.name:<{width}}  {res['cells']:>3} cells  {res['seconds']:>7.1f}s  {verdict}", flush=True)
        for note in res["notes"]:
            print(f"  note: {nb_path.name}: html export: {note}", file=sys.stderr, flush=True)
        if res["failure"]:
            failed = True
            f = res["failure"]
            if f["cell_index"] is None:
                where = "outside any cell"
            elif f["execution_count"] is None:
                where = f"cell {f['cell_index']} (0-based index; did not finish)"
            else:
                where = f"cell {f['cell_index']} (0-based index; In [{f['execution_count']}])"
            print(f"FAILED: {shown}: {where}: {f['kind']}:\n{_quote(f['message'])}\n"
                  f"  executed notebook: {res['ipynb']}\n  html: {res['html']}", file=sys.stderr, flush=True)

    counts = {s: sum(1 for r in results if r["status"] == s) for s in ("passed", "failed", "skipped")}
    summary = {"kernel": KERNEL_NAME, "timeout": args.timeout, **counts, "notebooks": results}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    closing = f"{counts['passed']} passed, {counts['failed']} failed"
    if counts["skipped"]:
        closing += f", {counts['skipped']} skipped"
    print(closing, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
