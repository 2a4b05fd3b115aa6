"""Simulated cards for the demo and tests: demo CA, SoftHSM2 or in-memory tokens, fault hooks.

``build_demo_hardware`` is imported on first use: importing a module of this package
(hardware.sim.democa, say) must not load the whole simulation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hardware.sim.demo_hardware import DemoHardware, build_demo_hardware

__all__ = ["DemoHardware", "build_demo_hardware"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from hardware.sim import demo_hardware

        return getattr(demo_hardware, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
