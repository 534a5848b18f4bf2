"""The repository a program acts on: a folder a suite declares (``workspace.yaml`` beside its files
gives the git history and the domain validators' declared results), made once per run as a real git
repository and copied fresh for every program, so a write never leaks into the next prompt."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from pytest_punie.errors import PunieError
from pytest_punie.sandbox.toolerrors import Refused

SPEC_FILE = "workspace.yaml"
DEFAULT_WORKSPACE = Path(__file__).parent / "workspaces" / "punie"


class WorkspaceError(PunieError):
    """A workspace folder or its ``workspace.yaml`` that cannot be used."""


class OutsideWorkspace(Refused):
    """A path that resolves outside the workspace: the program is refused, nothing is touched."""


@dataclass(frozen=True)
class Commit:
    """One commit of the declared history."""

    message: str
    author: str
    date: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class WorkspaceSpec:
    """A workspace as declared: its files, its history and the validators' results."""

    name: str
    folder: Path
    digest: str
    commits: tuple[Commit, ...] = ()
    committed_before_edit: dict[str, str] = field(default_factory=dict)
    validators: dict[str, dict[str, Any]] = field(default_factory=dict)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != SPEC_FILE and "__pycache__" not in p.parts)


def load_workspace(folder: str | Path = DEFAULT_WORKSPACE) -> WorkspaceSpec:
    """A workspace folder read with its ``workspace.yaml``; an error names the file and the key."""
    folder = Path(folder)
    spec_path = folder / SPEC_FILE
    if not folder.is_dir():
        raise WorkspaceError(folder, None, "the workspace folder does not exist")
    try:
        raw = yaml.safe_load(spec_path.read_text(encoding="utf-8")) if spec_path.exists() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise WorkspaceError(spec_path, mark.line + 1 if mark else None, f"not valid YAML: {exc}") from None
    raw = raw or {}
    if not isinstance(raw, dict):
        raise WorkspaceError(spec_path, 1, "a mapping is expected (name, git, validators)")
    commits = []
    for i, c in enumerate((raw.get("git") or {}).get("commits") or []):
        try:
            commits.append(Commit(str(c["message"]), str(c["author"]), str(c["date"]), tuple(c["add"])))
        except (KeyError, TypeError) as exc:
            raise WorkspaceError(spec_path, None, f"git.commits[{i}] needs message, author, date, add: {exc}") from None
        missing = [p for p in commits[-1].paths if not (folder / p).exists()]
        if missing:
            raise WorkspaceError(
                spec_path, None, f"git.commits[{i}].add names what the folder does not hold: {missing}"
            )
    h = hashlib.sha256()
    for p in _files(folder):
        h.update(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    h.update(yaml.safe_dump(raw, sort_keys=True).encode())
    return WorkspaceSpec(
        name=str(raw.get("name") or folder.name),
        folder=folder,
        digest="sha256:" + h.hexdigest(),
        commits=tuple(commits),
        committed_before_edit=dict((raw.get("git") or {}).get("committed_before_edit") or {}),
        validators=dict(raw.get("validators") or {}),
    )


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=60)
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        raise WorkspaceError(
            cwd, None, f"git {args[0]} failed making the declared history: {why[-1] if why else done.returncode}"
        )


def _git_env(commit: Commit) -> dict[str, str]:
    name, _, email = commit.author.partition("<")
    return {
        **os.environ,
        "GIT_AUTHOR_NAME": name.strip(),
        "GIT_AUTHOR_EMAIL": email.rstrip(">").strip(),
        "GIT_COMMITTER_NAME": name.strip(),
        "GIT_COMMITTER_EMAIL": email.rstrip(">").strip(),
        "GIT_AUTHOR_DATE": commit.date,
        "GIT_COMMITTER_DATE": commit.date,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def materialise(spec: WorkspaceSpec, into: Path) -> Path:
    """The workspace made in ``into``: its files, and where it declares a history, a git repository
    with those commits (files edited since keep their committed text in the history)."""
    shutil.copytree(spec.folder, into, ignore=shutil.ignore_patterns(SPEC_FILE, "__pycache__"))
    if not spec.commits:
        return into
    if shutil.which("git") is None:
        return into  # the git tools say so when called; the other tools still run
    edited = {p: (into / p).read_text(encoding="utf-8") for p in spec.committed_before_edit}
    for path, before in spec.committed_before_edit.items():
        (into / path).write_text(before, encoding="utf-8")
    _git(into, "init", "-q", "-b", "main")
    for commit in spec.commits:
        env = _git_env(commit)
        _git(into, "add", "--", *commit.paths, env=env)
        _git(into, "commit", "-q", "--no-gpg-sign", "--allow-empty", "-m", commit.message, env=env)
    for path, now in edited.items():
        (into / path).write_text(now, encoding="utf-8")
    return into


class WorkspaceTemplates:
    """Each workspace made once per process; every program gets a fresh copy of it."""

    def __init__(self) -> None:
        self._root: Path | None = None
        self._made: dict[str, Path] = {}

    def folder(self) -> Path:
        """Where this process keeps its templates and copies (made on first use)."""
        return self._base()

    def _base(self) -> Path:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="punie-workspaces-"))
        return self._root

    def template(self, spec: WorkspaceSpec) -> Path:
        """The workspace as declared, made once per process: read-only tools run on it directly."""
        template = self._made.get(spec.digest)
        if template is None:
            into = Path(tempfile.mkdtemp(prefix="template-", dir=self._base())) / "ws"
            try:
                template = materialise(spec, into)
            except BaseException:
                shutil.rmtree(into.parent, ignore_errors=True)  # a half-made workspace is never reused
                raise
            self._made[spec.digest] = template
        return template

    def fresh_copy(self, spec: WorkspaceSpec) -> Path:
        """A new copy of the workspace for one program that writes (the caller removes it with ``discard``)."""
        copy = Path(tempfile.mkdtemp(prefix="run-", dir=self._base())) / "ws"
        shutil.copytree(self.template(spec), copy, symlinks=True)
        return copy

    def discard(self, copy: Path) -> None:
        """Removes a program's copy (never a template)."""
        if copy not in self._made.values():
            shutil.rmtree(copy.parent, ignore_errors=True)

    def close(self) -> None:
        """Removes every template and copy of this process."""
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
            self._made.clear()


def inside(root: Path, path: str) -> tuple[Path, str]:
    """A program's path resolved in the workspace: (the real path, the workspace-relative POSIX path);
    an absolute path or one that leaves the workspace (``..``, a symlink out) is refused."""
    if not isinstance(path, str):
        raise TypeError(f"a path must be a str, not {type(path).__name__}")
    if PurePosixPath(path).is_absolute() or Path(path).is_absolute():
        raise OutsideWorkspace(f"absolute path {path!r} is outside the workspace")
    real_root = root.resolve()
    target = (real_root / path).resolve()
    if target != real_root and real_root not in target.parents:
        raise OutsideWorkspace(f"path {path!r} is outside the workspace")
    rel = target.relative_to(real_root).as_posix()
    return target, "" if rel == "." else rel
