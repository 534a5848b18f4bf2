"""The error page."""

from tdom import html


def ErrorPage(status: int, message: str) -> str:
    return html(f"<section class='error'><h1>{status}</h1><p>{message}</p></section>")
