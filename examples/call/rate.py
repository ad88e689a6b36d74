"""The frame rate a call is upscaled at, chosen from what the server kept up with."""

FPS_MAX, FPS_MIN = 30, 5


class Rate:
    """The frame rate the server upscales at, set once a second from the last second's figures.

    Down at once to what came out when the leaky queue let more than a tenth of the frames go;
    down to what the browser sends when it sends less (videorate would repeat frames); up, after
    5 s without a drop, to 80 % of what the processing time allows (1000 / ms per frame from
    thqa before to thqa after: the encoder and the browser need the rest), by 2 fps or more.
    Each change is new caps: ntiresr restarts its state once, which is why small changes are
    not made."""

    def __init__(self, fps=FPS_MAX):
        self.fps, self._calm, self._seen = fps, 0, 0

    def caps(self):
        return f"video/x-raw,framerate={self.fps}/1"

    def update(self, received, admitted, upscaled, busy_ms):
        """Frame rates from the browser, past videorate and out of ntiresr, and the mean time a
        frame took through thqa, ntiresr, thqa: whether the rate changed."""
        self._seen += 1
        if self._seen <= 3:  # the first frames are slow (the model's first runs, a keyframe)
            return False
        new = self.fps
        if admitted > 0 and admitted - upscaled > 0.1 * admitted:
            self._calm = 0
            new = max(FPS_MIN, min(self.fps - 1, int(upscaled)))
        elif 0 < received < self.fps - 2:
            self._calm = 0
            new = max(FPS_MIN, round(received))
        else:
            self._calm += 1
            if self._calm >= 5 and busy_ms:
                target = min(FPS_MAX, int(0.8 * 1000 / busy_ms), int(received))
                if target >= self.fps + 2:
                    new, self._calm = target, 0
        changed, self.fps = new != self.fps, new
        return changed
