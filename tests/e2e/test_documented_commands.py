"""Every ``atb ...`` command line in README.md and docs/*.md works as written, through the installed script.

What is collected, and how it runs (the rules a doc line must follow):

- **Command lines** are the lines of fenced code blocks (```) whose first word is ``atb`` (after optional
  ``NAME=value`` environment assignments, which the command gets). A line ending in ``\\`` continues on the
  next one; the command is reported at its first line. A trailing comment (``#`` after a space, outside
  quotes) is dropped. Lines of other programs (``make``, ``docker``) are not collected.
- Every command line **runs**, in document order, in one fresh data directory per document (``ATB_DATA_DIR``
  in tmp, a working directory holding only a copy of ``docs/examples/``, none of the machine's settings):
  ``atb db upgrade`` before
  ``atb backtest --save`` before ``atb sessions show 1`` is the state the document implies. Each must exit 0,
  or the code its comment documents as ``# ... exits N``. A failure names the file, the line, the command
  and its stderr; all of a document's failures are reported together.
- **Illustrative** lines end with ``# illustrative``: usage synopses (``[--force]``, ``A | B``) or commands
  that cannot run here. They are not run, but must still name a real command and only real options of it
  (checked against the click command tree), and the test id counts them.
- **Placeholders** (:data:`PLACEHOLDERS`): ``VERSION`` is the model version the document's latest
  ``atb train`` registered (the new version directory in the model registry); ``my-candles.csv.gz`` is
  written into the working directory (the first 2,000 bars of the bundled BTCUSDT 1h file); ``out.html``
  must exist after the command. Any other all-capitals word that is not a symbol (one ending in a quote
  asset, such as ``BTCUSDT``) is an error in a run line: replace it, add it to the table, or mark the line.
- **Reduced sizes**: ``atb train`` runs with :data:`REDUCED_TRAIN` appended (click keeps an option's last
  value), so a training takes seconds; the test id counts those lines. Nothing is skipped.
- **Inline** ``atb ...`` spans in prose (single backticks) are references, often partial (``atb train``,
  ``atb models show``): they are not run, but checked like illustrative lines (a real command path, real
  options).
"""

from __future__ import annotations

import gzip
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

import adapters.files
from entrypoints.cli.main import cli
from tests.isolation import is_setting

ROOT = Path(__file__).resolve().parents[2]
ATB = Path(sys.executable).with_name("atb")
BUNDLED_DIR = Path(adapters.files.__file__).parent / "bundled"
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND_TIMEOUT_S = 300

ILLUSTRATIVE = re.compile(r"#\s*illustrative\s*$")
EXITS = re.compile(r"\bexits (\d+)\b")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
PLACEHOLDER_WORD = re.compile(r"^[A-Z][A-Z0-9_]*$")  # VERSION, SYMBOL, S, ...
QUOTE_ASSETS = ("USDT", "USDC", "BUSD", "FDUSD", "USD", "EUR", "BTC", "ETH", "BNB")  # BTCUSDT is a symbol
INLINE = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*=\S+ +)*atb(?: .*)?$")  # a whole code span

REDUCED_TRAIN = ("--epochs", "1", "--window", "16", "--norm-window", "50", "--start", "2020-01-01",
                 "--end", "2020-03-15")  # fmt: skip
"""Appended to every documented ``atb train``: one epoch on 2.5 months with small windows (seconds)."""

MY_CANDLES_BARS = 2000


def _write_my_candles(cwd: Path) -> None:
    with gzip.open(BUNDLED_DIR / "BTCUSDT-1h.csv.gz", "rt", newline="") as f:
        lines = f.read().splitlines()[: MY_CANDLES_BARS + 1]  # header + bars
    with gzip.open(cwd / "my-candles.csv.gz", "wt", newline="") as f:
        f.write("\n".join(lines) + "\n")


@dataclass(frozen=True)
class Placeholder:
    meaning: str
    before: Callable[[Path], None] | None = None  # writes an input into the working directory
    output: bool = False  # the command must create it in the working directory


PLACEHOLDERS: dict[str, Placeholder] = {
    "VERSION": Placeholder("the version the document's latest `atb train` registered"),
    "my-candles.csv.gz": Placeholder(
        f"the first {MY_CANDLES_BARS} bars of the bundled BTCUSDT 1h file", before=_write_my_candles
    ),
    "out.html": Placeholder("an output file", output=True),
}


