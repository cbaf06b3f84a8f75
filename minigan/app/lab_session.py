"""The training behind `minigan lab`: one GAN on toy data, trained in a background thread, and its frames.

A :class:`LabSession` owns everything the page watches: a small MLP generator and discriminator,
their optimizers and a :class:`~minigan.gan.trainer.GANTrainer` on one of the toy data sets of
:mod:`minigan.data.toy` (the ring of 8, the grid of 25, two moons, the 1-D Gaussian and mixtures of
the early chapters, or points drawn with the mouse). Its thread is the only one that touches
minigan's arrays: the web server (:mod:`minigan.app.lab`) hands it validated commands through a
queue and reads back *frames*, plain dictionaries of host numbers ready for JSON.

A frame holds what GAN Lab draws (Kahng et al., 2018):

- the real samples and G's samples on a fixed noise batch;
- D's output on a grid over the view (a heat map; a curve for 1-D data): ``sigmoid(D)`` for the
  losses whose D outputs a logit, the raw score for the critics;
- at every fake point the arrow ``-d L_G / d x`` computed with minigan's autograd
  (:func:`minigan.autograd.grad`): the direction in which the generator loss wants that sample to
  move, the signal that flows back through D into G;
- the losses, mean D(x) and D(G(z)), and a downsampled history of them;
- after a "G step only", the chain of that step for one fake point: where it was, D's output there,
  the gradient, how much G's parameters moved, and where the same z lands now.

Frames cost time, so they are made at most ``fps`` times a second *and* never more often than
keeps their share of the thread's time under ``FRAME_BUDGET`` (10%): a slow frame (large
networks, many points) spaces the next ones out instead of slowing the training.

Every setting is checked by :func:`validate_settings` against :data:`SETTINGS` (type, range or
choices); a bad value raises :class:`LabRequestError`, whose message the server sends back.

Read next: ``minigan/app/lab.py`` (the web server and `minigan lab`).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

import minigan.functions as F
from minigan import backend as B
from minigan.autograd import Tensor, grad, no_grad
from minigan.data import toy
from minigan.gan import GANTrainer, frozen, get_loss
from minigan.nn import Dense, LeakyReLU, Module, ReLU, Sequential
from minigan.optim import Adam, RMSprop

__all__ = [
    "DATA_CHOICES",
    "LOSS_CHOICES",
    "PRESETS",
    "SETTINGS",
    "LabRequestError",
    "LabSession",
    "LabSettings",
    "validate_points",
    "validate_settings",
]

#: The data sets a learner can pick (``drawn``: the points drawn on the page).
DATA_CHOICES = ("ring", "grid", "moons", "gaussian-1d", "mixture-1d-near", "mixture-1d-far", "drawn")
#: The losses of :func:`minigan.gan.get_loss` the lab offers (all but the relativistic one).
LOSS_CHOICES = ("minimax", "ns", "wgan", "wgan-gp", "lsgan", "hinge")
OPTIMIZER_CHOICES = ("adam", "rmsprop")

#: The largest share of the training thread's time that frames may take.
FRAME_BUDGET = 0.10
#: Most points a drawing may have, and how far from the origin they may lie.
MAX_POINTS, MAX_COORD = 2000, 10.0
#: Heat-map resolution (2-D: a GRID x GRID grid; 1-D: CURVE points).
GRID, CURVE = 40, 200
#: Most points kept in the loss history a frame carries (older ones are merged in pairs).
HISTORY_POINTS = 400


class LabRequestError(ValueError):
    """A request the lab refuses (a bad setting, an unknown action): answered with a 4xx, never raised in training."""


@dataclass
class LabSettings:
    """Everything a learner can set; :data:`SETTINGS` gives each field's allowed values."""

    data: str = "ring"
    loss: str = "ns"
    optimizer: str = "adam"
    g_lr: float = 1e-3
    d_lr: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    d_steps: int = 1  # k: D updates per G update
    latent_dim: int = 16
    g_hidden: int = 64
    g_layers: int = 2
    d_hidden: int = 64
    d_layers: int = 2
    batch_size: int = 256
    r1_gamma: float = 0.0
    gp_weight: float = 10.0  # WGAN-GP only
    clip_value: float = 0.01  # WGAN (weight clipping) only
    seed: int = 0
    d_head_start: int = 0  # D updates alone after each reset (chapter 7's saturation experiment)
    lr_decay_steps: int = 0  # cosine decay of both learning rates to 0 over this many steps (0: off)
    stop_at: int = 0  # pause at this step (0: never)
    n_points: int = 1000  # fake (and real) points drawn
    fps: float = 15.0


