"""Registrations: a class with its defaults, presets of it, settings checked when registering."""

from __future__ import annotations

import pytest

from advengine.errors import ConfigError
from advengine.params import Configured, Params
from advengine.registry import Registry


class StepParams(Params):
    steps: int = 10
    note: str = ""


class Stepper(Configured[StepParams]):
    """Does nothing, in steps."""

    # The registry is a leaf shared by attacks and defenses: its component is a plain Configured, with
    # one setting of its own (an attack's ``track``), not an attack.
    name = "stepper"
    params_type = StepParams
    settings = Configured.settings | {"track"}
    track = "nontargeted"


@pytest.fixture
def registry() -> Registry[Stepper]:
    reg: Registry[Stepper] = Registry("attack")
    reg.register(Stepper)
    reg.register_preset("stepper-targeted", Stepper, doc="Targeted, in 3 steps.", track="targeted", steps=3)
    return reg


def test_presets_change_defaults_and_settings_only(registry: Registry[Stepper]) -> None:
    plain = registry.build_as(Stepper, "stepper")
    preset = registry.build_as(Stepper, "stepper-targeted", {"note": "x"})
    assert (plain.name, plain.params.steps, plain.track) == ("stepper", 10, "nontargeted")
    assert (preset.name, preset.params, preset.track) == (
        "stepper-targeted",
        StepParams(steps=3, note="x"),
        "targeted",
    )
    assert registry.build_as(Stepper, "stepper-targeted", {"steps": 5}).params.steps == 5
    component = registry.get("stepper-targeted")
    assert (component.doc, component.setting("track"), dict(component.defaults)) == (
        "Targeted, in 3 steps.",
        "targeted",
        {"steps": 3},
    )
    assert registry.get("stepper").doc == "Does nothing, in steps."


def test_registrations_are_checked_when_made(registry: Registry[Stepper]) -> None:
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Stepper)
    with pytest.raises(ValueError, match="'colour' is neither a parameter nor a setting of Stepper"):
        registry.register_preset("stepper-red", Stepper, colour="red")
    with pytest.raises(ConfigError, match="attack stepper-bad: steps must be an integer, got 'many'"):
        registry.register_preset("stepper-bad", Stepper, steps="many")


def test_unknown_names_and_wrong_classes(registry: Registry[Stepper]) -> None:
    with pytest.raises(ConfigError, match="unknown attack 'nope'; known attacks: stepper, stepper-targeted"):
        registry.build("nope")
    with pytest.raises(ConfigError, match="attack 'stepper' is a Stepper, not a int"):
        registry.build_as(int, "stepper")
