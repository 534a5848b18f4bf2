"""The account page."""

from svcs_di import Inject
from tdom import html


class AccountPanel:
    def __init__(self, users: Inject["UserService"]):
        self.users = users


def Account(user_id: str) -> str:
    return html("<div><AccountPanel user_id={user_id} /></div>", user_id=user_id)
