"""A live call from a browser, upscaled x4 by ntiresr and scored by thqa, sent back to the page.

    scripts/call                  # serves http://127.0.0.1:8080/, one pipeline per browser
    scripts/call --check          # the headless-Chromium test (examples/call/check.py)

`server` serves the page and its signalling (one websocket per browser), `session` is one
browser's call: its own GStreamer pipeline, run through PyGObject,

    webrtcbin (receive) ! depay ! decode ! queue leaky ! thqa name=before ! ntiresr
      ! thqa name=after ! queue leaky ! encode ! pay ! webrtcbin (the same one, sending back)

`sdp` picks the codec and payload type the browser offered, `rate` the frame rate the call is
upscaled at. `check` drives headless
Chromium through chromium-driver (`webdriver`, the WebDriver protocol over HTTP).
"""