#: Per setting: ("choice", choices) or ("int" | "float", low, high), inclusive.
SETTINGS: dict[str, tuple[Any, ...]] = {
    "data": ("choice", DATA_CHOICES),
    "loss": ("choice", LOSS_CHOICES),
    "optimizer": ("choice", OPTIMIZER_CHOICES),
    "g_lr": ("float", 1e-6, 1.0),
    "d_lr": ("float", 1e-6, 1.0),
    "beta1": ("float", 0.0, 0.99),
    "beta2": ("float", 0.0, 0.9999),
    "d_steps": ("int", 1, 20),
    "latent_dim": ("int", 1, 64),
    "g_hidden": ("int", 2, 512),
    "g_layers": ("int", 1, 5),
    "d_hidden": ("int", 2, 512),
    "d_layers": ("int", 1, 5),
    "batch_size": ("int", 8, 2048),
    "r1_gamma": ("float", 0.0, 100.0),
    "gp_weight": ("float", 0.0, 100.0),
    "clip_value": ("float", 1e-4, 1.0),
    "seed": ("int", 0, 2**31 - 1),
    "d_head_start": ("int", 0, 1000),
    "lr_decay_steps": ("int", 0, 1_000_000),
    "stop_at": ("int", 0, 10_000_000),
    "n_points": ("int", 50, 5000),
    "fps": ("float", 1.0, 30.0),
}
assert set(SETTINGS) == {f.name for f in fields(LabSettings)}

#: Settings that change the networks' shapes: changing one rebuilds G and D (a reset, same seed).
REBUILD = {"latent_dim", "g_hidden", "g_layers", "d_hidden", "d_layers"}
#: Settings that need fresh optimizers (the weights are kept).
NEW_OPTIMIZERS = {"optimizer", "beta1", "beta2"}

#: Chapter 4's 2-D recipe (its `train_2d`): the networks of benchmarks/toy2d.py, Adam 1e-3 with betas
#: (0.5, 0.999), R1 0.1, batches of 256, cosine decay over the run, 2,500 points of fixed noise.
_CH4_2D = dict(loss="ns", g_lr=1e-3, d_lr=1e-3, beta1=0.5, beta2=0.999, latent_dim=16, g_hidden=128, g_layers=2,
               d_hidden=128, d_layers=2, batch_size=256, r1_gamma=0.1, seed=0, n_points=2500)  # fmt: skip
#: Chapter 7's saturation experiment on the ring: D trains 100 updates alone, then G with
#: Adam.gan_defaults (2e-4, betas (0.5, 0.999)); compare the arrows of minimax and non-saturating.
_CH7 = dict(data="ring", g_lr=2e-4, d_lr=2e-4, beta1=0.5, beta2=0.999, d_steps=1, latent_dim=16, g_hidden=128,
            g_layers=2, d_hidden=128, d_layers=2, batch_size=256, r1_gamma=0.0, d_head_start=100, seed=0)  # fmt: skip