# ---------------------------------------------------------------------------------------------------------------
# Collecting


def is_placeholder(word: str) -> bool:
    """An all-capitals word that is not a symbol (``VERSION``, ``SYMBOL``, ``S``; not ``BTCUSDT``)."""
    return bool(PLACEHOLDER_WORD.match(word)) and not (word.endswith(QUOTE_ASSETS) and len(word) > 4)


@dataclass(frozen=True)
class DocCommand:
    path: Path
    line: int
    text: str  # as written (continuations joined), comment dropped
    comment: str  # the trailing comment without '#', or ""
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()  # after "atb", placeholders not yet substituted

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def illustrative(self) -> bool:
        return bool(ILLUSTRATIVE.search("#" + self.comment)) if self.comment else False

    @property
    def expected_code(self) -> int:
        found = EXITS.search(self.comment)
        return int(found.group(1)) if found else 0

    @property
    def is_train(self) -> bool:
        return self.args[:1] == ("train",)


def split_comment(line: str) -> tuple[str, str]:
    """``(code, comment)``: a ``#`` at the start or after whitespace, outside quotes, starts the comment."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1 :].strip()
    return line.rstrip(), ""


def parse_command(path: Path, line: int, joined: str) -> DocCommand | None:
    """The atb command on a (joined) code line, or None when the line runs another program."""
    code, comment = split_comment(joined.strip())
    try:
        words = shlex.split(code)
    except ValueError:
        words = code.split()
    env: dict[str, str] = {}
    while words and ENV_ASSIGNMENT.match(words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if not words or words[0] != "atb":
        return None
    return DocCommand(path, line, code, comment, env, tuple(words[1:]))


def fenced_commands(path: Path, text: str | None = None) -> list[DocCommand]:
    """The atb command lines of a document's fenced code blocks, in order."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    found: list[DocCommand] = []
    in_block = False
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith("```"):
            in_block = not in_block
            i += 1
            continue
        if not in_block:
            i += 1
            continue
        first = i
        joined = lines[i].rstrip()
        while joined.endswith("\\") and i + 1 < len(lines):
            i += 1
            joined = joined[:-1].rstrip() + " " + lines[i].strip()
        command = parse_command(path, first + 1, joined)
        if command is not None:
            found.append(command)
        i += 1
    return found


def inline_commands(path: Path, text: str | None = None) -> list[DocCommand]:
    """``atb ...`` spans in single backticks outside fenced blocks (references: checked, not run)."""
    found: list[DocCommand] = []
    in_block = False
    for number, line in enumerate((path.read_text(encoding="utf-8") if text is None else text).splitlines(), 1):
        if line.strip().startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            continue
        for span in line.split("`")[1::2]:  # the inside of each `code span`
            command = parse_command(path, number, span) if INLINE.match(span) else None
            if command is not None:
                found.append(command)
    return found


# ---------------------------------------------------------------------------------------------------------------
# Checking names against the click command tree


def _takes_value(param: click.Parameter) -> bool:
    return isinstance(param, click.Option) and not param.is_flag and not param.count


def name_errors(args: tuple[str, ...], complete: bool) -> list[str]:
    """What in ``atb ARGS`` is not a real command or option (synopsis brackets, ``|`` and ``...`` allowed).

    ``complete``: the words must reach a command that runs (a leaf, a group that runs without a subcommand,
    or ``--help``)."""
    command: click.Command = cli
    ctx = click.Context(cli, info_name="atb")
    path = ["atb"]
    errors: list[str] = []
    helped = False
    words = [w.strip("[]") for w in args]
    words = [w for w in words if w and w not in ("|", "...", "…")]
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            options = {opt: p for p in command.params for opt in (*p.opts, *p.secondary_opts)}
            if name in ctx.help_option_names:
                helped = True
            elif name not in options:
                errors.append(f"`{' '.join(path)}` has no option {name}")
            elif _takes_value(options[name]) and "=" not in word:
                i += 1
        elif isinstance(command, click.Group):
            sub = command.get_command(ctx, word)
            if sub is None:
                errors.append(f"`{' '.join(path)}` has no subcommand {word!r}")
                return errors
            command = sub
            ctx = click.Context(sub, parent=ctx, info_name=word)
            path.append(word)
        i += 1
    if complete and not helped and isinstance(command, click.Group) and not command.invoke_without_command:
        errors.append(f"`{' '.join(path)}` needs a subcommand")
    return errors


