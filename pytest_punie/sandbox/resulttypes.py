"""The typed results of the sandbox's functions, with the class names and fields of Punie's own
toolset (shared/reference/punie-tools.md): a program reads them by attribute, and their repr is
what ``print(result)`` shows, as in production."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TypeCheckError:
    file: str
    line: int
    column: int
    severity: str
    code: str
    message: str


@dataclass
class TypeCheckResult:
    success: bool
    error_count: int
    warning_count: int
    errors: list[TypeCheckError] = field(default_factory=list)
    parse_error: str | None = None


@dataclass
class RuffViolation:
    file: str
    line: int
    column: int
    code: str
    message: str
    fixable: bool


@dataclass
class RuffResult:
    success: bool
    violation_count: int
    fixable_count: int
    violations: list[RuffViolation] = field(default_factory=list)
    parse_error: str | None = None


@dataclass
class TestCase:
    __test__ = False  # not a pytest test class
    name: str
    outcome: str
    duration: float
    message: str | None = None


@dataclass
class TestResult:
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
    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    preview: str


@dataclass
class GotoDefinitionResult:
    success: bool
    symbol: str
    locations: list[DefinitionLocation] = field(default_factory=list)
    parse_error: str | None = None


@dataclass
class ReferenceLocation:
    file: str
    line: int
    column: int
    preview: str


@dataclass
class FindReferencesResult:
    success: bool
    symbol: str
    reference_count: int
    references: list[ReferenceLocation] = field(default_factory=list)
    parse_error: str | None = None


@dataclass
class HoverResult:
    success: bool
    symbol: str
    content: str
    language: str = "python"
    parse_error: str | None = None


@dataclass
class SymbolInfo:
    name: str
    kind: str
    line: int
    end_line: int
    children: list[SymbolInfo] = field(default_factory=list)


@dataclass
class DocumentSymbolsResult:
    success: bool
    file_path: str
    symbols: list[SymbolInfo] = field(default_factory=list)
    symbol_count: int = 0
    parse_error: str | None = None


@dataclass
class WorkspaceSymbol:
    name: str
    kind: str
    file: str
    line: int
    container_name: str | None = None


@dataclass
class WorkspaceSymbolsResult:
    success: bool
    query: str
    symbols: list[WorkspaceSymbol] = field(default_factory=list)
    symbol_count: int = 0
    parse_error: str | None = None


@dataclass
class GitFileStatus:
    file: str
    status: str
    staged: bool


@dataclass
class GitStatusResult:
    success: bool
    clean: bool
    file_count: int
    files: list[GitFileStatus] = field(default_factory=list)
    parse_error: str | None = None


@dataclass
class DiffFile:
    file: str
    additions: int
    deletions: int
    hunks: list[str] = field(default_factory=list)


@dataclass
class GitDiffResult:
    success: bool
    file_count: int
    additions: int
    deletions: int
    files: list[DiffFile] = field(default_factory=list)
    parse_error: str | None = None


@dataclass
class GitCommit:
    hash: str
    message: str
    author: str
    date: str


@dataclass
class GitLogResult:
    success: bool
    commits: list[GitCommit] = field(default_factory=list)
    commit_count: int = 0
    parse_error: str | None = None


@dataclass
class CstMatch:
    line: int
    column: int
    code_snippet: str
    node_type: str


@dataclass
class CstFindResult:
    success: bool
    match_count: int
    matches: list[CstMatch] = field(default_factory=list)
    parse_error: str | None = None


@dataclass
class CstRenameResult:
    success: bool
    rename_count: int
    modified_source: str
    parse_error: str | None = None


@dataclass
class CstAddImportResult:
    success: bool
    import_added: bool
    modified_source: str
    parse_error: str | None = None


@dataclass
class ValidationIssue:
    rule: str
    severity: str
    message: str
    line: int | None = None
    suggestion: str | None = None


@dataclass
class DomainValidationResult:
    valid: bool
    domain: str
    issues: list[ValidationIssue] = field(default_factory=list)
    parse_error: str | None = None
