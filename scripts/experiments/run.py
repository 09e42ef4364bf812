#!/usr/bin/env python3
"""Runs the experiment pages as written: every ```console block of
docs/experiments.md, docs/experiments-failures.md and
docs/experiments-replication.md (or of the pages named), in order,
comparing what each command prints with what the page shows. CI runs it,
so the pages cannot drift from the code; the first page starts the
README's quick start, the last stops it.

Page format (the first page's last section says the same for readers):
  ```console                  commands typed in your shell: one bash that
                              lives through all pages (variables persist);
                              `$ ` starts a command (`> ` lines and a
                              trailing `\\` continue it), the
                              lines after it are its whole output (stdout
                              and stderr), which must exit 0
  ```console terminal=NAME    another terminal: `$ ` starts a long-running
                              command there, `^C` sends it SIGINT (to its
                              process group, as ctrl-c does) and then waits
                              for it to exit with a status in `exit=` (0);
                              the lines shown are waited for in order, each
                              one a whole line of that terminal's output
                              less a leading timestamp, others may come
                              between. A command that ends without ctrl-c
                              must exit 0, or 143 where the page killed it
  quickstart (in the info)    the block's commands must appear in README.md
  timeout=SECONDS             how long one command or line may take (120)
  exit=N[,N]                  the statuses a ctrl-c in the block may end
                              with; in a block without `$ ` or `^C`, the
                              running command is waited for after the lines
                              shown, and must end on its own with one of them
Every command runs with `set -o pipefail`: a pipeline fails when any part does.
Wildcards: `[..]` matches any text within a line; a line `...` any lines;
runs of spaces and tabs count as one space.

Builds first what the pages `cargo run` (`cargo build` with the same
options). At the end, or on any failure or signal, every command still
running gets SIGTERM and is waited for (SIGKILL after 90 s).
KEEP=1 keeps the logs (always kept after a failure).
"""
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import queue
import time

from pages import matches, parse, terminal_line

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PAGES = ["docs/experiments.md", "docs/experiments-failures.md", "docs/experiments-replication.md"]
MARK = "__experiment_step_done__"
# How a command that the page did not ctrl-c may end: by itself, or by a
# `kill` (SIGTERM) the page sent.
ENDED_ON_ITS_OWN = {0, 143, -signal.SIGTERM}
# What the pages' "You need" lists besides the quick start's toolchain.
TOOLS = ["curl", "jq", "lsof", "java"]


class Failure(Exception):
    """A step whose output is not what the page shows."""


