"""Just enough of the W3C WebDriver protocol (HTTP + JSON) to drive Chromium through chromium-driver,
with the standard library only (Debian 12 has no python3-selenium)."""

import base64
import json
import urllib.error
import urllib.request


class WebDriverError(RuntimeError):
    pass


def _call(url, method="GET", body=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.load(r).get("value")
    except urllib.error.HTTPError as e:
        try:
            value = json.load(e).get("value", {})
            raise WebDriverError(f"{method} {url}: {value.get('error')}: {value.get('message', '')[:500]}") from None
        except ValueError:
            raise WebDriverError(f"{method} {url}: HTTP {e.code}") from None


class Browser:
    """One browser: a WebDriver session of the driver at `driver_url` (Chromium, with `args`)."""

    def __init__(self, driver_url, args, binary="/usr/bin/chromium"):
        caps = {"browserName": "chrome", "goog:chromeOptions": {"binary": binary, "args": list(args)}}
        value = _call(f"{driver_url}/session", "POST", {"capabilities": {"alwaysMatch": caps}}, timeout=120)
        self.url = f"{driver_url}/session/{value['sessionId']}"

    def get(self, url):
        _call(f"{self.url}/url", "POST", {"url": url})

    def js(self, script, *args):
        """Run `script` (a function body; `return` gives the value) in the page."""
        return _call(f"{self.url}/execute/sync", "POST", {"script": script, "args": list(args)})

    def screenshot(self, path):
        path.write_bytes(base64.b64decode(_call(f"{self.url}/screenshot")))

    def quit(self):
        try:
            _call(self.url, "DELETE", timeout=30)
        except (WebDriverError, OSError):
            pass
