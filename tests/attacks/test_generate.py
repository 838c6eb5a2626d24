"""``advengine/attacks/classes.py`` is what the registry generates now."""

from __future__ import annotations

from advengine.attacks.generate import TARGET, class_name, render


def test_the_generated_classes_match_the_registry() -> None:
    assert TARGET.read_text(encoding="utf-8") == render(), (
        "advengine/attacks/classes.py is stale; run `python -m advengine.attacks.generate`"
    )


def test_class_names_follow_torchattacks_spelling() -> None:
    assert class_name("mifgsm") == "MIFGSM"
    assert class_name("apgd-t") == "APGDT"
    assert class_name("eot-pgd") == "EOTPGD"
    assert class_name("autoattack-lite") == "AutoAttackLite"
    assert class_name("cross-iterative-targeted") == "CrossIterativeTargeted"
