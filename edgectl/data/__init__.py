"""Files that commands read at run time, shipped inside the wheel.

``config.example.toml`` and ``edgectl.service`` are links to the copies at the top of the
source tree (``config.example.toml``, ``systemd/edgectl.service``); building the wheel
stores their contents here, so an installed edgectl reads them with importlib.resources.
"""

from __future__ import annotations

from importlib.resources import files


def text(name: str) -> str:
    """The text of the shipped file ``name`` (for example ``config.example.toml``)."""
    return files(__name__).joinpath(name).read_text(encoding="utf-8")
