"""The typed results of the sandbox's functions, with the class names and fields of Punie's own
toolset (shared/reference/punie-tools.md): a program reads them by attribute, and their repr is
what ``print(result)`` shows, as in production."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TypeCheckError:
    """One diagnostic of the type checker."""

    file: str
    line: int
    column: int
    severity: str
    code: str
    message: str


@dataclass
class TypeCheckResult:
    """What typecheck returns: the type checker's errors and warnings."""

    success: bool
    error_count: int
    warning_count: int
    errors: list[TypeCheckError] = field(default_factory=list)
    parse_error: str | None = None


@dataclass
class RuffViolation:
    """One lint violation."""

    file: str
    line: int
    column: int
    code: str
    message: str
    fixable: bool


@dataclass
class RuffResult:
    """What ruff_check returns: ruff's violations."""

    success: bool
    violation_count: int
    fixable_count: int
    violations: list[RuffViolation] = field(default_factory=list)
    parse_error: str | None = None


@dataclass
class TestCase:
    """One test's outcome."""

    __test__ = False  # not a pytest test class
    name: str
    outcome: str
    duration: float
    message: str | None = None


@dataclass
class TestResult:
    """What pytest_run returns: the counts and each test."""

    __test__ = False
    success: bool
    passed: int
    failed: int
    errors: int
    skipped: int
    duration: float
    tests: list[TestCase] = field(default_factory=list)
    parse_error: str | None = None


@dataclass
class DefinitionLocation:
    """Where a symbol is defined."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    preview: str


@dataclass
class GotoDefinitionResult:
    """What goto_definition returns."""

    success: bool
    symbol: str
    locations: list[DefinitionLocation] = field(default_factory=list)
    parse_error: str | None = None


@dataclass
class ReferenceLocation:
    """One use of a symbol."""

    file: str
    line: int
    column: int
    preview: str


@dataclass
class FindReferencesResult:
    """What find_references returns."""

    success: bool
    symbol: str
    reference_count: int
    references: list[ReferenceLocation] = field(default_factory=list)
    parse_error: str | None = None


@dataclass
class HoverResult:
    """What hover returns: a symbol's signature and docstring."""

    success: bool
    symbol: str
    content: str
    language: str = "python"
    parse_error: str | None = None


@dataclass
class SymbolInfo:
    """A class, function or variable of a file, with its members."""

    name: str
    kind: str
    line: int
    end_line: int
    children: list[SymbolInfo] = field(default_factory=list)


@dataclass
class DocumentSymbolsResult:
    """What document_symbols returns."""

    success: bool
    file_path: str
    symbols: list[SymbolInfo] = field(default_factory=list)
    symbol_count: int = 0
    parse_error: str | None = None


@dataclass
class WorkspaceSymbol:
    """A definition found across the workspace."""

    name: str
    kind: str
    file: str
    line: int
    container_name: str | None = None


@dataclass
class WorkspaceSymbolsResult:
    """What workspace_symbols returns."""

    success: bool
    query: str
    symbols: list[WorkspaceSymbol] = field(default_factory=list)
    symbol_count: int = 0
    parse_error: str | None = None


@dataclass
class GitFileStatus:
    """One changed or untracked file."""

    file: str
    status: str
    staged: bool


@dataclass
class GitStatusResult:
    """What git_status returns."""

    success: bool
    clean: bool
    file_count: int
    files: list[GitFileStatus] = field(default_factory=list)
    parse_error: str | None = None


@dataclass
class DiffFile:
    """One file's changes, with its hunk headers."""

    file: str
    additions: int
    deletions: int
    hunks: list[str] = field(default_factory=list)


@dataclass
class GitDiffResult:
    """What git_diff returns."""

    success: bool
    file_count: int
    additions: int
    deletions: int
    files: list[DiffFile] = field(default_factory=list)
    parse_error: str | None = None


@dataclass
class GitCommit:
    """One commit."""

    hash: str
    message: str
    author: str
    date: str


@dataclass
class GitLogResult:
    """What git_log returns."""

    success: bool
    commits: list[GitCommit] = field(default_factory=list)
    commit_count: int = 0
    parse_error: str | None = None


@dataclass
class CstMatch:
    """One node that matched a pattern."""

    line: int
    column: int
    code_snippet: str
    node_type: str


@dataclass
class CstFindResult:
    """What cst_find_pattern returns."""

    success: bool
    match_count: int
    matches: list[CstMatch] = field(default_factory=list)
    parse_error: str | None = None


@dataclass
class CstRenameResult:
    """What cst_rename returns: the renamed source (the file is not written)."""

    success: bool
    rename_count: int
    modified_source: str
    parse_error: str | None = None


@dataclass
class CstAddImportResult:
    """What cst_add_import returns: the source with the import (the file is not written)."""

    success: bool
    import_added: bool
    modified_source: str
    parse_error: str | None = None


@dataclass
class ValidationIssue:
    """One rule a domain validator found broken."""

    rule: str
    severity: str
    message: str
    line: int | None = None
    suggestion: str | None = None


@dataclass
class DomainValidationResult:
    """What each of the nine domain validators returns."""

    valid: bool
    domain: str
    issues: list[ValidationIssue] = field(default_factory=list)
    parse_error: str | None = None
