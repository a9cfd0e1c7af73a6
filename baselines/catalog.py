"""Every registered recipe, looked up by name: the stable baselines and the failure zoo.

:mod:`baselines.recipes` is the registry (the :class:`~baselines.recipes.Recipe` type and
``register_recipe``); :mod:`baselines.models` registers the stable recipes and
:mod:`baselines.zoo` the zoo's. This module sits above all three, so that the registry
needs to know neither.
"""

from __future__ import annotations

from baselines import models, zoo  # noqa: F401  (importing them registers their recipes)
from baselines.recipes import Recipe, registered_names, registered_recipe


def get_recipe(name: str) -> Recipe:
    """The recipe registered under ``name``."""
    models.register_stable_recipes()  # also for tasks registered after the first lookup
    recipe = registered_recipe(name)
    if recipe is None:
        raise ValueError(f"invalid recipe {name!r}; allowed: one of " + ", ".join(registered_names()))
    return recipe


def list_recipes() -> list[str]:
    """All recipe names, sorted."""
    models.register_stable_recipes()
    return registered_names()
