"""`minigan lab` without a browser: the server's checks, its validation, the event stream, the controls.

Each test starts a lab on a free port of 127.0.0.1 (in this process, in background threads) and
talks to it with ``http.client``, which lets a test send any ``Host`` or ``Origin`` header. The
networks are small (the defaults: 64 wide), so a test trains for a fraction of a second. The
real-browser test is ``tests/test_lab_browser.py``.
"""

from __future__ import annotations

import http.client
import json
import time

import pytest

from minigan import cli
from minigan.app.common import UsageError
from minigan.app.lab import LabOptions, settings_for, start_lab
from minigan.app.lab_session import (
    PRESETS,
    SETTINGS,
    LabRequestError,
    LabSession,
    LabSettings,
    validate_points,
    validate_settings,
)


@pytest.fixture
def lab():
    server = start_lab(LabOptions(port=0, no_browser=True)).serve_in_background()
    yield server
    server.stop()


def request(lab, method, path, body=None, headers=None, raw=None):
    """(status, decoded JSON or text) of one request; ``Host`` is the lab's own unless given."""
    conn = http.client.HTTPConnection("127.0.0.1", lab.port, timeout=30)
    sent = {"Host": f"127.0.0.1:{lab.port}"}
    if body is not None or raw is not None:
        sent["Content-Type"] = "application/json"
    sent.update(headers or {})
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    conn.request(method, path, body=data, headers=sent)
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    if response.getheader("Content-Type", "").startswith("application/json"):
        return response.status, json.loads(text)
    return response.status, text


def control(lab, action, **extra):
    status, answer = request(lab, "POST", "/api/control", {"action": action, **extra})
    assert status == 200, answer
    return answer


def read_frames(lab, n, headers=None, timeout=30.0):
    """The first ``n`` frames of a fresh event stream."""
    conn = http.client.HTTPConnection("127.0.0.1", lab.port, timeout=timeout)
    conn.request("GET", "/events", headers={"Host": f"localhost:{lab.port}", **(headers or {})})
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    frames, event = [], None
    while len(frames) < n:
        line = response.readline().decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "frame":
            frames.append(json.loads(line[6:]))
    conn.close()
    return frames


# ----------------------------------------------------------------------------
# The page
# ----------------------------------------------------------------------------
def test_serves_the_page_and_its_files(lab):
    status, html = request(lab, "GET", "/")
    assert status == 200 and '<script src="/lab.js">' in html and 'href="/lab.css"' in html
    assert "://" not in html  # nothing from the network: it works offline
    for path, words in (("/lab.js", "EventSource"), ("/lab.css", "--real")):
        status, text = request(lab, "GET", path)
        assert status == 200 and words in text and "://" not in text
    status, answer = request(lab, "GET", "/no-such-page")
    assert status == 404 and "no such page" in answer["error"]


# ----------------------------------------------------------------------------
# Only this machine's pages may drive it
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example:{port}", "127.0.0.1:1", "localhost", "", "192.168.1.5:{port}"])
def test_a_foreign_host_header_is_refused(lab, host):
    host = host.format(port=lab.port)
    for method, path, body in (("GET", "/", None), ("GET", "/api/state", None), ("POST", "/api/control", {})):
        status, answer = request(lab, method, path, body, headers={"Host": host})
        assert status == 403, (method, path)
        assert "bad Host header" in answer["error"]
    assert request(lab, "GET", "/api/state", headers={"Host": f"localhost:{lab.port}"})[0] == 200


def test_a_foreign_origin_cannot_send_controls_or_read_frames(lab):
    evil = {"Origin": "http://evil.example"}
    status, answer = request(lab, "POST", "/api/control", {"action": "play"}, headers=evil)
    assert status == 403 and "not allowed" in answer["error"]
    status, _ = request(lab, "GET", "/events", headers=evil)
    assert status == 403
    for origin in ("null", f"http://127.0.0.1:{lab.port + 1}", f"https://127.0.0.1:{lab.port}"):
        assert request(lab, "POST", "/api/settings", {"d_lr": 0.1}, headers={"Origin": origin})[0] == 403
    state = request(lab, "GET", "/api/state")[1]
    assert state["playing"] is False and state["settings"]["d_lr"] == 1e-3  # nothing was applied
    own = {"Origin": f"http://localhost:{lab.port}"}
    assert request(lab, "POST", "/api/settings", {"d_lr": 0.01}, headers=own)[0] == 200
    assert read_frames(lab, 1, headers={"Origin": f"http://127.0.0.1:{lab.port}"})[0]["settings"]["d_lr"] == 0.01


