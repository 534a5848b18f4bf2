"""The home page."""

from tdom import html


class HomeView:
    """The landing page a signed-in user sees."""

    def render(self, user: str) -> str:
        return html("<main><h1>Welcome, {user}</h1></main>", user=user)
