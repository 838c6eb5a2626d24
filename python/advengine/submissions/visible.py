"""What a sandboxed submission may see of the host's Python: an allow-list, not ``sys.path``.

A submission needs an interpreter and its libraries (NumPy, Pillow, advengine's CLI), nothing else.
``sys.path`` is not an allow-list: under ``python -m advengine`` it holds the working directory, with
``PYTHONPATH`` those dirs, and with an editable install the checkout, whose package data includes the
DEV sample with its true labels. So the bound host paths are built from what the interpreter itself
reports (:mod:`sysconfig`, :mod:`site`):

- the interpreter's directory (and the venv's ``bin`` and ``pyvenv.cfg``), the shared libpython;
- the stdlib (with ``lib-dynload``) and the site-packages directories;
- advengine's own package as a filtered copy: its code (``*.py``, ``*.pyi``, ``*.so``, ``py.typed``)
  and the model manifests, never its data (``advengine/data/sample``, the dataset CSV, ``*.toml``).
  The copy is mounted at :data:`PACKAGE_ROOT` (on ``PYTHONPATH`` inside) and over any ``advengine``
  package found in a bound site-packages directory, so an installed copy's data is hidden too;
- an installed advengine's file listings (``dist-info/RECORD``, an egg's ``SOURCES.txt``) are masked
  with an empty file: a wheel's RECORD holds the sha256 of every sample image, which maps a clean
  input PNG to its ImageId (issue 29).
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import sys
import sysconfig
from pathlib import Path

import advengine
from advengine.submissions.reaper import temp_dir

#: Where the filtered advengine package is mounted inside the sandbox (``PYTHONPATH`` there).
PACKAGE_ROOT = "/pylib"
#: File names of the package that a submission may see (code and markers only).
CODE_SUFFIXES = (".py", ".pyi", ".so", ".typed")
#: Package subdirectories whose files are copied whatever their suffix (they hold no labels).
EXTRA_DIRS = ("models/manifests",)


def _existing(paths: list[str]) -> list[str]:
    return [os.path.abspath(p) for p in paths if p and os.path.exists(p)]


def site_dirs() -> list[str]:
    """Every site-packages directory of this interpreter (the venv's and the base install's)."""
    found = [*site.getsitepackages(), *site.getsitepackages([sys.base_prefix])]
    found += [sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    return list(dict.fromkeys(_existing(found)))


def interpreter_paths() -> list[str]:
    """Host paths the interpreter needs, outermost first; nested duplicates removed."""
    exe = sys.executable
    paths = [os.path.dirname(os.path.abspath(exe)), os.path.dirname(os.path.realpath(exe))]
    paths += [sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")]
    paths += [os.path.join(sys.prefix, "pyvenv.cfg")]
    libdir, ldlib = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("LDLIBRARY")
    if sysconfig.get_config_var("Py_ENABLE_SHARED") and libdir and ldlib:
        lib = os.path.join(libdir, ldlib)
        paths += [lib, os.path.realpath(lib)]
        # The soname the binary links against (libpython3.11.so.1.0) sits next to the .so link.
        paths += [os.path.join(libdir, n) for n in os.listdir(libdir) if n.startswith(ldlib + ".")]
    paths += site_dirs()
    keep = sorted(set(_existing(paths) + [os.path.realpath(p) for p in _existing(paths)]))
    return [p for p in keep if not any(p != q and p.startswith(q + "/") for q in keep)]


def package_dir() -> Path:
    """The directory of the advengine package this process imported (a checkout or site-packages)."""
    return Path(advengine.__file__).resolve().parent


def _wanted(rel: Path) -> bool:
    if "__pycache__" in rel.parts:
        return False
    return rel.name.endswith(CODE_SUFFIXES) or any(str(rel.parent).startswith(d) for d in EXTRA_DIRS)


def copy_package(dest: Path) -> Path:
    """Copy the allowed files of advengine into ``dest/advengine`` (world-readable) and return it."""
    src = package_dir()
    out = dest / "advengine"
    for dirpath, _dirs, files in os.walk(src):
        for name in files:
            rel = Path(dirpath, name).relative_to(src)
            if not _wanted(rel):
                continue
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, target)
            target.chmod(0o755 if os.access(src / rel, os.X_OK) else 0o644)
    for dirpath, _dirs, _files in os.walk(dest):
        os.chmod(dirpath, 0o755)
    return out


@functools.cache
def shared_package_copy() -> Path:
    """The filtered package, copied once per process into a directory removed when it ends."""
    base = temp_dir("advengine-pylib-")
    base.chmod(0o755)
    return copy_package(base)


#: Files of an installed advengine that list its files with their hashes, per site-packages dir.
HASHED_LISTINGS = (
    "advengine-*.dist-info/RECORD",
    "advengine-*.dist-info/RECORD.*",
    "advengine*.egg-info/SOURCES.txt",
    "advengine*.egg-info/installed-files.txt",
)


def hashed_listings() -> list[str]:
    """The files of :data:`HASHED_LISTINGS` in the bound site-packages dirs (masked inside)."""
    found = {str(p) for d in site_dirs() for pattern in HASHED_LISTINGS for p in Path(d).glob(pattern)}
    return sorted(p for p in found if os.path.isfile(p))


def empty_file() -> Path:
    """An empty, world-readable file beside the shared package copy, bound over each hashed listing."""
    path = shared_package_copy().parent / "empty"
    if not path.exists():
        path.touch()
        path.chmod(0o644)
    return path


def installed_packages() -> list[str]:
    """``advengine`` packages inside the bound site-packages dirs (each gets the filtered copy on top)."""
    return [os.path.join(d, "advengine") for d in site_dirs() if os.path.isdir(os.path.join(d, "advengine"))]


__all__ = [
    "HASHED_LISTINGS",
    "PACKAGE_ROOT",
    "copy_package",
    "empty_file",
    "hashed_listings",
    "installed_packages",
    "interpreter_paths",
    "package_dir",
    "shared_package_copy",
    "site_dirs",
]
