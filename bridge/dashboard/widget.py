"""The back office as a room widget: the state events Linli puts in the staff rooms.

`im.vector.modular.widgets` (state key: the widget's ID) is the widget itself, the form Element
reads (MSC1236, not yet in the spec); `io.element.widgets.layout` opens it at the top of the
room by default. The URL is on Linli's own origin; the client fills in `$matrix_room_id` and
`$matrix_widget_id` (and Element adds `widgetId` and `parentUrl`). No `$matrix_user_id`: the
page learns who is signing in from the homeserver only (the OpenID exchange).
"""

from __future__ import annotations

from typing import Any

from bridge.roles import STAFF_ROLES, Role
from bridge.rooms_config import RoomDef

WIDGET_ID = "linli_backoffice"
WIDGET_TYPE = "im.vector.modular.widgets"
LAYOUT_TYPE = "io.element.widgets.layout"
NAMES = {"zh": "邻里工作台", "en": "Linli back office"}


def is_staff_room(room: RoomDef) -> bool:
    """A room for staff and observers only (五位一体联络群, 居委会工作群, 街道观察室): the widget's
    place. Rooms with residents in them never get it."""
    return (
        room.access == "invite"
        and room.building is None
        and bool(room.member_roles)
        and room.member_roles <= STAFF_ROLES | {Role.OBSERVER}
    )


def widget_content(dashboard_url: str, creator: str, locale: str) -> dict[str, Any]:
    name = NAMES.get(locale, NAMES["zh"])
    return {
        "id": WIDGET_ID,
        "type": "m.custom",
        "name": name,
        "url": f"{dashboard_url}?room=$matrix_room_id&widget=$matrix_widget_id",
        "creatorUserId": creator,
        "waitForIframeLoad": True,
        "data": {"title": name},
    }


def layout_content() -> dict[str, Any]:
    return {"widgets": {WIDGET_ID: {"container": "top", "index": 0, "width": 100, "height": 60}}}