class Shell:
    """The reader's shell: one bash for all the pages' plain blocks."""

    def __init__(self, logs):
        self.logs, self.count = logs, 0
        self.proc = subprocess.Popen(["bash", "--noprofile", "--norc", "-o", "pipefail"], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def run(self, command, timeout):
        self.count += 1
        script = os.path.join(self.logs, f"command-{self.count}.sh")
        with open(script, "w", encoding="utf-8") as f:
            f.write(command + "\n")
        self.proc.stdin.write(f"source {shlex.quote(script)} </dev/null 2>&1; printf '\\n{MARK} %s\\n' $?\n")
        self.proc.stdin.flush()
        out, deadline = [], time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise Failure(f"still running after {timeout}s; output so far:\n" + "".join(out))
            if line is None:
                raise Failure("the shell exited; output:\n" + "".join(out))
            if line.startswith(MARK):
                text = "".join(out)[:-1]  # the newline the mark's printf added
                return int(line.split()[1]), text.rstrip("\n").split("\n") if text.strip() else []
            out.append(line)

    def close(self):
        stop(self.proc)


class Terminal:
    """Another terminal: one long-running command at a time, its output in a file."""

    def __init__(self, name, logs):
        self.name, self.logs, self.proc, self.runs = name, logs, None, 0
        self.interrupted = self.ended_as_shown = False

    def check_ended(self):
        """A command that ended without ctrl-c must have ended well, or as
        the page said it would."""
        if self.proc is None or self.interrupted or self.ended_as_shown:
            return
        code = self.proc.poll()
        if code is not None and code not in ENDED_ON_ITS_OWN:
            tail = "\n".join(self.output()[-25:])
            raise Failure(f"terminal {self.name}: its command exited {code}; its last lines:\n{tail}")

    def start(self, command):
        if self.proc and self.proc.poll() is None:
            raise Failure(f"terminal {self.name} still runs its last command")
        self.check_ended()
        self.runs += 1
        self.interrupted = self.ended_as_shown = False
        self.log = os.path.join(self.logs, f"{self.name}-{self.runs}.log")
        self.cursor = 0
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(["bash", "-o", "pipefail", "-c", command], cwd=ROOT, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read().split("\n")

    def wait_for(self, expected, timeout):
        whole = terminal_line(expected)
        deadline = time.monotonic() + timeout
        while True:
            exited = self.proc.poll() is not None
            lines = self.output()
            complete = lines if exited else lines[:-1]  # the last one may be half-written
            for n in range(self.cursor, len(complete)):
                if whole(complete[n]):
                    self.cursor = n + 1
                    return
            if exited or time.monotonic() > deadline:
                why = f"exited ({self.proc.returncode})" if exited else f"not within {timeout}s"
                tail = "\n".join(lines[-25:])
                raise Failure(f"terminal {self.name}: no line like\n  {expected}\n{why}; its last lines:\n{tail}")
            time.sleep(0.2)

    def interrupt(self):
        self.interrupted = True
        os.killpg(self.proc.pid, signal.SIGINT)

    def wait_exit(self, timeout, statuses):
        after = "after ctrl-c" if self.interrupted else "on its own"
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"terminal {self.name}: still running {timeout}s {after}")
        if code not in statuses:
            tail = "\n".join(self.output()[-25:])
            raise Failure(f"terminal {self.name}: exited {code} {after}, not {statuses}; "
                          f"its last lines:\n{tail}")
        self.ended_as_shown = True


def stop(proc):
    """SIGTERM to the process group, then wait; SIGKILL after 90 s, more
    than local-broker.sh gives its JVMs before it kills them itself."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def prebuild(pages):
    """`cargo build` with the options of each `cargo run` on the pages, so that
    no step's timeout includes a build."""
    builds = set()
    for page in pages:
        for _, _, steps in parse(page):
            for kind, command, _ in steps:
                for found in re.finditer(r"cargo run((?: (?!--(?: |$))\S+)*)", command or ""):
                    builds.add(found.group(1).strip())
    for options in sorted(builds):
        print(f"== cargo build {options}", flush=True)
        subprocess.run(["cargo", "build", *options.split()], cwd=ROOT, check=True)


def check_readme(command):
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    if command not in readme:
        raise Failure(f"the quick start says `{command}`, README.md does not")


def run_page(page, shell, terminals, logs, tally):
    for start, options, steps in parse(page):
        timeout = float(options.get("timeout", 120))
        name = options.get("terminal")
        terminal = terminals.setdefault(name, Terminal(name, logs)) if name else None
        for kind, command, expected in steps:
            where = f"{page}:{start}"
            shown = command.split("\n")[0] if command else kind
            print(f"-- {where} {('[' + name + '] ') if name else ''}{shown}", flush=True)
            began = time.monotonic()
            if "quickstart" in options and command:
                check_readme(command)
            if terminal is None:
                rc, actual = shell.run(command, timeout)
                if rc != 0 or not matches(expected, actual):
                    raise Failure(f"{where}: `{command}` exited {rc}; expected:\n"
                                  + "\n".join(expected) + "\n-- got:\n" + "\n".join(actual))
                print("".join(f"   | {line}\n" for line in actual), end="")
            else:
                if kind == "$":
                    terminal.start(command)
                elif kind == "^C":
                    terminal.interrupt()
                for line in expected:
                    if line.strip() and line.strip() != "...":
                        terminal.wait_for(line, timeout)
                if kind == "^C" or (kind != "$" and "exit" in options):
                    statuses = {int(code) for code in options.get("exit", "0").split(",")}
                    terminal.wait_exit(timeout, statuses)
            tally[0] += 1
            print(f"   ok ({time.monotonic() - began:.1f}s)", flush=True)


def main():
    pages = [os.path.join(ROOT, p) for p in (sys.argv[1:] or PAGES)]
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if missing:
        print(f"the experiments need {', '.join(missing)} (docs/experiments.md, \"You need\")")
        return 1
    prebuild(pages)
    logs = tempfile.mkdtemp(prefix="experiments.")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    shell, terminals, tally, failed = Shell(logs), {}, [0], False
    try:
        for page in pages:
            print(f"== {os.path.relpath(page, ROOT)}", flush=True)
            run_page(page, shell, terminals, logs, tally)
        for terminal in terminals.values():
            terminal.check_ended()
    except (Failure, KeyboardInterrupt) as failure:
        failed = True
        print(f"FAILED: {failure}", file=sys.stderr, flush=True)
    finally:
        print("== stopping what still runs", flush=True)
        for terminal in reversed(list(terminals.values())):
            stop(terminal.proc)
        shell.close()
    if failed or os.environ.get("KEEP"):
        print(f"logs in {logs}", flush=True)
    else:
        subprocess.run(["rm", "-rf", logs])
    print(f"experiments: {tally[0]} passed, {int(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
