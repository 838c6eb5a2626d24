"""What a submission sees: the allow-list, and hostile submissions looking for labels and the run."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import pytest

import advengine
from advengine.data import sample_dataset_dir
from advengine.submissions import Settings, load_submission, run_attack, run_defense
from advengine.submissions.visible import copy_package, interpreter_paths, package_dir

from .conftest import WriteSub

U8 = npt.NDArray[np.uint8]

#: The hostile probe: for each path given, whether it can be listed or read; plus a search of the
#: whole visible tree (outside the system dirs) for the dataset CSV and for any sample image name.
PROBE = r"""
import json, os, sys
report = {"readable": [], "found": []}
targets = json.load(open("targets.json"))
for p in targets["paths"]:
    try:
        if os.path.isdir(p):
            report["readable"].append([p, sorted(os.listdir(p))])
        else:
            open(p, "rb").read(1)
            report["readable"].append([p, None])
    except OSError:
        pass
names = set(targets["names"])
for top in os.listdir("/"):
    if top in ("proc", "sys", "dev", "usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        continue
    for dirpath, dirs, files in os.walk("/" + top):
        report["found"] += [os.path.join(dirpath, f) for f in files if f in names]
try:
    from advengine.data import sample_dataset_dir
    report["readable"].append([str(sample_dataset_dir()), None])
except Exception as exc:
    report["import"] = repr(exc)
print(json.dumps(report))
"""


def _leaks(readable: list[list[object]]) -> list[list[object]]:
    """The probe's readable targets, less directories that only lead to the interpreter.

    The sandbox binds the interpreter's own dirs at their host paths, so where the venv sits inside the
    checkout (CI's ``.venv``), the checkout's path exists inside as an empty chain of mount points down
    to the venv. Listing such a dir shows nothing but that chain; anything else listed, and any file
    read, is a leak.
    """
    prefix = Path(sys.prefix).resolve()
    leaks = []
    for path, names in readable:
        on_chain = names is not None and all(
            (Path(str(path)) / str(n)).resolve() in (prefix, *prefix.parents) for n in cast(list[str], names)
        )
        if not on_chain:
            leaks.append([path, names])
    return leaks


def _targets(tmp_path: Path, extra: list[str]) -> str:
    sample = sample_dataset_dir().resolve()
    names = ["dev_dataset.csv", *(p.name for p in (sample / "images").iterdir())]
    paths = [str(sample), str(sample / "dev_dataset.csv"), str(package_dir()), os.getcwd(), *extra]
    paths += [p for p in os.environ.get("PYTHONPATH", "").split(":") if p]
    checkout = Path(advengine.__file__).resolve().parents[2]  # python/advengine -> the repository
    paths += ["/pylib/advengine/data/sample", str(checkout / "python"), str(checkout.parent / "shared")]
    return json.dumps({"paths": paths, "names": names})


def test_the_copied_package_has_code_but_no_data(tmp_path: Path) -> None:
    pkg = copy_package(tmp_path)
    files = {str(p.relative_to(pkg)) for p in pkg.rglob("*") if p.is_file()}
    assert "__init__.py" in files
    assert "_core.abi3.so" in files
    assert any(f.startswith("models/manifests/") for f in files)
    assert not any(f.startswith("data/sample/") for f in files)
    assert not any(f.endswith((".csv", ".png", ".toml")) for f in files)


def test_interpreter_paths_leave_out_the_checkout_and_the_working_dir() -> None:
    paths = interpreter_paths()
    checkout = Path(advengine.__file__).resolve().parents[1]
    assert not any(Path(p) == checkout or checkout in Path(p).parents for p in paths)
    assert os.getcwd() not in paths
    assert all(not p.endswith("/python") for p in paths)  # no PYTHONPATH or editable checkout dir


def test_a_defense_cannot_find_the_true_labels(
    write_sub: WriteSub, settings: Settings, clean4: U8, tmp_path: Path
) -> None:
    """The nearest-neighbour lookup that scored 1.0: neither the CSV nor a sample image is reachable."""
    sub = write_sub(
        "thief",
        PROBE + "open(sys.argv[2], 'w').write('IMG000000.png,1\\n')\n",
        "defense",
        **{"targets.json": _targets(tmp_path, [])},
    )
    run_settings = Settings("bwrap", settings.limits, 60.0, 1.0)
    labels, run = run_defense(load_submission(sub, tmp_path / "w"), clean4, run_settings, tmp_path / "logs")
    assert run.status == "ok"
    assert labels[0] == 1
    report = json.loads((tmp_path / "logs" / "stdout.txt").read_text())
    assert _leaks(report["readable"]) == []
    assert report["found"] == []
    assert "import" in report  # advengine imports, but its sample dir is not there


def test_an_attack_cannot_list_the_run_or_other_submissions(
    write_sub: WriteSub, settings: Settings, clean4: U8, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "pieces").mkdir(parents=True)
    (run_dir / "run.json").write_text("{}")
    other = write_sub("other", "print('x')\n")
    copy = "for n in os.listdir(sys.argv[1]): shutil.copy(os.path.join(sys.argv[1], n), sys.argv[2])\n"
    script = PROBE + "import shutil\n" + copy
    sub = write_sub(
        "snoop",
        script,
        **{
            "targets.json": _targets(
                tmp_path, [str(run_dir), str(run_dir / "run.json"), str(other), str(tmp_path)]
            )
        },
    )
    outputs, run = run_attack(
        load_submission(sub, tmp_path / "w"),
        clean4,
        8,
        None,
        Settings("bwrap", settings.limits, 60.0, 1.0),
        tmp_path / "logs",
    )
    assert run.status == "ok"
    assert all(o is not None for o in outputs)
    report = json.loads((tmp_path / "logs" / "stdout.txt").read_text())
    assert _leaks(report["readable"]) == []
    assert report["found"] == []


#: Reads every file named like a package listing in the visible tree (outside the system dirs and in
#: the bound site-packages) and reports those that hold a sample image's sha256 (hex or RECORD's
#: urlsafe base64).
RECORD_PROBE = r"""
import json, os, sys
targets = json.load(open("targets.json"))
digests = targets["digests"]
report = {"listings": [], "leaks": []}
for top in targets["roots"]:
    for dirpath, dirs, files in os.walk(top):
        for f in files:
            if f in ("RECORD", "SOURCES.txt", "installed-files.txt"):
                path = os.path.join(dirpath, f)
                text = open(path, errors="replace").read()
                report["listings"].append([path, len(text)])
                if any(d in text for d in digests):
                    report["leaks"].append(path)
print(json.dumps(report))
open(sys.argv[2], "w").write("IMG000000.png,1\n")
"""


def test_an_installed_packages_record_is_masked(
    write_sub: WriteSub,
    settings: Settings,
    clean4: U8,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 29: a wheel's dist-info/RECORD lists the sha256 of every sample image, which maps a clean
    input PNG to its ImageId. A site-packages dir with such a RECORD is bound; inside, it is empty."""
    import base64
    import hashlib

    from advengine.submissions import visible

    sample = sample_dataset_dir().resolve() / "images"
    digests, lines = [], []
    for png in sorted(sample.iterdir()):
        raw = hashlib.sha256(png.read_bytes()).digest()
        b64 = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        digests += [raw.hex(), b64]
        lines.append(f"advengine/data/sample/images/{png.name},sha256={b64},{png.stat().st_size}")
    site_dir = tmp_path / "site-packages"
    record = site_dir / "advengine-0.1.0.dist-info" / "RECORD"
    record.parent.mkdir(parents=True)
    record.write_text("\n".join(lines) + "\n")
    (site_dir / "advengine-0.1.0.dist-info" / "METADATA").write_text("Name: advengine\n")
    real = visible.site_dirs()
    monkeypatch.setattr(visible, "site_dirs", lambda: [*real, str(site_dir)])
    assert str(record) in visible.hashed_listings()

    roots = [*real, str(site_dir)]
    sub = write_sub(
        "record-reader",
        RECORD_PROBE,
        "defense",
        **{"targets.json": json.dumps({"digests": digests, "roots": roots})},
    )
    run_settings = Settings("bwrap", settings.limits, 60.0, 1.0)
    _, run = run_defense(load_submission(sub, tmp_path / "w"), clean4, run_settings, tmp_path / "logs")
    assert run.status == "ok"
    report = json.loads((tmp_path / "logs" / "stdout.txt").read_text())
    assert [str(record), 0] in report["listings"]  # there, but empty
    assert report["leaks"] == []
