"""A small widget host, standing in for Element: a page on another origin that frames the
widget URL and answers the widget API (postMessage; MSC2762 and the matrix-widget-api
library's protocol) the way Element does: it asks the widget for its capabilities once the
frame has loaded, notifies what it approved, and answers `get_openid` with a real OpenID token
of the signed-in person (from the test Synapse's `/openid/request_token`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from aiohttp import web

HOST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>widget host</title></head>
<body style="margin:0">
<iframe id="widget" src="%(src)s" style="width:980px;height:1300px;border:0"></iframe>
<script>
const OPENID = %(openid)s;
const WIDGET_ID = "linli_backoffice";
window.openidAsked = 0;
window.fromWidget = [];
const frame = document.getElementById("widget");
function toWidget(action, data, requestId) {
  frame.contentWindow.postMessage(
    {api: "toWidget", widgetId: WIDGET_ID, requestId: requestId, action: action, data: data}, "*");
}
window.addEventListener("message", (ev) => {
  if (ev.source !== frame.contentWindow) return;
  const msg = ev.data || {};
  if (msg.api === "fromWidget" && !msg.response) {
    window.fromWidget.push(msg.action);
    let response = {};
    if (msg.action === "supported_api_versions") {
      response = {supported_versions: ["0.0.1", "0.0.2", "org.matrix.msc2871"]};
    } else if (msg.action === "get_openid") {
      window.openidAsked += 1;
      response = Object.assign({state: "allowed"}, OPENID);
    }
    frame.contentWindow.postMessage(Object.assign({}, msg, {response: response}), "*");
  } else if (msg.api === "toWidget" && msg.response && msg.action === "capabilities") {
    const wanted = msg.response.capabilities || [];
    toWidget("notify_capabilities", {requested: wanted, approved: wanted}, "notify-1");
  }
});
frame.addEventListener("load", () => toWidget("capabilities", {}, "capabilities-1"));
</script>
</body></html>
"""


class WidgetHost:
    def __init__(self, widget_url: str, openid: dict[str, Any]) -> None:
        self.widget_url = widget_url
        self.openid = openid
        self.app = web.Application()
        self.app.router.add_get("/", self.page)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def page(self, request: web.Request) -> web.Response:
        src = f"{self.widget_url}&widgetId=linli_backoffice&parentUrl={quote(self.url, safe='')}"
        html = HOST_PAGE % {"src": src, "openid": json.dumps(self.openid)}
        return web.Response(text=html, content_type="text/html")

    async def start(self) -> str:
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        # "localhost", not 127.0.0.1: the host is another origin than the widget, as Element is.
        self.url = f"http://localhost:{port}/"
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