#: ``minigan lab --preset NAME``: the settings of the chapters' figures (tutorials/04, 07), over the defaults
#: (completed below, so that choosing one preset after another leaves nothing of the first behind).
PRESETS: dict[str, dict[str, Any]] = {
    "ch4-ring": {**_CH4_2D, "data": "ring", "lr_decay_steps": 3000, "stop_at": 3000},
    "ch4-grid": {**_CH4_2D, "data": "grid", "lr_decay_steps": 4000, "stop_at": 4000},
    # Chapter 4, section 1: an MLP G (latent 4, 32 wide) on two far modes, Adam 0.005, batches of 512.
    "ch4-far-modes": dict(
        data="mixture-1d-far",
        loss="ns",
        g_lr=5e-3,
        d_lr=5e-3,
        beta1=0.5,
        latent_dim=4,
        g_hidden=32,
        g_layers=2,
        d_hidden=32,
        d_layers=2,
        batch_size=512,
        lr_decay_steps=2000,
        stop_at=2000,
        n_points=2000,
    ),
    "ch7-minimax": {**_CH7, "loss": "minimax"},
    "ch7-ns": {**_CH7, "loss": "ns"},
    # Chapter 7, section 6: the critics' own optimizers.
    "ch7-wgan": {
        **_CH7,
        "loss": "wgan",
        "optimizer": "rmsprop",
        "g_lr": 5e-5,
        "d_lr": 5e-5,
        "d_steps": 5,
        "clip_value": 0.01,
        "d_head_start": 0,
    },
    "ch7-wgan-gp": {
        **_CH7,
        "loss": "wgan-gp",
        "g_lr": 1e-4,
        "d_lr": 1e-4,
        "beta1": 0.0,
        "beta2": 0.9,
        "d_steps": 5,
        "gp_weight": 10.0,
        "d_head_start": 0,
    },
}

PRESETS = {name: {**asdict(LabSettings()), **values} for name, values in PRESETS.items()}

#: The view of each data set: (x0, x1, y0, y1); for 1-D data y is D's output axis.
VIEWS: dict[str, tuple[float, float, float, float]] = {
    "ring": (-1.6, 1.6, -1.6, 1.6),
    "grid": (-5.5, 5.5, -5.5, 5.5),
    "moons": (-1.5, 2.5, -1.75, 2.25),
    "drawn": (-2.0, 2.0, -2.0, 2.0),
    "gaussian-1d": (-2.0, 10.0, 0.0, 1.0),
    "mixture-1d-near": (-2.0, 10.0, 0.0, 1.0),
    "mixture-1d-far": (-2.0, 10.0, 0.0, 1.0),
}

#: The points of "drawn" before anything is drawn: a small smile, so that the choice trains at once.
_DEFAULT_DRAWING = [[-0.8, 0.6], [0.8, 0.6]] + [
    [1.1 * math.cos(math.pi * (1.15 + 0.7 * k / 8)), 1.1 * math.sin(math.pi * (1.15 + 0.7 * k / 8)) + 0.2]
    for k in range(9)
]


# ----------------------------------------------------------------------------
# Validation: every value from the page passes through here
# ----------------------------------------------------------------------------
def validate_settings(payload: Any) -> dict[str, Any]:
    """Check a JSON object of settings (any subset of :data:`SETTINGS`); return it with ints and floats normalised.

    Raises :class:`LabRequestError` naming the first bad key: unknown, of the wrong type, out of range,
    or not one of its choices.
    """
    if not isinstance(payload, dict):
        raise LabRequestError("settings must be a JSON object")
    clean: dict[str, Any] = {}
    for key, value in payload.items():
        spec = SETTINGS.get(key)
        if spec is None:
            raise LabRequestError(f"unknown setting {key!r}; known: {', '.join(SETTINGS)}")
        kind = spec[0]
        if kind == "choice":
            if not isinstance(value, str) or value not in spec[1]:
                raise LabRequestError(f"{key} must be one of {', '.join(spec[1])}, got {value!r}")
            clean[key] = value
            continue
        low, high = spec[1], spec[2]
        # bool is an int in Python, but `true` for a learning rate is a mistake of the page.
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind == "int" and not (numeric and float(value).is_integer()):
            raise LabRequestError(f"{key} must be an integer, got {value!r}")
        if kind == "float" and not (numeric and math.isfinite(value)):
            raise LabRequestError(f"{key} must be a finite number, got {value!r}")
        if not low <= value <= high:
            raise LabRequestError(f"{key} must be in [{low:g}, {high:g}], got {value!r}")
        clean[key] = int(value) if kind == "int" else float(value)
    return clean


