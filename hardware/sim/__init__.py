"""Simulated cards for the demo and tests: demo CA, SoftHSM2 or in-memory tokens, fault hooks."""

from hardware.sim.demo_hardware import DemoHardware, build_demo_hardware

__all__ = ["DemoHardware", "build_demo_hardware"]
