"""Helpers of the real-browser tests: a JupyterLab server with default settings and a Chromium page driving it.

Used by tests/test_browser.py. JupyterLab runs on 127.0.0.1 with fresh settings, workspace and config folders
(so nobody's own settings leak in: comms go over kernel subshells and cells off screen are windowed, JupyterLab's
defaults) and COURSE_FAST=1 in its environment, so the kernels it starts run the notebooks in fast mode.
Chromium is Debian's (`apt-get install chromium`), driven by Playwright from PyPI; `playwright install` (a
downloaded browser) is never needed.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOW_TO_ENABLE = ("real-browser tests skipped: no Chromium found; install it (Debian/Ubuntu: "
                 "sudo apt-get install chromium) or set COURSE_CHROMIUM=/path/to/chromium to run them")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: outputs that mean something went wrong (matched against the rendered text of each output)
TRACEBACK_MARKS = ("Traceback (most recent call last)", "Error in callback", "Error displaying widget",
                   "Error rendering output")


def find_chromium() -> str | None:
    """The Chromium executable: $COURSE_CHROMIUM, else Debian's /usr/bin/chromium, else one on the PATH."""
    candidates = [os.environ.get("COURSE_CHROMIUM", ""), "/usr/bin/chromium", "/usr/bin/chromium-browser",
                  shutil.which("chromium") or "", shutil.which("chromium-browser") or ""]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _utc(stamp: str) -> float:
    """An ISO time stamp of the server ('2026-12-02T07:29:12.102Z') as seconds since the epoch."""
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class Lab:
    """A JupyterLab server serving `workdir`/notebooks on 127.0.0.1, its output in `workdir`/server.log."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.notebooks = self.workdir / "notebooks"
        self.notebooks.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "server.log"
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> None:
        """Start the server (fast mode, default settings) and wait until its API answers."""
        fresh = {name: str(self.workdir / folder) for name, folder in [
            ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
            ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("JUPYTER_RUNTIME_DIR", "runtime")]}
        env = dict(os.environ, COURSE_FAST="1", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                   MPLBACKEND="module://matplotlib_inline.backend_inline", **fresh)
        env.pop("CI", None)  # notebooks never test CI; the kernel sees what a student's would
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.notebooks}",
               "--ServerApp.open_browser=False"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({self.process.returncode}):\n{self.log_text()[-3000:]}")
            try:
                self.api("/api/status")
                return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"JupyterLab did not answer within {timeout:.0f} s:\n{self.log_text()[-3000:]}")

    def stop(self) -> None:
        """Stop the server (and so its kernels)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.process is not None:
            self.log.close()

    def api(self, path: str, method: str = "GET"):
        """Call the server's REST API; returns the decoded JSON (or None)."""
        req = urllib.request.Request(self.url + path, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def log_text(self) -> str:
        """Everything the server (and the kernels it started) wrote so far."""
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def add_notebook(self, source: Path) -> str:
        """Copy a notebook into the served folder with its outputs and widget state cleared; returns its name."""
        import nbformat

        nb = nbformat.read(source, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nb.metadata.pop("widgets", None)
        nbformat.write(nb, self.notebooks / source.name)
        return source.name

    def session(self, name: str, timeout: float = 120) -> dict:
        """The session (with its kernel) that JupyterLab opened for notebook `name`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for s in self.api("/api/sessions"):
                if s.get("path", "").endswith(name) and s.get("kernel"):
                    return s
            time.sleep(0.5)
        raise TimeoutError(f"no kernel started for {name} within {timeout:.0f} s")

    def wait_idle(self, kernel_id: str, since: float, timeout: float, quiet: float = 3.0) -> float:
        """Wait until the kernel, as the server's /api/kernels sees it, has been idle for `quiet` s after `since`.

        (Not JupyterLab's toolbar indicator: it ignores widget traffic.) Returns the seconds waited.
        """
        start = time.time()
        while time.time() - start < timeout:
            k = self.api(f"/api/kernels/{kernel_id}")
            state, last = k["execution_state"], _utc(k["last_activity"])
            if state == "dead":
                raise RuntimeError(f"the kernel died:\n{self.log_text()[-3000:]}")
            if state == "idle" and last > since and time.time() - last > quiet:
                return time.time() - start
            time.sleep(0.5)
        raise TimeoutError(f"the kernel was still {state} after {timeout:.0f} s")

    def shutdown(self, session: dict) -> None:
        """Close a notebook's session and its kernel."""
        try:
            self.api(f"/api/sessions/{session['id']}", method="DELETE")
        except OSError:
            pass


def launch_chromium(playwright, user_data_dir: Path):
    """Debian's Chromium, headless, in a fresh profile (a persistent context in `user_data_dir`)."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=find_chromium(), headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": 1400, "height": 1000})


# ---------------------------------------------------------------- what the page shows
#: JavaScript: every problem visible in the notebook's outputs, as one line each
PROBLEMS_JS = """([root, marks]) => {
  const out = [];
  const rawWidget = /^(VBox|HBox|Box|Image|Output|HTML|IntSlider|FloatSlider|Dropdown|Play|interactive|IntProgress|FloatProgress|HBox|Label)\\(/;
  document.querySelector(root).querySelectorAll('.jp-Cell').forEach((cell, i) => {
    if (cell.classList.contains('jp-CodeCell')) {
      const prompt = cell.querySelector('.jp-InputPrompt');
      const t = prompt ? prompt.textContent.trim() : '';
      if (!/^\\[\\d+\\]:?$/.test(t)) out.push(`cell ${i}: not executed (prompt "${t}")`);
    }
    cell.querySelectorAll('.cu-interactive > .widget-html').forEach(e => {
      if (e.textContent.trim()) out.push(`cell ${i}: a widget shows an error: ${e.textContent.trim().slice(0, 300)}`);
    });
    if (cell.querySelectorAll('.cu-interactive').length > 1)
      out.push(`cell ${i}: a widget is shown twice (the cell's last line returns the box: assign it, widget = ...)`);
    cell.querySelectorAll('.jp-OutputArea-output').forEach(o => {
      const text = (o.textContent || '').trim();
      for (const m of marks) if (text.includes(m)) out.push(`cell ${i}: "${m}": ${text.slice(0, 400)}`);
      const mime = o.getAttribute('data-mime-type') || '';
      if (mime === 'application/vnd.jupyter.stderr' && /^\\s*\\w*(Error|Exception): /m.test(text))
        out.push(`cell ${i}: error on stderr: ${text.slice(0, 400)}`);
      if (mime === 'text/plain' && rawWidget.test(text)) out.push(`cell ${i}: a widget shown as text: ${text.slice(0, 120)}`);
      if (/^Loading widget/.test(text)) out.push(`cell ${i}: widget still loading`);
      o.querySelectorAll('img').forEach(img => {
        if (!img.complete || img.naturalWidth === 0) out.push(`cell ${i}: an image did not render (${(img.getAttribute('src') || 'no src').slice(0, 40)})`);
      });
    });
  });
  return out;
}"""

#: JavaScript: how many code cells are queued or running ("[*]")
QUEUED_JS = """(root) => Array.from(document.querySelector(root).querySelectorAll('.jp-CodeCell .jp-InputPrompt'))
  .filter(p => p.textContent.includes('*')).length"""

#: JavaScript: counts of what rendered
COUNTS_JS = """(root) => ({
  cells: document.querySelector(root).querySelectorAll('.jp-Cell').length,
  images: document.querySelector(root).querySelectorAll('.jp-OutputArea-output img').length,
  widgets: document.querySelector(root).querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length,
  interactive: document.querySelector(root).querySelectorAll('.cu-interactive').length,
  controls: document.querySelector(root).querySelectorAll('.jp-OutputArea-output :is(.widget-hslider, .widget-dropdown, .widget-checkbox, .widget-select-multiple, .widget-play, .widget-button, .widget-toggle-button, .widget-text)').length,
  stray: document.querySelector(root).querySelectorAll('.jp-OutputArea-output :is(.widget-hslider, .widget-dropdown, .widget-checkbox, .widget-select-multiple, .widget-play, .widget-button, .widget-toggle-button, .widget-text):not(.cu-interactive *)').length,
})"""

#: JavaScript: has the box finished redrawing (not busy) with a picture different from `old`?
REDRAWN_JS = """([box, old]) => {
  const img = box.querySelector(':scope > img');
  const err = box.querySelector(':scope > .widget-html');
  if (box.classList.contains('cu-busy')) return false;
  if (err && err.textContent.trim()) return true;
  return !!img && img.getAttribute('src') !== old && img.complete && img.naturalWidth > 0;
}"""

#: the notebook on screen (JupyterLab keeps other tabs in the page, hidden)
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
#: JavaScript: has the box shown a new picture (a Play button keeps it busy while it plays)?
NEW_PICTURE_JS = """([box, old]) => {
  const img = box.querySelector(':scope > img');
  return !!img && img.getAttribute('src') !== old && img.complete && img.naturalWidth > 0;
}"""
CONTROLS = ".widget-hslider, .widget-dropdown, .widget-checkbox, .widget-select-multiple, .widget-play, " \
           ".widget-button, .widget-toggle-button, .widget-text"


class NotebookPage:
    """One notebook open in JupyterLab in a Chromium page: Run All, checks, and moving its widgets."""

    def __init__(self, page, lab: Lab, name: str):
        self.page, self.lab, self.name = page, lab, name
        self.session: dict | None = None

    def open(self, timeout: float = 120) -> None:
        """Open the notebook and wait until its kernel has started and is idle."""
        workspace = Path(self.name).stem  # a fresh workspace per notebook: no other tab restored
        self.page.goto(f"{self.lab.url}/lab/workspaces/{workspace}/tree/{self.name}?reset&token={self.lab.token}")
        self.page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=timeout * 1000)
        self.session = self.lab.session(self.name, timeout)
        self.lab.wait_idle(self.session["kernel"]["id"], since=0, timeout=timeout, quiet=1.0)

    def command(self, menu: str, command: str) -> None:
        """Run a JupyterLab command from the menu bar, as a user would (e.g. 'Run' > 'Run All Cells')."""
        self.page.locator(".lm-MenuBar-item", has_text=menu).first.click()
        self.page.locator(f'.lm-Menu-item[data-command="{command}"]').first.click()

    def run_all(self, timeout: float) -> float:
        """Clear every output, Run All, and wait until it has finished; returns the seconds it took.

        Finished: the server's /api/kernels reports the kernel idle with no message for a few seconds, and no
        cell is queued or running ("[*]"). (Widget messages go to a kernel subshell whose "idle" can arrive
        while the main shell is still running a cell, so the kernel state alone is not enough.)
        """
        self.page.locator(f"{NOTEBOOK} .jp-Cell").first.click()  # focus the notebook
        self.command("Edit", "editmenu:clear-all")
        started = time.time()
        self.command("Run", "runmenu:run-all")
        while True:
            left = timeout - (time.time() - started)
            self.lab.wait_idle(self.session["kernel"]["id"], since=started, timeout=max(left, 1))
            if not self.page.evaluate(QUEUED_JS, NOTEBOOK):
                break
            if time.time() - started > timeout:
                raise TimeoutError(f"cells still queued or running after {timeout:.0f} s")
            time.sleep(1)
        self.page.wait_for_timeout(500)  # let the last outputs render
        return time.time() - started

    def problems(self) -> list[str]:
        """Tracebacks, unexecuted cells, images that did not render, widgets shown as text."""
        for cell in self.page.locator(f"{NOTEBOOK} .jp-Cell:has(.jp-OutputArea-output img)").all():
            cell.scroll_into_view_if_needed()  # cells off screen may not be drawn (windowing)
        return self.page.evaluate(PROBLEMS_JS, [NOTEBOOK, list(TRACEBACK_MARKS)])

    def counts(self) -> dict:
        """How many cells, images, widget views and interactive boxes the notebook shows."""
        return self.page.evaluate(COUNTS_JS, NOTEBOOK)

    def boxes(self):
        """The widget boxes made by course_utils.widgets.interactive."""
        return self.page.locator(f"{NOTEBOOK} .cu-interactive").all()

    def exercise(self, box, moves: int = 2, timeout: float = 60) -> tuple[list[tuple[str, float]], list[str]]:
        """Move or click every control of `box` `moves` times; returns ([(control, redraw seconds)], problems)."""
        times, problems = [], []
        box.scroll_into_view_if_needed()
        for control in box.locator(CONTROLS).all():
            label = _label(control)
            play, memo = "widget-play" in (control.get_attribute("class") or ""), {}
            for k in range(1 if play else moves):  # Play: press play once (it then advances by itself), then stop
                old = box.evaluate("b => { const i = b.querySelector(':scope > img'); "
                                   "return i ? i.getAttribute('src') : ''; }")
                start = time.perf_counter()
                try:
                    _act(control, k, memo)
                    done = NEW_PICTURE_JS if play else REDRAWN_JS
                    self.page.wait_for_function(done, arg=[box.element_handle(), old],
                                                timeout=timeout * 1000, polling=50)
                except Exception as err:  # noqa: BLE001 (report which control, keep testing the others)
                    problems.append(f"{label}: move {k + 1} did not redraw within {timeout:.0f} s "
                                    f"({type(err).__name__})")
                    break
                times.append((label, time.perf_counter() - start))
                error = (box.locator(":scope > .widget-html").text_content() or "").strip()
                if error:
                    problems.append(f"{label}: move {k + 1} shows an error: {error[:300]}")
            if play:
                _stop_play(control)
                self._wait_settled(box, timeout)
        return times, problems

    def _wait_settled(self, box, timeout: float) -> None:
        """Wait until the box is no longer redrawing and the kernel is idle."""
        self.page.wait_for_function("b => !b.classList.contains('cu-busy')", arg=box.element_handle(),
                                    timeout=timeout * 1000)
        self.lab.wait_idle(self.session["kernel"]["id"], since=0, timeout=timeout, quiet=1.0)


def _label(control) -> str:
    """A control's description (its label), or its kind."""
    text = control.locator(".widget-label").first
    name = (text.text_content() if text.count() else "").replace("\u200b", "").strip()
    name = name or (control.text_content() or "").replace("\u200b", "").strip()[:30]
    kind = next((k for k in ("hslider", "dropdown", "checkbox", "select-multiple", "play", "button", "text")
                 if f"widget-{k}" in (control.get_attribute("class") or "")), "control")
    return f"{name} ({kind})"


def _act(control, k: int, memo: dict) -> None:
    """Move a control, then (k odd) move it back: a slider one step, a dropdown to its next option and back, a
    checkbox ticked and unticked, a multiple selection with one option flipped; press a button or Play."""
    cls = control.get_attribute("class") or ""
    if "widget-hslider" in cls:
        handle = control.locator(".noUi-handle").first
        if k % 2 == 0:
            at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            memo["keys"] = ("ArrowLeft", "ArrowRight") if at_max else ("ArrowRight", "ArrowLeft")
        handle.focus()
        handle.press(memo["keys"][k % 2])
    elif "widget-dropdown" in cls:
        select = control.locator("select")
        if k % 2 == 0:
            memo["start"] = select.evaluate("s => s.selectedIndex")
            select.select_option(index=(memo["start"] + 1) % select.locator("option").count())
        else:
            select.select_option(index=memo["start"])
    elif "widget-select-multiple" in cls:
        select = control.locator("select")
        if k % 2 == 0:
            memo["start"] = select.evaluate("s => Array.from(s.options).filter(o => o.selected).map(o => o.index)")
            n = select.locator("option").count()
            flip = next(i for i in range(n) if {i} != set(memo["start"]))  # never an empty selection
            select.select_option(index=sorted(set(memo["start"]) ^ {flip}))
        else:
            select.select_option(index=memo["start"])
    elif "widget-checkbox" in cls:
        control.locator("input").click()
    elif "widget-play" in cls:
        control.locator("button").first.click()  # play: the value advances on its own
    elif "widget-text" in cls:
        box = control.locator("input")
        if k % 2 == 0:
            memo["start"] = box.input_value()
        box.fill(memo["start"] + "1" if k % 2 == 0 else memo["start"])
        box.press("Enter")
    else:
        control.click()


def _stop_play(control) -> None:
    """Press a Play widget's stop button (back to the start)."""
    control.locator("button:has(.fa-stop)").click()