def validate_points(payload: Any) -> list[list[float]]:
    """Check drawn points: a list of 1 to :data:`MAX_POINTS` pairs of finite numbers within +-:data:`MAX_COORD`."""
    if not isinstance(payload, list) or not 1 <= len(payload) <= MAX_POINTS:
        raise LabRequestError(f"points must be a list of 1 to {MAX_POINTS} [x, y] pairs")
    points = []
    for p in payload:
        ok = isinstance(p, list) and len(p) == 2
        ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p)
        if not ok or max(abs(p[0]), abs(p[1])) > MAX_COORD:
            raise LabRequestError(f"each point must be [x, y] with finite |x|, |y| <= {MAX_COORD:g}, got {p!r}")
        points.append([float(p[0]), float(p[1])])
    return points


# ----------------------------------------------------------------------------
# Data and networks
# ----------------------------------------------------------------------------
def make_data(name: str, drawn: list[list[float]]) -> toy.Mixture:
    """The data source of a :data:`DATA_CHOICES` name (every one is a :class:`~minigan.data.toy.Mixture`)."""
    if name == "ring":
        return toy.ring_2d()
    if name == "grid":
        return toy.grid_2d()
    if name == "moons":
        return toy.two_moons()
    if name == "gaussian-1d":
        return toy.gaussian_1d()
    if name.startswith("mixture-1d-"):  # chapter 4's two modes around 4: near (averaged) or far (collapse)
        return toy.mixture_1d(name.removeprefix("mixture-1d-"), sigma=0.5, center=4.0)
    return toy.Mixture(drawn, sigma=0.05, name="drawn")  # a small Gaussian on every drawn point


def build_networks(s: LabSettings, dim: int) -> tuple[Module, Module]:
    """G: latent -> hidden x layers -> dim; D: dim -> hidden x layers -> 1 (a logit or a score).

    As the chapters: in 2-D the networks of chapter 4 (ReLU in G, LeakyReLU 0.2 in D), in 1-D its
    MLP generator (LeakyReLU 0.2 in both). G first, then D, from one generator seeded with ``seed``.
    """
    rng = B.Generator(s.seed)
    g_act: Callable[[], Module] = ReLU if dim == 2 else (lambda: LeakyReLU(0.2))
    g_mods: list[Module] = []
    width = s.latent_dim
    for _ in range(s.g_layers):
        g_mods += [Dense(width, s.g_hidden, rng=rng), g_act()]
        width = s.g_hidden
    G = Sequential(*g_mods, Dense(width, dim, rng=rng))
    d_mods: list[Module] = []
    width = dim
    for _ in range(s.d_layers):
        d_mods += [Dense(width, s.d_hidden, rng=rng), LeakyReLU(0.2)]
        width = s.d_hidden
    return G, Sequential(*d_mods, Dense(width, 1, rng=rng))


def _host(x: Any) -> Any:
    return B.to_host(x.data if isinstance(x, Tensor) else x)


def _rounded(values: Any, digits: int = 4) -> list[float]:
    """A host array as a flat list of rounded floats (a frame is JSON: fewer digits, smaller frames)."""
    flat = B.host_np.asarray(values, dtype="float64").reshape(-1)
    flat = B.host_np.nan_to_num(flat, nan=0.0, posinf=1e6, neginf=-1e6)
    return [round(v, digits) for v in flat.tolist()]


