"""The presence WebSocket of a workflow: `/ws/workflows/{id}/presence/`.

Who else has the workflow open right now, and who of them is editing; a
teammate's save as it lands ("bob saved v5"); your own role as an owner
changes it. No presence is stored anywhere: a new socket announces itself
to the workflow's group and every open one answers it directly, so a
restarted server or a flushed Redis loses nothing but a moment.

Messages to the client:
    {"type": "hello", "you": {...}, "users": [...]}        on connect
    {"type": "presence", "users": [{"id", "username", "role", "editing", "tabs"}]}
    {"type": "saved", "version", "by", "mine", "message"}   a version was saved
    {"type": "role", "role", "can_edit"}                   your role in the team changed
    {"type": "moved", "team", "team_name"}                 the workflow moved to another team you are in
and it closes with 4404 when the workflow is no longer yours to see
(removed from the team, moved away). From the client: {"type": "editing",
"editing": true|false} (owners and editors), {"type": "ping"}."""
from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from . import access, presence

WRITE_ROLES = {"owner", "editor"}


class PresenceConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        """Accept a signed-in user who can see the workflow, then announce them."""
        user = self.scope.get("user")
        self.workflow_id = int(self.scope["url_route"]["kwargs"]["workflow_id"])
        self.peers: dict[str, dict[str, Any]] = {}
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=4401)
            return
        found = await self._team_and_role(user)
        if found is None:
            await self.accept()
            await self.close(code=4404)
            return
        self.team_id, role = found
        self.me = {"id": user.pk, "username": user.get_username(), "role": role, "editing": False}
        self.groups_joined = [presence.workflow_group(self.workflow_id), presence.user_group(user.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "you": self.me, "users": self._users()})
        await self._to_group("presence.join")

    async def disconnect(self, code: int) -> None:
        """Say goodbye to the others and leave the groups."""
        if hasattr(self, "groups_joined"):
            await self._to_group("presence.leave")
            for group in self.groups_joined:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs) -> None:
        """`editing` tells the others you are changing the workflow; `ping` gets a pong."""
        if not isinstance(content, dict) or not hasattr(self, "me"):
            return
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        elif content.get("type") == "editing":
            editing = bool(content.get("editing")) and self.me["role"] in WRITE_ROLES
            if editing != self.me["editing"]:
                self.me["editing"] = editing
                await self._to_group("presence.update")

    # ------------------------------------------------------------- peers

    async def presence_join(self, message: dict[str, Any]) -> None:
        """A new socket opened the workflow: note it and answer it directly."""
        if message["channel"] == self.channel_name:
            return
        self.peers[message["channel"]] = message["user"]
        await self.channel_layer.send(message["channel"], {"type": "presence.here", "channel": self.channel_name, "user": self.me})
        await self._send_users()

    async def presence_here(self, message: dict[str, Any]) -> None:
        """An open socket answered our announcement."""
        self.peers[message["channel"]] = message["user"]
        await self._send_users()

    async def presence_update(self, message: dict[str, Any]) -> None:
        """A peer started or stopped editing, or its role changed."""
        if message["channel"] != self.channel_name:
            self.peers[message["channel"]] = message["user"]
            await self._send_users()

    async def presence_leave(self, message: dict[str, Any]) -> None:
        """A peer closed the workflow."""
        if self.peers.pop(message["channel"], None) is not None:
            await self._send_users()

    # ------------------------------------------------------------- the workflow and the team

    async def workflow_saved(self, message: dict[str, Any]) -> None:
        """A version was saved (by anyone, this user's other tabs included)."""
        await self.send_json({"type": "saved", "version": message["version"], "by": message["by"],
                              "mine": message.get("by_id") == self.me["id"], "message": message.get("message", "")})

    async def workflow_moved(self, message: dict[str, Any]) -> None:
        """The workflow moved to another team: still visible, or gone."""
        found = await self._team_and_role(self.scope["user"])
        if found is None:
            await self.close(code=4404)
            return
        self.team_id, role = found
        await self.send_json({"type": "moved", "team": message["team"], "team_name": message["team_name"]})
        await self._set_role(role)

    async def member_role(self, message: dict[str, Any]) -> None:
        """The user's role in some team changed; this socket cares about the workflow's team."""
        if message["team"] != self.team_id:
            return
        if message["role"] is None:
            await self.close(code=4404)
            return
        await self._set_role(message["role"])

    async def _set_role(self, role: str) -> None:
        if role == self.me["role"]:
            return
        self.me["role"] = role
        if role not in WRITE_ROLES:
            self.me["editing"] = False
        await self.send_json({"type": "role", "role": role, "can_edit": role in WRITE_ROLES})
        await self._to_group("presence.update")

    # ------------------------------------------------------------- helpers

    async def _to_group(self, kind: str) -> None:
        await self.channel_layer.group_send(presence.workflow_group(self.workflow_id), {"type": kind, "channel": self.channel_name, "user": self.me})

    def _users(self) -> list[dict[str, Any]]:
        """One entry per person (several tabs count once), never including this socket."""
        people: dict[int, dict[str, Any]] = {}
        for user in self.peers.values():
            entry = people.setdefault(user["id"], {**user, "editing": False, "tabs": 0})
            entry["editing"] = entry["editing"] or user["editing"]
            entry["role"] = user["role"]
            entry["tabs"] += 1
        return sorted(people.values(), key=lambda u: u["username"])

    async def _send_users(self) -> None:
        await self.send_json({"type": "presence", "users": self._users()})

    @database_sync_to_async
    def _team_and_role(self, user) -> tuple[int, str] | None:
        row = access.workflows_of(user, with_role=True).filter(pk=self.workflow_id).values_list("team_id", "my_role").first()
        return (row[0], row[1]) if row else None
