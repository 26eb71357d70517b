"""The published word and domain lists recipes use: where each comes from, its license, and how it loads.

Every list is registered once here with its source, version and license. A step asks for a list by
name (`load_list("ut1_domains")`) and says which ones it uses (`Step.lists()`), so `roots lists
--recipe R` and every run.json can print the facts of each (entries, source, version, license, sha256
of the list file as published).

Small lists (words) load as frozensets. Large ones (UT1's 4.6M domains) are built once into a sorted
array of 64-bit xxh3 hashes cached under ~/.cache/roots/lists (or $ROOTS_CACHE/lists) and memory-mapped
read-only: every worker of a run shares the same pages of the OS cache instead of holding its own
Python set of millions of strings.

Sources need no network: UT1 (with RefinedWeb's URL word lists) comes from the datatrove wheel on PyPI
(the `curate` extra), which ships UT1 as `assets/url_filterblacklistsv0_3_0.tar.gz`; `roots lists update
ut1` fetches the same archive from a pinned URL, checks its sha256 and caches it, for an install without
datatrove. A file path given where a list name is expected is a user list (one entry per line).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import io
import json
import os
import sys
import tarfile
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roots.common.errors import UserError
from roots.common.io import atomic_write, write_json

_BUILD_FORMAT = 1  # bump when the cached hash-array layout changes

# ------------------------------------------------------------------------------------------ sources

UT1_ARCHIVE = "url_filterblacklistsv0_3_0.tar.gz"
# the archive datatrove ships (identical bytes in its wheel and at this commit of its repository)
UT1_URL = ("https://raw.githubusercontent.com/huggingface/datatrove/"
           "v0.10.1/src/datatrove/assets/url_filterblacklistsv0_3_0.tar.gz")
UT1_SHA256 = "b37eefe1f3103dfa46b21b3f407b8b23cec2958ea22028700e6cc44d80f55e9e"


def cache_dir() -> Path:
    """Where built lists and downloads live: $ROOTS_CACHE/lists, else ~/.cache/roots/lists."""
    root = os.environ.get("ROOTS_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "roots"
    return Path(root) / "lists"


def _datatrove_assets() -> Path | None:
    """datatrove's assets folder, found without importing datatrove (its import is slow)."""
    spec = importlib.util.find_spec("datatrove")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "assets"
    return path if path.is_dir() else None


def _datatrove_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("datatrove")
    except importlib.metadata.PackageNotFoundError:
        return "?"


def ut1_archive() -> tuple[Path, str]:
    """(the UT1 archive, where it came from): a `roots lists update ut1` download, else datatrove's wheel."""
    downloaded = cache_dir() / "downloads" / UT1_ARCHIVE
    if downloaded.is_file():
        return downloaded, "roots lists update ut1"
    assets = _datatrove_assets()
    if assets is not None and (assets / UT1_ARCHIVE).is_file():
        return assets / UT1_ARCHIVE, f"datatrove {_datatrove_version()} wheel"
    raise UserError("the UT1 blacklists are not installed: pip install 'roots[curate]' (the datatrove wheel "
                    "ships them) or run `roots lists update ut1` once with network")


def _datatrove_asset(name: str) -> tuple[Path, str]:
    assets = _datatrove_assets()
    if assets is None or not (assets / name).is_file():
        raise UserError(f"RefinedWeb's URL word list {name} comes with datatrove: pip install 'roots[curate]'")
    return assets / name, f"datatrove {_datatrove_version()} wheel"


def _tar_member(archive: Path, member: str) -> bytes:
    with tarfile.open(archive, "r:gz") as tar:
        f = tar.extractfile(member)
        if f is None:
            raise UserError(f"{archive}: no file {member!r} in the archive")
        return f.read()


# ------------------------------------------------------------------------------------------ parsing


def parse_lines(data: bytes) -> Iterator[str]:
    """Entries of a list file: one per line, stripped; blank lines and lines starting with "#" skipped.

    (As datatrove reads its lists: a "#" starts a comment only at the start of a line, so "c#" stays.)
    """
    for line in io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace"):
        line = line.strip()
        if line and not line.startswith("#"):
            yield line


