"""Users: looked up by id."""

from svcs_di import Inject, injectable


@injectable
class UserService:
    def __init__(self, db: Inject["Database"]):
        self.db = db

    def get(self, user_id: str) -> dict:
        return self.db.find("users", user_id)


class AuditService:
    def record(self, event: str) -> None:
        print(event)
