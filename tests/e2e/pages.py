"""Steps the browser tests share."""

from tests.backend.factories import DEFAULT_PASSWORD


def log_in(page, live_server, username: str) -> None:
    """Log in through the login page as a factory-made user; lands on the worklist."""
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/worklist")