# ----------------------------------------------------------------------------
# Validation: clear 4xx answers, and the training goes on
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path, body, words",
    [
        ("/api/control", {"action": "fly"}, "action must be one of"),
        ("/api/control", {"action": "play", "speed": 2}, "unknown key 'speed'"),
        ("/api/control", {"action": "play", "seed": 3}, "seed goes with the reset action only"),
        ("/api/control", {"action": "reset", "seed": -1}, "seed must be in"),
        ("/api/control", {"action": "reset", "seed": 1.5}, "seed must be an integer"),
        ("/api/control", ["play"], "must be a JSON object"),
        ("/api/settings", {"loss": "ragan"}, "loss must be one of"),
        ("/api/settings", {"g_lr": "0.1"}, "g_lr must be a finite number"),
        ("/api/settings", {"g_lr": True}, "g_lr must be a finite number"),
        ("/api/settings", {"d_lr": 5.0}, "d_lr must be in [1e-06, 1]"),
        ("/api/settings", {"d_steps": 0}, "d_steps must be in [1, 20]"),
        ("/api/settings", {"g_hidden": 10_000}, "g_hidden must be in"),
        ("/api/settings", {"colour": "red"}, "unknown setting 'colour'"),
        ("/api/points", {"points": []}, "points must be a list of 1 to 2000"),
        ("/api/points", {"points": [[0, 0]] * 2001}, "points must be a list of 1 to 2000"),
        ("/api/points", {"points": [[0, "a"]]}, "each point must be [x, y]"),
        ("/api/points", {"points": [[0, 1e9]]}, "each point must be [x, y]"),
        ("/api/points", {"points": [[0, 1, 2]]}, "each point must be [x, y]"),
    ],
)
def test_bad_requests_get_a_clear_400(lab, path, body, words):
    status, answer = request(lab, "POST", path, body)
    assert status == 400
    assert words in answer["error"]


