"""The nine domain validators (tdom, svcs, tdom-svcs) as the workspace declares their results per
file: the users' own validators (a suite's ``sandbox.tools`` module) replace these by name."""

from __future__ import annotations

from pytest_punie.sandbox.resulttypes import DomainValidationResult, ValidationIssue
from pytest_punie.sandbox.runcontext import ToolContext

DOMAINS = {
    "validate_component": "tdom",
    "check_render_tree": "tdom",
    "validate_escape_context": "tdom",
    "validate_service_registration": "svcs",
    "check_dependency_graph": "svcs",
    "validate_injection_site": "svcs",
    "validate_middleware_chain": "tdom-svcs",
    "check_di_template_binding": "tdom-svcs",
    "validate_route_pattern": "tdom-svcs",
}


def declared_validation(ctx: ToolContext, file_path: str, *, validator: str) -> DomainValidationResult:
    """The result the workspace declares for one validator and file: a file it declares nothing
    for is valid with no issues; a file that is not there is a parse error."""
    domain = DOMAINS[validator]
    real, rel = ctx.path(file_path)
    if not real.is_file():
        return DomainValidationResult(
            False, domain, [], parse_error=f"no such file in the workspace: {rel or file_path!r}"
        )
    declared = (ctx.spec.validators.get(validator) or {}).get(rel)
    if declared is None:
        return DomainValidationResult(True, domain, [])
    issues = [
        ValidationIssue(
            str(i["rule"]), str(i.get("severity", "error")), str(i["message"]), i.get("line"), i.get("suggestion")
        )
        for i in declared.get("issues") or []
    ]
    return DomainValidationResult(bool(declared.get("valid", not issues)), domain, issues)
