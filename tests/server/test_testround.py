"""The test-round protocol (``mode = "uploads"``): images uploaded and checked against ε per image
(refused, never clipped), the organiser closes the attack phase and the images are released under
opaque ids, labels uploaded for them, and the engine scores it all."""

from __future__ import annotations

import dataclasses
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from tests.server.conftest import tiny_config
from tests.server.test_evaluator import settle

from advengine.data import load_dataset, sample_dataset_dir
from advengine.kernels import read_png_batch, write_png_batch
from advengine.server import ServerSettings, create_app
from advengine.server.teams import add_team
from advengine.server.uploaded import image_key


def _images_archive(tmp: Path, images: dict[str, np.ndarray], extra: dict[str, bytes]) -> bytes:
    tmp.mkdir(parents=True, exist_ok=True)
    paths = [tmp / f"{name}.png" for name in images]
    write_png_batch(np.stack(list(images.values())), paths)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in paths:
            tar.add(p, arcname=p.name)
        for name, data in extra.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _send(
    client: TestClient, token: str, name: str, data: bytes, track: str
) -> tuple[int, dict[str, object]]:
    r = client.post(
        "/api/submissions",
        headers={"Authorization": f"Bearer {token}"},
        data={"track": track, "round": "test1"},
        files={"file": (name, data)},
    )
    return r.status_code, r.json()


def test_images_then_release_then_labels(settings: ServerSettings, tmp_path: Path) -> None:
    cfg = tiny_config(rounds=[{"name": "test1", "mode": "uploads"}])
    settings = dataclasses.replace(settings, config=cfg)
    ds = load_dataset(sample_dataset_dir()).head(4)
    clean = ds.read_images()
    assert ds.true_labels is not None
    ids = ds.image_ids
    # Batches of 2 with ε 4 then 8: the first two within ε, the third over it, the fourth left out.
    adv = {
        ids[0]: np.clip(clean[0].astype(np.int16) + 3, 0, 255).astype(np.uint8),
        ids[1]: np.clip(clean[1].astype(np.int16) - 4, 0, 255).astype(np.uint8),
        ids[2]: np.clip(clean[2].astype(np.int16) + 20, 0, 255).astype(np.uint8),
    }
    with TestClient(create_app(settings, evaluate=False)) as client:
        server = client.app.state.server  # type: ignore[attr-defined]
        _, alpha = add_team(server.sessions, "alpha")
        _, beta = add_team(server.sessions, "beta")
        organiser = {"Authorization": f"Bearer {server.organiser_token}"}
        settle(client)
        code, body = _send(
            client, alpha, "adv.tar.gz", _images_archive(tmp_path / "a", adv, {"notes.txt": b"x"}), "attack"
        )
        assert code == 202, body
        reason = str(body["reason"])
        assert f"{ids[2]}: L∞ 20 > ε 8 (refused, not clipped)" in reason
        assert "notes.txt: not <ImageId>.png" in reason
        code, body = _send(client, beta, "early.csv", b"x,1\n", "defense")
        assert code == 409
        assert "still open" in str(body["detail"])
        settle(client)
        assert client.get("/api/submissions/1").json()["state"] == "done"
        assert (
            client.post("/api/rounds/test1/close", headers={"Authorization": f"Bearer {alpha}"}).status_code
            == 403
        )
        closed = client.post("/api/rounds/test1/close", headers=organiser)
        assert closed.status_code == 200, closed.text
        assert closed.json()["released"] == 12  # clean, noop and alpha.adv: 4 images each
        assert client.post("/api/rounds/test1/close", headers=organiser).status_code == 409
        page = client.get("/rounds/test1").text
        assert "The attack phase is closed" in page
        assert "/api/rounds/test1/released" in page
        code, body = _send(client, alpha, "late.tar.gz", _images_archive(tmp_path / "b", adv, {}), "attack")
        assert code == 409
        assert client.get("/api/rounds/test1/released").status_code == 401
        released = client.get("/api/rounds/test1/released", headers={"Authorization": f"Bearer {beta}"})
        assert released.status_code == 200
        # A perfect defense: the true label of every released image, found by its pixels.
        truth = {image_key(clean[k]): int(ds.true_labels[k]) for k in range(4)}
        truth |= {image_key(adv[i]): int(ds.true_labels[ids.index(i)]) for i in ids[:2]}
        rows = []
        with zipfile.ZipFile(io.BytesIO(released.content)) as zf:
            for name in zf.namelist():
                (tmp_path / "r").mkdir(exist_ok=True)
                (tmp_path / "r" / name).write_bytes(zf.read(name))
                key = image_key(read_png_batch([tmp_path / "r" / name], strict=True)[0])
                rows.append(f"{name},{truth[key]}")  # alpha's refused image stayed clean
                assert ids[0] not in name  # opaque: no ImageId
        code, body = _send(client, beta, "perfect.csv", ("\n".join(rows) + "\n").encode(), "defense")
        assert code == 202, body
        settle(client)
        board = client.get("/api/leaderboard?round=test1").json()
    defenses = {e["name"]: e for e in board["defenses"]}
    assert defenses["beta.perfect"]["clean_accuracy"] == 1.0
    assert defenses["beta.perfect"]["robust_accuracy"] == 1.0
    attacks = {e["name"]: e for e in board["attacks"]}
    assert set(attacks) == {"noop", "alpha.adv"}
    assert attacks["alpha.adv"]["team"] == "alpha"
