"""The HTTP API's routes."""

from svcs_di import route


@route("/users/{user_id}")
def get_user(user_id: str): ...


@route("/users/{user_id/orders")
def get_orders(user_id: str): ...


@route("reports/monthly")
def monthly_report(): ...