def _finite_or_none(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# ----------------------------------------------------------------------------
# The session
# ----------------------------------------------------------------------------
class LabSession:
    """One GAN, trained in a background thread that the page drives.

    Use :meth:`start` and :meth:`stop`; :meth:`submit` queues a command (``("play", None)``,
    ``("settings", {...})``, ...) and waits until the training thread has applied it;
    :meth:`latest_frame` and :meth:`wait_frame` read the frames.
    """

    def __init__(self, settings: LabSettings | None = None) -> None:
        self.settings = settings or LabSettings()
        self.drawn = [list(p) for p in _DEFAULT_DRAWING]
        self.playing = False
        self._commands: queue.Queue[tuple[str, Any, threading.Event, list[Any]]] = queue.Queue()
        self._frame: dict[str, Any] | None = None
        self._frame_seq = 0
        self._frame_lock = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._message: str | None = None
        self._chain: dict[str, Any] | None = None
        self._last_frame_at = 0.0
        self._frame_seconds = 0.0  # how long the last frame took
        self._rate_window: tuple[float, int] = (time.perf_counter(), 0)  # (since, step then)
        self.steps_per_second = 0.0
        self._build()

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        """Start the training thread (it waits, paused, until ``play``)."""
        self._thread = threading.Thread(target=self._run, name="minigan-lab-training", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the training thread and wake every reader of frames."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._frame_lock:
            self._frame_lock.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def submit(self, action: str, argument: Any = None, timeout: float = 30.0) -> dict[str, Any]:
        """Queue a validated command for the training thread and wait for it; returns the state after it.

        Raises :class:`LabRequestError` if the thread reports the command as impossible (e.g. settings
        whose networks cannot be built) and TimeoutError if it does not answer in time.
        """
        done, result = threading.Event(), []
        self._commands.put((action, argument, done, result))
        if not done.wait(timeout):
            raise TimeoutError(f"the training thread did not apply {action!r} within {timeout:g} s")
        if result and isinstance(result[0], LabRequestError):
            raise result[0]
        return self.state()

    def state(self) -> dict[str, Any]:
        """What the page's controls show: settings, playing, step counters, the latest statistics."""
        frame = self.latest_frame() or {}
        return {
            "settings": asdict(self.settings),
            "playing": self.playing,
            "step": frame.get("step", 0),
            "d_updates": frame.get("d_updates", 0),
            "g_updates": frame.get("g_updates", 0),
            "stats": frame.get("stats", {}),
            "frame": frame.get("seq", 0),
            "points": len(self.drawn),
            "message": frame.get("message"),
        }

    def latest_frame(self) -> dict[str, Any] | None:
        with self._frame_lock:
            return self._frame

    def wait_frame(self, after: int, timeout: float) -> dict[str, Any] | None:
        """The first frame with ``seq > after``, or None after ``timeout`` seconds (or when stopped)."""
        with self._frame_lock:
            self._frame_lock.wait_for(
                lambda: self._stop.is_set() or (self._frame is not None and self._frame["seq"] > after), timeout
            )
            if self._frame is not None and self._frame["seq"] > after:
                return self._frame
            return None

    # -- the training thread ------------------------------------------------------
    def _run(self) -> None:
        self._guarded(self._publish_frame)
        while not self._stop.is_set():
            self._apply_commands(block=not self.playing)
            if self.playing and not self._stop.is_set():
                self._guarded(self._train_one_step)
                now = time.perf_counter()
                # A frame when one is due, and at once when training just paused itself (an error, stop_at).
                if not self.playing or now - self._last_frame_at >= self._frame_interval():
                    self._guarded(self._publish_frame)

    def _frame_interval(self) -> float:
        """Seconds between frames: 1/fps, or longer when frames are slow, so that they take at most 10%."""
        return max(1.0 / self.settings.fps, self._frame_seconds * (1.0 - FRAME_BUDGET) / FRAME_BUDGET)

    def _apply_commands(self, block: bool) -> None:
        try:
            item = self._commands.get(timeout=0.1) if block else self._commands.get_nowait()
        except queue.Empty:
            return
        while True:
            action, argument, done, result = item
            try:
                self._guarded(lambda a=action, arg=argument: self._apply(a, arg), raise_request_errors=True)
            except LabRequestError as e:
                result.append(e)
            if action != "play":  # a frame that shows the command's effect at once
                self._guarded(self._publish_frame)
            done.set()
            try:
                item = self._commands.get_nowait()
            except queue.Empty:
                return

    def _guarded(self, fn: Callable[[], Any], raise_request_errors: bool = False) -> None:
        """Run ``fn`` in the training thread; any failure pauses training with a message instead of ending it."""
        try:
            fn()
        except LabRequestError:
            if raise_request_errors:
                raise
        except Exception as e:  # noqa: BLE001 - the thread must outlive any error; the page shows it
            self.playing = False
            self._message = f"paused: {type(e).__name__}: {e}"

    def _apply(self, action: str, argument: Any) -> None:
        if action == "play":
            self.playing, self._message, self._chain = True, None, None
        elif action == "pause":
            self.playing = False
        elif action == "step_d":
            self.playing = False
            self._partial.update(self._d_stats(self.trainer.discriminator_step()))
        elif action == "step_g":
            self.playing = False
            self._g_step_with_chain()
        elif action == "step":
            self.playing = False
            self._train_one_step()
        elif action == "reset":
            self.playing = False
            if argument is not None:
                self.settings.seed = argument
            self._build()
        elif action == "settings":
            self._change_settings(argument)
        elif action == "points":
            self.drawn = argument
            if self.settings.data == "drawn":
                self._set_data()
        else:  # the server validates actions; this guards direct callers
            raise LabRequestError(f"unknown action {action!r}")

    # -- building and changing ----------------------------------------------------
    def _build(self) -> None:
        """Networks, optimizers and trainer from the settings: step 0, weights from ``seed``."""
        s = self.settings
        self.data = make_data(s.data, self.drawn)
        self.dim = self.data.dim
        self.G, self.D = build_networks(s, self.dim)
        self.g_opt, self.d_opt = self._optimizers()
        self.trainer = GANTrainer(
            self.G, self.D, self.g_opt, self.d_opt, self.data, loss=s.loss, latent_dim=s.latent_dim,
            batch_size=s.batch_size, d_steps=s.d_steps, seed=s.seed, n_fixed=8,
        )  # fmt: skip
        self._apply_loss_settings()
        self.trainer.read_back_every = 100
        # What the page shows, drawn from streams of their own: watching changes no training number.
        self._view_z = self.trainer.sample_noise(s.n_points, B.Generator(s.seed + 1))
        self._set_real_view()
        self._history: dict[str, list[float]] = {k: [] for k in ("step", "d_loss", "g_loss", "d_real", "d_fake")}
        self._history_stride, self._pending = 1, 0
        self._sums = dict.fromkeys(("d_loss", "g_loss", "d_real", "d_fake"), 0.0)
        # The numbers shown: the last full step's record, overridden by any D or G step alone since.
        self._last_record: Any = None
        self._partial: dict[str, Any] = {}
        self._chain = None
        self._message = None
        self._rate_window = (time.perf_counter(), 0)
        self.steps_per_second = 0.0
        for _ in range(s.d_head_start):  # chapter 7: D learns alone first, G stays as initialised
            self._partial.update(self._d_stats(self.trainer.discriminator_step()))

    def _optimizers(self) -> tuple[Any, Any]:
        s = self.settings
        if s.optimizer == "rmsprop":
            return RMSprop(self.G.parameters(), lr=s.g_lr), RMSprop(self.D.parameters(), lr=s.d_lr)
        betas = (s.beta1, s.beta2)
        return Adam(self.G.parameters(), lr=s.g_lr, betas=betas), Adam(self.D.parameters(), lr=s.d_lr, betas=betas)

    def _apply_loss_settings(self) -> None:
        """The loss and its companions (k, GP weight, clipping, R1) onto the running trainer."""
        s, tr = self.settings, self.trainer
        tr.loss = get_loss(s.loss)
        tr.d_steps = s.d_steps
        tr.gp_weight = s.gp_weight if s.loss == "wgan-gp" else 0.0
        tr.clip_value = s.clip_value if s.loss == "wgan" else None
        tr.r1_gamma = s.r1_gamma
        tr.batch_size = s.batch_size

    def _set_data(self) -> None:
        self.data = make_data(self.settings.data, self.drawn)
        self.trainer.data = self.data
        self._set_real_view()

    def _set_real_view(self) -> None:
        real = self.data.sample(self.settings.n_points, B.Generator(self.settings.seed + 2))
        self._real_host = _host(real)

    def _change_settings(self, changes: dict[str, Any]) -> None:
        s = self.settings
        old = asdict(s)
        for key, value in changes.items():
            setattr(s, key, value)
        changed = {k for k in changes if old[k] != changes[k]}
        new_dim = make_data(s.data, self.drawn).dim
        if changed & REBUILD or "seed" in changed or new_dim != self.dim:
            self._build()
            self._message = "networks rebuilt (a reset): " + ", ".join(sorted(changed))
            return
        if changed & NEW_OPTIMIZERS:
            self.g_opt, self.d_opt = self._optimizers()
            self.trainer.g_opt, self.trainer.d_opt = self.g_opt, self.d_opt
        self.g_opt.lr, self.d_opt.lr = s.g_lr, s.d_lr
        self._apply_loss_settings()
        if "data" in changed:
            self._set_data()
        if "n_points" in changed:
            self._view_z = self.trainer.sample_noise(s.n_points, B.Generator(s.seed + 1))
            self._set_real_view()

    # -- steps --------------------------------------------------------------------
    def _train_one_step(self) -> None:
        s = self.settings
        if s.lr_decay_steps > 0:  # minigan.gan.CosineLR's schedule, at the settings' current rates
            t = min(self.trainer.step, s.lr_decay_steps) / s.lr_decay_steps
            scale = 0.5 * (1.0 + math.cos(math.pi * t))
            self.g_opt.lr, self.d_opt.lr = max(s.g_lr * scale, 1e-12), max(s.d_lr * scale, 1e-12)
        self._last_record, self._partial = self.trainer.train_step(), {}
        if s.stop_at and self.trainer.step >= s.stop_at:
            self.playing = False
            self._message = f"paused at step {self.trainer.step} (stop_at)"
        if len(self.trainer.history) > 200:  # the lab keeps its own downsampled curves (_record_history)
            self._record_history()

    @staticmethod
    def _d_stats(stats: dict[str, Any]) -> dict[str, Any]:
        """What a D update alone changes of the numbers shown (still on the device)."""
        return {k: stats[k] for k in ("d_loss", "d_real", "d_fake")}

    def _g_step_with_chain(self) -> None:
        """One G update, and the chain it follows for the first fake point of the view."""
        z0 = Tensor(self._view_z.data[:1, ...])
        before = self._point_report(z0)
        params_before = [B.copy(p.data) for p in self.G.parameters()]
        stats = self.trainer.generator_step()
        self._partial["g_loss"] = stats["g_loss"]
        xp = B.xp()
        moved = sum(
            float(_host(xp.sum((p.data - old) ** 2))) for p, old in zip(self.G.parameters(), params_before)
        )  # fmt: skip
        after = self._point_report(z0)
        self._chain = {
            "point": before["point"],
            "d_output": before["d_output"],
            "gradient": before["gradient"],
            "g_loss": _finite_or_none(_host(stats["g_loss"])),
            "g_param_change": math.sqrt(moved),
            "g_grad_norm": _finite_or_none(_host(stats["g_grad_norm"])),
            "moved_to": after["point"],
            "d_output_after": after["d_output"],
            "g_updates": self.trainer.g_updates,
        }

    def _point_report(self, z: Tensor) -> dict[str, Any]:
        with no_grad():
            x = self.G(z)
        out, gradient = self._d_and_gradient(x)
        return {"point": _rounded(_host(x)), "d_output": _rounded(out)[0], "gradient": _rounded(gradient)}

    # -- frames -------------------------------------------------------------------
    def _d_and_gradient(self, fake: Tensor) -> tuple[Any, Any]:
        """D's output at the fake points (as shown: sigmoid for logits) and ``d L_G / d x`` for each point.

        The loss is summed over the points, not averaged, so each row is that point's own gradient.
        D is frozen: the gradient flows through its weights to the points but changes none of them.
        """
        x = Tensor(fake.data, requires_grad=True)
        with frozen(self.D):
            scores = self.D(x)
            loss = self.trainer.loss.g_loss(scores, None) * x.shape[0]
            (gx,) = grad(loss, [x])
        shown = F.sigmoid(scores).data if self.trainer.loss.output == "logit" else scores.data
        return _host(shown), _host(gx)

    def _d_on_grid(self) -> Any:
        x0, x1, y0, y1 = VIEWS[self.settings.data]
        np = B.host_np
        if self.dim == 1:
            points = np.linspace(x0, x1, CURVE).reshape(-1, 1)
        else:  # row r is y = y1 - ..., top to bottom as a picture, column c is x
            xs, ys = np.linspace(x0, x1, GRID), np.linspace(y1, y0, GRID)
            gx, gy = np.meshgrid(xs, ys)
            points = np.stack([gx.reshape(-1), gy.reshape(-1)], axis=1)
        with no_grad():
            scores = self.D(Tensor(B.to_device(points, dtype=B.float_dtype())))
            shown = F.sigmoid(scores) if self.trainer.loss.output == "logit" else scores
        return _host(shown)

    def _record_history(self) -> None:
        """Move the trainer's new records into the curves (the trainer keeps none of them).

        Each point of a curve is the mean of ``_history_stride`` consecutive steps (plotted at the
        last one): a mean, not a sample, so that a loss oscillating from step to step does not alias
        into a false zigzag when the curve is thinned.
        """
        records, self.trainer.history = self.trainer.history, []
        h, keys = self._history, ("d_loss", "g_loss", "d_real", "d_fake")
        for r in records:
            for key in keys:
                self._sums[key] += float(r[key])
            self._pending += 1
            if self._pending < self._history_stride:
                continue
            h["step"].append(r["step"])
            for key in keys:
                h[key].append(_finite_or_none(self._sums[key] / self._pending))
                self._sums[key] = 0.0
            self._pending = 0
        if len(h["step"]) > HISTORY_POINTS:  # merge neighbours in pairs, and from now on average twice as many
            for key in keys:
                v = h[key]
                h[key] = [None if a is None or b is None else (a + b) / 2 for a, b in zip(v[::2], v[1::2])]
            h["step"] = h["step"][1::2]
            self._history_stride *= 2

    def _publish_frame(self) -> None:
        start = time.perf_counter()
        tr, s = self.trainer, self.settings
        last = self._last_record
        self._record_history()
        with no_grad():
            fake = self.G(self._view_z)
        d_fake, gradient = self._d_and_gradient(fake)
        stats: dict[str, Any] = {}
        if last is not None:
            stats = {k: _finite_or_none(last[k]) for k in ("d_loss", "g_loss", "d_real", "d_fake")}
        stats.update({k: _finite_or_none(_host(v)) for k, v in self._partial.items()})
        if any(v is None for v in stats.values()) and self.playing:
            self.playing = False
            self._message = "paused: a loss became NaN or infinite; lower the learning rates, then reset"
        now = time.perf_counter()
        since, step_then = self._rate_window
        if now - since >= 1.0:
            self.steps_per_second = (tr.step - step_then) / (now - since)
            self._rate_window = (now, tr.step)
        frame = {
            "step": tr.step,
            "d_updates": tr.d_updates,
            "g_updates": tr.g_updates,
            "playing": self.playing,
            "dim": self.dim,
            "view": list(VIEWS[s.data]),
            "output": tr.loss.output,  # "logit": the heat map is a probability; "score": a critic's value
            "real": _rounded(self._real_host),
            "fake": _rounded(_host(fake)),
            "fake_d": _rounded(d_fake),
            "arrows": _rounded(-gradient, 6),  # -grad: where the G loss pushes each fake point
            "heat": _rounded(self._d_on_grid()),
            "heat_size": CURVE if self.dim == 1 else GRID,
            "stats": stats,
            "history": {k: list(v) for k, v in self._history.items()},
            "chain": self._chain,
            "message": self._message,
            "settings": asdict(s),
            "steps_per_second": round(self.steps_per_second, 1),
        }
        with self._frame_lock:
            self._frame_seq += 1
            frame["seq"] = self._frame_seq
            self._frame = frame
            self._frame_lock.notify_all()
        self._last_frame_at = time.perf_counter()
        self._frame_seconds = self._last_frame_at - start