def read_user_list(path: str | os.PathLike, what: str = "list") -> list[str]:
    """A user's list file: one entry per line; "#" comments (also trailing ones) and blank lines ignored."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what}: list file {path} does not exist (one entry per line)")
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


# ------------------------------------------------------------------------------------------ hash sets


def hash_key(entry: str) -> int:
    import xxhash

    return xxhash.xxh3_64_intdigest(entry.encode("utf-8"))


class HashSet:
    """A read-only set of strings held as a sorted uint64 array of their xxh3 hashes (memory-mapped).

    A false positive needs a 64-bit collision: about n / 2^64 per lookup (2.5e-13 for 4.6M entries).
    """

    def __init__(self, hashes: Any):
        self._hashes = hashes

    def __len__(self) -> int:
        return len(self._hashes)

    def __contains__(self, entry: object) -> bool:
        import numpy as np

        if not isinstance(entry, str) or not len(self._hashes):
            return False
        h = np.uint64(hash_key(entry))  # a numpy scalar: a Python int above 2^63 would compare as float
        i = int(self._hashes.searchsorted(h))
        return i < len(self._hashes) and self._hashes[i] == h

    @classmethod
    def open(cls, path: Path) -> HashSet:
        import numpy as np

        return cls(np.load(path, mmap_mode="r"))


def _build_hash_array(entries: Iterable[str], path: Path) -> int:
    import numpy as np

    hashes = array("Q")  # 8 bytes an entry while building: no list of millions of Python ints
    for entry in entries:
        hashes.append(hash_key(entry))
    arr = np.unique(np.frombuffer(hashes, dtype=np.uint64))
    with atomic_write(path, "wb") as f:
        np.save(f, arr)
    return len(arr)


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive lock, so that workers starting together build a missing list once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------------------ registry


@dataclass(frozen=True)
class ListSpec:
    """One published list: how to get its file, and the facts printed about it."""

    name: str
    description: str
    source: str  # who made it, where it is published
    license: str
    kind: str  # "words" (frozenset) or "hashed" (memory-mapped HashSet)
    fetch: Callable[[], tuple[bytes, str]]  # -> (the list file's bytes, version/provenance)
    parse: Callable[[bytes], Iterable[str]] = parse_lines
    used_by: tuple[str, ...] = ()


@dataclass
class ListInfo:
    """The facts of one list as it was loaded (printed by `roots lists`, written to run.json)."""

    name: str
    entries: int
    source: str
    version: str
    license: str
    sha256: str
    description: str = ""
    used_by: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _ut1_member(member: str) -> Callable[[], tuple[bytes, str]]:
    def fetch() -> tuple[bytes, str]:
        archive, origin = ut1_archive()
        return _tar_member(archive, member), f"v0_3_0 ({origin})"

    return fetch


def _datatrove_file(name: str) -> Callable[[], tuple[bytes, str]]:
    def fetch() -> tuple[bytes, str]:
        path, origin = _datatrove_asset(name)
        return path.read_bytes(), origin

    return fetch


_UT1 = ("UT1 blacklists, Fabrice Prigent, Université Toulouse Capitole (https://dsi.ut-capitole.fr/blacklists/), "
        "the union RefinedWeb's URL filter starts from, as packed by datatrove")
_RW_WORDS = "RefinedWeb URL word lists (Penedo et al. 2023), as published in datatrove (huggingface/datatrove)"

LISTS: dict[str, ListSpec] = {}


def register(spec: ListSpec) -> None:
    LISTS[spec.name] = spec


for _spec in (
    ListSpec("ut1_domains", "blocked domains (a listed domain blocks its registered domain or host)", _UT1,
             "CC-BY-SA 4.0", "hashed", _ut1_member("domains"), used_by=("refinedweb", "fineweb")),
    ListSpec("ut1_urls", "blocked URLs (matched whole)", _UT1, "CC-BY-SA 4.0", "hashed",
             _ut1_member("urls"), used_by=("refinedweb", "fineweb")),
    ListSpec("refinedweb_hard_words", "URL words: any one drops the page", _RW_WORDS, "Apache-2.0 (datatrove)",
             "words", _datatrove_file("banned_words.txt"), used_by=("refinedweb", "fineweb")),
    ListSpec("refinedweb_soft_words", "URL words: two or more drop the page", _RW_WORDS,
             "Apache-2.0 (datatrove)", "words", _datatrove_file("soft_banned_words.txt"),
             used_by=("refinedweb", "fineweb")),
    ListSpec("refinedweb_subwords", "URL sub-words: matched anywhere in the URL's letters and digits",
             _RW_WORDS, "Apache-2.0 (datatrove)", "words", _datatrove_file("banned_subwords.txt"),
             used_by=("refinedweb", "fineweb")),
):
    register(_spec)


LDNOOBW_LANGUAGES = ("ar", "cs", "da", "de", "en", "eo", "es", "fa", "fi", "fil", "fr", "fr-CA-u-sd-caqc", "hi",
                     "hu", "it", "ja", "kab", "ko", "nl", "no", "pl", "pt", "ru", "sv", "th", "tlh", "tr", "zh")
_LDNOOBW = ("List of Dirty, Naughty, Obscene, and Otherwise Bad Words (Shutterstock, "
            "github.com/LDNOOBW @ 5faf2ba), shipped with roots (resources/ldnoobw.json.gz, see ldnoobw.NOTICE)")


def _ldnoobw(lang: str) -> Callable[[], tuple[bytes, str]]:
    def fetch() -> tuple[bytes, str]:
        import gzip
        from importlib import resources

        with resources.as_file(resources.files("roots.data") / "resources" / "ldnoobw.json.gz") as path:
            words = json.loads(gzip.decompress(path.read_bytes()))[lang]
        return ("\n".join(words) + "\n").encode("utf-8"), "5faf2ba (roots resources)"

    return fetch


for _lang in LDNOOBW_LANGUAGES:
    register(ListSpec(f"ldnoobw_{_lang}", f"C4's bad words ({_lang}): any one drops the page", _LDNOOBW, "CC-BY-4.0",
                      "words", _ldnoobw(_lang), used_by=("c4",) if _lang == "en" else ()))


_BIGSCIENCE = ("BigScience ROOTS word lists (bigscience-workshop/data-preparation @ 9d05884, "
               "01b_oscar_cleaning_and_filtering), shipped with roots (resources/bigscience/, see its README.md)")


def _bigscience(kind: str, lang: str) -> Callable[[], tuple[bytes, str]]:
    def fetch() -> tuple[bytes, str]:
        from roots.data.filters.roots_text import _bigscience_lists

        words = _bigscience_lists(kind)[lang]
        return ("\n".join(words) + "\n").encode("utf-8"), "9d05884 (roots resources)"

    return fetch


for _kind, _what in (("stopwords", "ROOTS stop words (closed-class words): ratio >= the language's minimum"),
                     ("flagged_words", "ROOTS flagged words: ratio <= the language's maximum")):
    for _lang in ("ar", "bn", "ca", "en", "es", "eu", "fr", "hi", "id", "pt", "ur", "vi", "zh"):
        register(ListSpec(f"bigscience_{_kind}_{_lang}", f"{_what} ({_lang})", _BIGSCIENCE, "Apache-2.0",
                          "words", _bigscience(_kind, _lang), parse=lambda data: data.decode("utf-8").split("\n")[:-1],
                          used_by=("roots",)))


def _spec(name: str) -> ListSpec:
    spec = LISTS.get(name)
    if spec is None:
        raise UserError(f"unknown list {name!r}; known lists: {', '.join(sorted(LISTS))} (or a file path)")
    return spec


def is_path(ref: str) -> bool:
    return ref not in LISTS and (os.sep in ref or "." in ref)


# what this process has loaded: name -> (entries, info); lists are read-only, so one copy per process
_LOADED: dict[str, tuple[Any, ListInfo]] = {}


def _load_user(path: str) -> tuple[Any, ListInfo]:
    entries = read_user_list(path)
    data = Path(path).read_bytes()
    info = ListInfo(name=path, entries=len(set(entries)), source=f"user file {path}", version="",
                    license="(user's)", sha256=hashlib.sha256(data).hexdigest())
    return frozenset(entries), info


def _load_words(spec: ListSpec) -> tuple[Any, ListInfo]:
    data, version = spec.fetch()
    entries = frozenset(spec.parse(data))
    return entries, ListInfo(spec.name, len(entries), spec.source, version, spec.license,
                             hashlib.sha256(data).hexdigest(), spec.description, list(spec.used_by))


def _load_hashed(spec: ListSpec) -> tuple[Any, ListInfo]:
    """Open the cached hash array, building it first (once, under a lock) from the list file."""
    folder = cache_dir()
    meta_path = folder / f"{spec.name}.json"
    with _lock(folder / f".{spec.name}.lock"):
        meta = _read_meta(meta_path)
        source_key = _source_key(spec)
        if meta is None or meta.get("source_key") != source_key or not (folder / meta["file"]).is_file():
            data, version = spec.fetch()
            sha = hashlib.sha256(data).hexdigest()
            file = f"{spec.name}-{sha[:16]}.npy"
            n = _build_hash_array(spec.parse(data), folder / file)
            meta = {"format": "roots.hashed_list", "format_version": _BUILD_FORMAT, "file": file, "entries": n,
                    "sha256": sha, "version": version, "source_key": source_key}
            write_json(meta_path, meta)
    info = ListInfo(spec.name, meta["entries"], spec.source, meta["version"], spec.license, meta["sha256"],
                    spec.description, list(spec.used_by))
    return HashSet.open(folder / meta["file"]), info


def _read_meta(path: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if meta.get("format_version") == _BUILD_FORMAT else None


def _source_key(spec: ListSpec) -> str:
    """What the cached build was made from (rebuild when the archive changes: another datatrove, an update)."""
    if spec.name.startswith("ut1_"):
        archive, _ = ut1_archive()
        st = archive.stat()
        return f"{archive}:{st.st_size}:{st.st_mtime_ns}"
    return spec.name


def load_list(ref: str) -> Any:
    """A registered list by name, or a user list file by path: a frozenset or a HashSet (both support `in`)."""
    return _load(ref)[0]


def list_info(ref: str) -> ListInfo:
    return _load(ref)[1]


def _load(ref: str) -> tuple[Any, ListInfo]:
    if ref not in _LOADED:
        if is_path(ref):
            _LOADED[ref] = _load_user(ref)
        else:
            spec = _spec(ref)
            _LOADED[ref] = _load_hashed(spec) if spec.kind == "hashed" else _load_words(spec)
    return _LOADED[ref]


def lists_of_steps(steps: Iterable[Any]) -> list[dict[str, Any]]:
    """The facts of every list the steps use (each once), for run.json and `roots lists --recipe`."""
    seen: dict[str, dict[str, Any]] = {}
    for step in steps:
        for ref in step.lists():
            if ref not in seen:
                seen[ref] = {**list_info(ref).to_dict(), "step": step.name}
    return list(seen.values())


# ------------------------------------------------------------------------------------------ CLI


@dataclass
class ListsConfig:
    """Print the published lists roots uses: entries, source, version, license, sha256."""

    recipe: str = field(default="", metadata={"help": "only the lists this recipe's steps use (name or path)"})
    json: bool = field(default=False, metadata={"help": "print JSON instead of a table"})
    set: list[str] = field(default_factory=list, metadata={"help": "recipe overrides STEP.PARAM=VALUE"})


def show(config: ListsConfig) -> int:
    """CLI entry point of `roots lists`."""
    if config.recipe:
        from roots.data.recipe import load_recipe

        recipe = load_recipe(config.recipe).with_overrides(config.set)
        rows = lists_of_steps(recipe.build_steps())
    else:
        rows = [list_info(name).to_dict() for name in sorted(LISTS)]
    if config.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print(f"recipe {config.recipe!r} uses no lists")
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['entries']:>9,} entries  {r['license']:<24} sha256 {r['sha256'][:16]}  "
              f"{r['version']}")
        print(f"{'':<{width}}  {r['source']}")
    return 0


@dataclass
class UpdateConfig:
    """Download a published list from its pinned URL, check its sha256 and cache it (needs network)."""

    name: str = field(metadata={"help": "the list to fetch: ut1", "positional": True})
    url: str = field(default=UT1_URL, metadata={"help": "where to fetch it (a mirror)"})
    sha256: str = field(default="", metadata={"help": "expected sha256 of the download (default: the pinned one)"})


def update(config: UpdateConfig) -> int:
    """CLI entry point of `roots lists update`: fetch, verify, cache; the next load rebuilds from it."""
    if config.name != "ut1":
        raise UserError(f"roots lists update: only 'ut1' is fetched from the network, not {config.name!r}")
    import urllib.request

    expected = config.sha256 or UT1_SHA256
    target = cache_dir() / "downloads" / UT1_ARCHIVE
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(config.url, timeout=60) as response, atomic_write(target, "wb") as f:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                f.write(chunk)
            if digest.hexdigest() != expected:
                raise UserError(f"roots lists update: {config.url} has sha256 {digest.hexdigest()}, expected "
                                f"{expected}; nothing was cached")
    except OSError as e:
        raise UserError(f"roots lists update: could not fetch {config.url}: {e}") from e
    _LOADED.clear()
    for name in ("ut1_domains", "ut1_urls"):
        info = list_info(name)
        print(f"{name}: {info.entries:,} entries (sha256 {info.sha256[:16]}) cached in {cache_dir()}",
              file=sys.stderr)
    print(f"lists update: ut1 from {config.url} -> {target}")
    return 0