def test_malformed_requests(lab):
    assert request(lab, "POST", "/api/settings", raw=b"{not json")[0] == 400
    status, answer = request(lab, "POST", "/api/settings", raw=b"{}", headers={"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in answer["error"]
    status, answer = request(lab, "POST", "/api/points", raw=b" " * (300 * 1024))
    assert status == 413 and "too large" in answer["error"]
    assert request(lab, "POST", "/api/nothing", {})[0] == 404
    assert request(lab, "PUT", "/api/settings", {})[0] == 501  # only GET and POST exist


def test_bad_requests_never_stop_training(lab):
    control(lab, "play")
    for body in ({"g_lr": "x"}, {"loss": 3}, {"d_steps": 99}):
        assert request(lab, "POST", "/api/settings", body)[0] == 400
    first = request(lab, "GET", "/api/state")[1]["step"]
    deadline = time.time() + 20
    while request(lab, "GET", "/api/state")[1]["step"] <= first + 3:
        assert time.time() < deadline, "training stopped"
        time.sleep(0.05)
    assert request(lab, "GET", "/api/state")[1]["playing"] is True


def test_unit_validation():
    assert validate_settings({"d_steps": 3.0, "g_lr": 1}) == {"d_steps": 3, "g_lr": 1.0}
    assert isinstance(validate_settings({"d_steps": 3.0})["d_steps"], int)
    for bad in ({"fps": float("inf")}, {"seed": 2**40}, {"data": None}, "x"):
        with pytest.raises(LabRequestError):
            validate_settings(bad)
    assert validate_points([[1, 2.5]]) == [[1.0, 2.5]]
    with pytest.raises(LabRequestError):
        validate_points([[float("nan"), 0]])


# ----------------------------------------------------------------------------
# Frames and controls
# ----------------------------------------------------------------------------
def test_frames_arrive_and_change_while_training(lab):
    control(lab, "play")
    frames = read_frames(lab, 4)
    control(lab, "pause")
    seqs, steps = [f["seq"] for f in frames], [f["step"] for f in frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert steps[-1] > steps[0]
    first, last = frames[0], frames[-1]
    n = first["settings"]["n_points"]
    assert len(first["fake"]) == len(first["real"]) == len(first["arrows"]) == 2 * n
    assert len(first["heat"]) == first["heat_size"] ** 2
    assert first["fake"] != last["fake"] and first["heat"] != last["heat"]  # G and D moved
    assert all(0.0 <= v <= 1.0 for v in last["heat"])  # non-saturating: D's output is a probability
    assert set(last["stats"]) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert last["history"]["step"] and last["history"]["step"][-1] <= last["step"]


def test_one_d_step_one_g_step_step_and_reset(lab):
    state = control(lab, "step_d")
    assert (state["d_updates"], state["g_updates"], state["step"]) == (1, 0, 0)
    assert set(state["stats"]) == {"d_loss", "d_real", "d_fake"}  # what the D step alone measured
    state = control(lab, "step_g")
    assert (state["d_updates"], state["g_updates"]) == (1, 1)
    chain = lab.session.latest_frame()["chain"]
    assert state["stats"]["g_loss"] == chain["g_loss"]
    assert len(chain["point"]) == len(chain["gradient"]) == len(chain["moved_to"]) == 2
    assert chain["g_param_change"] > 0 and chain["moved_to"] != chain["point"] and chain["g_updates"] == 1
    state = control(lab, "step")
    assert (state["step"], state["d_updates"], state["g_updates"]) == (1, 2, 2)
    control(lab, "play")
    control(lab, "pause")
    state = control(lab, "reset", seed=7)
    assert (state["step"], state["d_updates"], state["settings"]["seed"], state["playing"]) == (0, 0, 7, False)


def test_settings_change_while_running(lab):
    control(lab, "play")
    for loss, output in (("wgan-gp", "score"), ("minimax", "logit"), ("hinge", "score")):
        status, state = request(lab, "POST", "/api/settings", {"loss": loss, "d_steps": 2, "r1_gamma": 0.5})
        assert status == 200 and state["settings"]["loss"] == loss and state["playing"] is True
        frame = read_frames(lab, 2)[-1]
        assert frame["output"] == output and frame["settings"]["loss"] == loss
    trainer = lab.session.trainer
    assert (trainer.loss.name, trainer.d_steps, trainer.r1_gamma, trainer.gp_weight) == ("hinge", 2, 0.5, 0.0)
    request(lab, "POST", "/api/settings", {"loss": "wgan", "clip_value": 0.05, "g_lr": 2e-4})
    assert (lab.session.trainer.clip_value, lab.session.g_opt.lr) == (0.05, 2e-4)
    state = request(lab, "POST", "/api/settings", {"d_hidden": 16})[1]  # a new shape: a reset
    assert state["step"] == 0 and "rebuilt" in state["message"]
    assert 16 in lab.session.D.parameters()[0].shape  # (and it trains on: still playing)


def test_drawn_points_and_one_d_data(lab):
    request(lab, "POST", "/api/settings", {"data": "drawn"})
    status, state = request(lab, "POST", "/api/points", {"points": [[0.5, 0.5], [-1, 1], [1.5, -1.0]]})
    assert status == 200 and state["points"] == 3
    assert lab.session.data.means == [[0.5, 0.5], [-1.0, 1.0], [1.5, -1.0]]
    control(lab, "step")
    request(lab, "POST", "/api/settings", {"data": "mixture-1d-far"})
    frame = read_frames(lab, 1)[0]
    assert frame["dim"] == 1 and len(frame["fake"]) == frame["settings"]["n_points"]
    assert len(frame["heat"]) == frame["heat_size"]
    assert control(lab, "step")["step"] == 1


def test_an_error_in_training_pauses_with_a_message(lab, monkeypatch):
    def broken():
        raise FloatingPointError("boom")

    monkeypatch.setattr(lab.session.trainer, "train_step", broken)
    control(lab, "play")
    deadline = time.time() + 20
    while "boom" not in (request(lab, "GET", "/api/state")[1]["message"] or ""):
        assert time.time() < deadline, "the error was not reported"
        time.sleep(0.05)
    frame = read_frames(lab, 1)[0]
    assert "paused: FloatingPointError: boom" in frame["message"] and frame["playing"] is False
    assert control(lab, "reset")["step"] == 0  # the thread is alive and answers
    assert control(lab, "step")["step"] == 1


# ----------------------------------------------------------------------------
# Starting: presets, the port, the command line
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_are_valid_and_train(name):
    assert set(PRESETS[name]) == set(SETTINGS)  # complete: one preset after another leaves nothing behind
    settings = settings_for(name, seed=3)
    assert settings.seed == 3
    session = LabSession(LabSettings(**{**vars(settings), "n_points": 50}))
    session._train_one_step()
    assert session.trainer.step == 1 and session.trainer.loss.name == PRESETS[name]["loss"]


def test_a_taken_port_is_one_clear_line(lab, capsys):
    with pytest.raises(UsageError, match=f"port {lab.port} on 127.0.0.1 is already in use"):
        start_lab(LabOptions(port=lab.port))
    assert cli.main(["lab", "--no-browser", "--port", str(lab.port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already in use" in err and "--port 0" in err


def test_command_line_flags():
    args = cli.build_parser().parse_args(["lab", "--no-browser", "--port", "0", "--preset", "ch7-ns", "--seed", "2"])
    options = cli.command_options(args)
    assert (options.port, options.no_browser, options.preset, options.seed) == (0, True, "ch7-ns", 2)
    assert options.host == "127.0.0.1"


@pytest.mark.parametrize("preset, mixture", [("ch4-ring", "ring_2d"), ("ch4-grid", "grid_2d")])
def test_chapter_4_presets_are_the_chapters_runs_bit_for_bit(preset, mixture):
    """`--preset ch4-ring` trains exactly what chapter 4's `train_2d` trains, frames and all."""
    import minigan
    import minigan.nn as nn
    from minigan import backend as B
    from minigan.data import toy
    from minigan.gan import GANTrainer
    from minigan.gan.trainer import CosineLR
    from minigan.optim import Adam

    steps = 4
    rng = minigan.Generator(0)  # chapter 4's mlp_pair(0) and train_2d, over `steps` steps
    G = nn.Sequential(nn.Dense(16, 128, rng=rng), nn.ReLU(), nn.Dense(128, 128, rng=rng), nn.ReLU(),
                      nn.Dense(128, 2, rng=rng))  # fmt: skip
    D = nn.Sequential(nn.Dense(2, 128, rng=rng), nn.LeakyReLU(0.2), nn.Dense(128, 128, rng=rng),
                      nn.LeakyReLU(0.2), nn.Dense(128, 1, rng=rng))  # fmt: skip
    g_opt, d_opt = Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999)), Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    chapter = GANTrainer(G, D, g_opt, d_opt, getattr(toy, mixture)(), loss="ns", latent_dim=16, batch_size=256,
                         r1_gamma=0.1, seed=0, n_fixed=2500)  # fmt: skip
    chapter.train(steps, [CosineLR([g_opt, d_opt], steps)])

    settings = settings_for(preset, seed=None)
    settings.lr_decay_steps, settings.n_points = steps, 100  # the chapter's schedule, over `steps`
    lab = LabSession(settings)
    for _ in range(steps):
        lab._train_one_step()
        lab._publish_frame()  # frames in between, as when the page is open
    ours, theirs = lab.G.parameters() + lab.D.parameters(), G.parameters() + D.parameters()
    assert all(bool(B.to_host(B.xp().all(a.data == b.data))) for a, b in zip(ours, theirs))


def test_the_number_of_open_event_streams_is_capped(lab, monkeypatch):
    from minigan.app import lab as lab_module

    monkeypatch.setattr(lab_module, "MAX_STREAMS", 1)
    conn = http.client.HTTPConnection("127.0.0.1", lab.port, timeout=30)
    conn.request("GET", "/events", headers={"Host": f"127.0.0.1:{lab.port}"})
    first = conn.getresponse()
    assert first.status == 200
    first.readline()  # the stream is open and counted
    status, answer = request(lab, "GET", "/events")
    assert status == 503 and "too many pages open" in answer["error"]
    first.close()
    conn.close()
    deadline = time.time() + 20  # the server notices the closed stream at its next write
    while request(lab, "GET", "/api/state")[0] == 200 and lab.httpd.streams:
        control(lab, "step")
        assert time.time() < deadline
    assert read_frames(lab, 1)
