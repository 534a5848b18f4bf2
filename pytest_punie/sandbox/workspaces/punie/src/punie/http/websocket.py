"""The agent's websocket endpoint."""

import asyncio
from typing import Any


class ConnectionManager:
    """The open connections, by client id."""

    def __init__(self) -> None:
        self.connections: dict[str, Any] = {}

    def add(self, client_id: str, socket: Any) -> None:
        self.connections[client_id] = socket

    def remove(self, client_id: str) -> None:
        self.connections.pop(client_id, None)


class WebSocketHandler:
    """Answers one client's messages."""

    def __init__(self, manager: ConnectionManager) -> None:
        self.manager = manager

    async def handle(self, client_id: str, message: str) -> str:
        await asyncio.sleep(0)
        return f"{client_id}: {message}"


class HeartbeatMonitor:
    """Drops clients that stopped answering."""

    interval_s: float = 15.0
