"""The site's frame: `/` (the explorer is the home page) and the vendored front-end scripts, served from the
studio's own origin (pinned by `package-lock.json`, installed by `npm ci --prefix studio`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse, Response

STUDIO = Path(__file__).resolve().parent.parent
VENDOR = {"htmx.min.js": STUDIO / "node_modules/htmx.org/dist/htmx.min.js",
          "nacl-fast.min.js": STUDIO / "node_modules/tweetnacl/nacl-fast.min.js",
          "blake2b.js": STUDIO / "node_modules/blakejs/blake2b.js"}
BLAKE_UTIL = STUDIO / "node_modules/blakejs/util.js"

router = APIRouter()


def missing_assets() -> list[str]:
    return [str(path) for path in VENDOR.values() if not path.exists()]


def blake2b_script() -> str:
    """blakejs (CommonJS: blake2b.js requiring util.js) wrapped for a plain <script> as `window.blakejs`."""
    modules = {"./util": BLAKE_UTIL.read_text(), "blake2b": VENDOR["blake2b.js"].read_text()}
    parts = [f"defs[{name!r}] = function (module, exports, require) {{\n{source}\n}};"
             for name, source in modules.items()]
    return ("(function () {\nconst defs = {}, cache = {};\n" + "\n".join(parts) +
            "\nfunction require(name) {\n  if (!cache[name]) { const module = { exports: {} }; cache[name] = module;"
            " defs[name](module, module.exports, require); }\n  return cache[name].exports;\n}\n"
            "window.blakejs = require('blake2b');\n})();\n")


@router.get("/")
def home():
    return RedirectResponse("/explorer")


@router.get("/vendor/{name}")
def vendor(name: str):
    if name not in VENDOR:
        raise HTTPException(404, f"no vendored asset {name}")
    if name == "blake2b.js":
        return Response(blake2b_script(), media_type="text/javascript")
    return FileResponse(VENDOR[name], media_type="text/javascript")
