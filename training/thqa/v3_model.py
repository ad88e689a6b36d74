"""thqa v3 estimators: a tiny MLP (features -> QP-equivalent, effective resolution) and a monotone
map (estimates -> VMAF/20). Everything is small enough to be written into Rust as constants.

- `Mlp`: standardised features -> dense(H, ReLU) -> dense(2): [qp, res]. Rows without a QP label
  (VP9, originals) train only the `res` output.
- `Monotone`: score = 5 * sigmoid(a - softplus(b) * (qp - 30) / 10 + softplus(c) * (res + 1)):
  never rises with the QP estimate, never falls with the resolution estimate.
"""

import numpy as np
import torch

QP_CENTRE, QP_SPAN = 30.0, 10.0
QP_RANGE = (0.0, 51.0)  # H.265's QPs
RES_LOWEST = -2.0  # the lowest resolution label (x1/4)


def clamp(qp, res, log2_upscale):
    """Estimates brought into what they can be: QP within H.265's range; the resolution no higher
    than the frame's own pixels allow (-log2_upscale, at most 0) nor lower than the lowest label
    (unless the frame itself is smaller)."""
    hi = np.minimum(0.0, -np.asarray(log2_upscale, dtype=np.float64))
    lo = np.minimum(RES_LOWEST, hi)
    return np.clip(qp, *QP_RANGE), np.clip(res, lo, hi)



def _net(d: int, hidden: int) -> torch.nn.Sequential:
    return torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))


class Mlp:
    """features [n, d] -> (qp [n], res [n])."""

    def __init__(self, hidden: int = 16, steps: int = 1500, wd: float = 1e-3, seed: int = 0):
        self.hidden, self.steps, self.wd, self.seed = hidden, steps, wd, seed

    def fit(self, x: np.ndarray, qp: np.ndarray, res: np.ndarray) -> "Mlp":
        torch.manual_seed(self.seed)
        self.mu, self.sd = x.mean(0), x.std(0) + 1e-6
        xt = torch.tensor((x - self.mu) / self.sd, dtype=torch.float32)
        q = torch.tensor(np.nan_to_num((qp - QP_CENTRE) / QP_SPAN), dtype=torch.float32)
        has_q = torch.tensor(np.isfinite(qp), dtype=torch.float32)
        r = torch.tensor(res, dtype=torch.float32)
        self.net = _net(x.shape[1], self.hidden)
        opt = torch.optim.Adam(self.net.parameters(), lr=1e-2, weight_decay=self.wd)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.steps)
        for _ in range(self.steps):
            out = self.net(xt)
            lq = (torch.nn.functional.huber_loss(out[:, 0], q, reduction="none", delta=0.5) * has_q).sum() / has_q.sum()
            lr = torch.nn.functional.huber_loss(out[:, 1], r, delta=0.5)
            opt.zero_grad()
            (lq + lr).backward()
            opt.step()
            sched.step()
        return self

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            out = self.net(torch.tensor((x - self.mu) / self.sd, dtype=torch.float32)).numpy().astype(np.float64)
        return out[:, 0] * QP_SPAN + QP_CENTRE, out[:, 1]

    def constants(self) -> dict[str, np.ndarray]:
        l1, l2 = self.net[0], self.net[2]
        return {"mu": self.mu, "sd": self.sd, "w1": l1.weight.detach().numpy().astype(np.float64),
                "b1": l1.bias.detach().numpy().astype(np.float64),
                "w2": l2.weight.detach().numpy().astype(np.float64), "b2": l2.bias.detach().numpy().astype(np.float64)}


class Ridge:
    """Linear ridge on standardised features with their products with the upscale feature (col 0)."""

    def __init__(self, lam: float = 1.0):
        self.lam = lam

    def _x(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mu) / self.sd
        return np.hstack([np.ones((len(z), 1)), z, z[:, 1:] * z[:, :1]])

    def fit(self, x, qp, res) -> "Ridge":
        self.mu, self.sd = x.mean(0), x.std(0) + 1e-6
        a = self._x(x)
        reg = self.lam * np.eye(a.shape[1])
        reg[0, 0] = 0
        m = np.isfinite(qp)
        self.wq = np.linalg.solve(a[m].T @ a[m] + reg, a[m].T @ qp[m])
        self.wr = np.linalg.solve(a.T @ a + reg, a.T @ res)
        return self

    def predict(self, x):
        a = self._x(x)
        return a @ self.wq, a @ self.wr


class Monotone:
    """(qp, res[, extra]) -> 0..5, monotone in qp (down) and res (up); `extra` columns are free."""

    def __init__(self, steps: int = 800):
        self.steps = steps

    def _z(self, p, qp, res, extra):
        sp = torch.nn.functional.softplus
        z = p[0] - sp(p[1]) * (qp - QP_CENTRE) / QP_SPAN + sp(p[2]) * (res + 1)
        if extra is not None:
            z = z + extra @ p[3:]
        return z

    def fit(self, qp, res, target, extra=None) -> "Monotone":
        t = lambda a: None if a is None else torch.tensor(a, dtype=torch.float64)
        qp_t, res_t, y, ex = t(qp), t(res), t(target), t(extra)
        k = 0 if extra is None else extra.shape[1]
        p = torch.zeros(3 + k, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([p], max_iter=self.steps, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = ((5 * torch.sigmoid(self._z(p, qp_t, res_t, ex)) - y) ** 2).mean() + 1e-4 * (p[3:] ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        self.p = p.detach()
        return self

    def predict(self, qp, res, extra=None) -> np.ndarray:
        t = lambda a: None if a is None else torch.tensor(a, dtype=torch.float64)
        return (5 * torch.sigmoid(self._z(self.p, t(qp), t(res), t(extra)))).numpy()

    def constants(self) -> dict[str, float]:
        sp = torch.nn.functional.softplus
        return {"a": float(self.p[0]), "b": float(sp(self.p[1])), "c": float(sp(self.p[2])),
                "extra": [float(v) for v in self.p[3:]]}