# ---------------------------------------------------------------------------------------------------------------
# Running


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not is_setting(k) and k != "COLUMNS"}


@dataclass
class DocRun:
    """One document's commands in one data directory and working directory."""

    data_dir: Path
    cwd: Path
    version: str | None = None
    failures: list[str] = field(default_factory=list)

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        return {**_clean_env(), "ATB_DATA_DIR": str(self.data_dir), **extra}

    def argv(self, command: DocCommand) -> list[str] | str:
        """The words to run (placeholders substituted, reduced sizes appended), or why the line cannot run."""
        words: list[str] = []
        for word in command.args:
            if word == "VERSION":
                if self.version is None:
                    return "VERSION is used before any `atb train` in this document registered a version"
                words.append(self.version)
                continue
            if is_placeholder(word) and word not in PLACEHOLDERS:
                return f"{word} looks like a placeholder: add it to PLACEHOLDERS or end the line with # illustrative"
            words.append(word)
        if command.is_train:
            words.extend(REDUCED_TRAIN)
        return [str(ATB), *words]

    def run(self, command: DocCommand) -> None:
        argv = self.argv(command)
        if isinstance(argv, str):
            self.failures.append(f"{command.where}: `{command.text}`: {argv}")
            return
        for word in command.args:
            placeholder = PLACEHOLDERS.get(word)
            if placeholder is not None and placeholder.before is not None:
                placeholder.before(self.cwd)
            if placeholder is not None and placeholder.output:
                (self.cwd / word).unlink(missing_ok=True)
        before = self._versions_on_disk(command) if command.is_train else set()
        try:
            proc = subprocess.run(argv, cwd=self.cwd, env=self.env(command.env), capture_output=True, text=True,
                                  timeout=COMMAND_TIMEOUT_S, check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            self.failures.append(f"{command.where}: `{command.text}` ran past {COMMAND_TIMEOUT_S} s")
            return
        ran = shlex.join(["atb", *argv[1:]])
        if proc.returncode != command.expected_code:
            self.failures.append(
                f"{command.where}: `{command.text}` exited {proc.returncode}, expected {command.expected_code}\n"
                f"    ran: {ran}\n    stderr: {_tail(proc.stderr)}"
            )
            return
        for word in command.args:
            placeholder = PLACEHOLDERS.get(word)
            if placeholder is not None and placeholder.output and not (self.cwd / word).is_file():
                self.failures.append(f"{command.where}: `{command.text}` exited 0 but wrote no {word}")
        if command.is_train:
            new = self._versions_on_disk(command) - before
            if len(new) != 1:
                self.failures.append(f"{command.where}: `{command.text}` registered {len(new)} versions, not one")
            self.version = new.pop().name if len(new) == 1 else None

    def _versions_on_disk(self, command: DocCommand) -> set[Path]:
        """The registry's version directories (``{SYMBOL}/{TYPE}/{VERSION}/metadata.json`` under the models
        directory, ``<data dir>/models`` unless the command sets ``ATB_MODELS_DIR``)."""
        root = Path(command.env.get("ATB_MODELS_DIR", self.data_dir / "models"))
        return {p.parent for p in root.glob("*/*/*/metadata.json") if not p.parent.name.startswith(".")}


def _tail(text: str, lines: int = 15) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n            ".join(kept) if kept else "(empty)"


# ---------------------------------------------------------------------------------------------------------------
# Tests


def _doc_id(path: Path) -> str:
    commands = fenced_commands(path)
    marked = sum(c.illustrative for c in commands)
    reduced = sum(c.is_train and not c.illustrative for c in commands)
    return f"{path.relative_to(ROOT)} ({len(commands) - marked} run, {reduced} reduced, {marked} illustrative)"


RUN_DOCS = [p for p in DOCUMENTS if any(not c.illustrative for c in fenced_commands(p))]


def test_the_docs_hold_commands_to_run() -> None:
    assert ROOT / "README.md" in RUN_DOCS, "README.md has no atb command line: the collector is broken"


@pytest.mark.slow
@pytest.mark.parametrize("path", RUN_DOCS, ids=_doc_id)
def test_every_documented_command_runs(path: Path, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "work").mkdir()
    # the example files the docs name (docs/examples/...) are where they are in a checkout, relative to the work dir
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "work" / "docs" / "examples")
    run = DocRun(tmp_path / "data", tmp_path / "work")
    commands = [c for c in fenced_commands(path) if not c.illustrative]
    for command in commands:
        run.run(command)
    assert not run.failures, f"{len(run.failures)} of {len(commands)} command lines of {path.name} failed:\n" + (
        "\n".join(run.failures)
    )


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_illustrative_and_inline_commands_name_real_commands_and_options(path: Path) -> None:
    problems = []
    for command in fenced_commands(path):
        for error in name_errors(command.args, complete=True):
            problems.append(f"{command.where}: `{command.text}`: {error}")
    for command in inline_commands(path):
        for error in name_errors(command.args, complete=False):
            problems.append(f"{command.where}: inline `{command.text}`: {error}")
    assert not problems, "\n".join(problems)


