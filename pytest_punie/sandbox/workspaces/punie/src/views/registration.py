"""The registration form."""

from tdom import html


def RegistrationForm(email: str) -> str:
    heading = html("<h2>Create an account</h2>")
    return html(f"<form>{heading}<input name='email' value='{email}'></form>")