# -- the collector itself, on a made-up document ------------------------------------------------------------------

SAMPLE = """\
Run `atb backtest --symbol ETHUSDT` or `atb models show`; `ATB_X=1 atb data list` too.

```
make run
atb backtest --strategy ema_trend \\
             --start 2019-01-01   # a comment
atb strategies show ensemble_weighted --param members="ema_crossover:2,momentum:1"  # quoted
atb models promote BTCUSDT basic VERSION [--force]   # the guard; illustrative
atb models list [--symbol S]   # illustrative
ATB_LOG_LEVEL=INFO atb data list
atb backtest --report /nonexistent/x.html   # refused: exits 1
docker run --rm atb backtest
```
"""


def test_the_collector_joins_continuations_drops_comments_and_reads_markers(tmp_path: Path) -> None:
    path = ROOT / "sample.md"
    commands = fenced_commands(path, SAMPLE)
    assert [c.line for c in commands] == [5, 7, 8, 9, 10, 11]
    joined = commands[0]
    assert joined.args == ("backtest", "--strategy", "ema_trend", "--start", "2019-01-01")
    assert joined.comment == "a comment" and not joined.illustrative and joined.expected_code == 0
    assert commands[1].args[-1] == "members=ema_crossover:2,momentum:1" and commands[1].comment == "quoted"
    assert not commands[2].illustrative, "the marker is '# illustrative' at the end of the line"
    assert commands[3].illustrative and commands[3].args == ("models", "list", "[--symbol", "S]")
    assert commands[4].env == {"ATB_LOG_LEVEL": "INFO"} and commands[4].args == ("data", "list")
    assert commands[5].expected_code == 1
    inline = inline_commands(path, SAMPLE)
    assert [c.args for c in inline] == [("backtest", "--symbol", "ETHUSDT"), ("models", "show"), ("data", "list")]
    assert inline[2].env == {"ATB_X": "1"}


def test_the_name_check_finds_unknown_commands_options_and_incomplete_lines() -> None:
    assert name_errors(("models", "list", "[--symbol", "S]", "[--json]"), complete=True) == []
    assert name_errors(("backtest", "--model-version", "V", "|", "--model-as-of", "2021-03-01"), complete=True) == []
    assert name_errors(("backtest", "compare", "ema_trend", "ema_cross"), complete=True) == []
    assert name_errors(("--help",), complete=True) == []
    assert name_errors(("backtest", "--no-such-flag"), complete=True) == ["`atb backtest` has no option --no-such-flag"]
    assert name_errors(("modles", "list"), complete=True) == ["`atb` has no subcommand 'modles'"]
    assert name_errors(("models",), complete=True) == ["`atb models` needs a subcommand"]
    assert name_errors(("models",), complete=False) == []
    # an option's value is not mistaken for a subcommand
    assert name_errors(("backtest", "--strategy", "compare"), complete=True) == []


def test_a_placeholder_outside_the_table_or_before_its_source_is_reported(tmp_path: Path) -> None:
    run = DocRun(tmp_path, tmp_path)
    [unknown, version] = fenced_commands(
        ROOT / "x.md", "```\natb models show BTCUSDT basic SOMEVERSION\natb models delete BTCUSDT basic VERSION\n```"
    )
    assert "SOMEVERSION looks like a placeholder" in str(run.argv(unknown))
    assert "before any `atb train`" in str(run.argv(version))
    run.version = "v9"
    assert run.argv(version) == [str(ATB), "models", "delete", "BTCUSDT", "basic", "v9"]
