"""The RTL unit registry: one folder per unit, each declaring itself.

Like Glasgow's applets, every unit is a folder of this package holding all that belongs to
it::

    units/<name>/__init__.py   UNIT = RtlUnit(...): parameters, role, latency law, sweep
    units/<name>/gateware.py   the Amaranth component
    units/<name>/model.py      the vector model: stimulus, golden expectations, packing,
                               and how the characterisation measures its cycles
    units/<name>/bench.py      the cocotb testbench and its configurations

A folder is the registration: :data:`UNIT_NAMES` lists the folders that declare a
``UNIT``, and the command line (``specaccel hdl ...``), the characterisation, the
testbench runner, the formal proofs and the lint all read the declarations.  The cost
model, which may not import the RTL, learns each unit's role and latency law from the
characterisation table, where ``specaccel hdl characterise`` writes them.

>>> from specaccel.hdl.units import UNIT_NAMES, build_unit, generate_verilog
>>> unit = build_unit("tree_verify", nodes=16)
>>> text = generate_verilog(unit, "tree_verify")

Declarations import no Amaranth: listing units and their options is cheap, and a unit's
gateware, model and bench are imported only when asked for.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from specaccel.models.cost.rtl_latency import LatencyLaw

__all__ = ["RtlUnit", "UnitParameter", "UNIT_NAMES", "build_unit", "generate_verilog",
           "get_unit", "registry"]

#: Unit parameters every unit takes (validated by the unit; some units ignore some).
COMMON_PARAMETERS = ("nodes", "token_width", "prob_width")
#: What a unit is for in the accelerator (the cost model reads this from the table).
ROLES = ("verify", "mask", "compaction", "sampling", "core")


@dataclass(frozen=True)
class UnitParameter:
    """A keyword parameter of a unit beyond :data:`COMMON_PARAMETERS`.

    The command line offers it as ``--<name with dashes>`` on ``hdl generate``, ``synth``
    and ``characterise``; ``choices`` (strings) or ``bounds`` (inclusive integer range)
    say what it accepts, and the unit's constructor checks it again.  ``only_with =
    (other, value)`` says that it does something only when parameter ``other`` is
    ``value`` (given or by default); given otherwise, it is an orphaned option.
    """

    name: str
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    bounds: tuple[int, int] | None = None
    only_with: tuple[str, Any] | None = None

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def convert(self, text: str) -> Any:
        """The value of command-line text `text` (``ValueError`` naming the reason)."""
        if self.choices is not None:
            if text not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}, not {text!r}")
            return text
        try:
            value = int(text, 0)
        except ValueError:
            raise ValueError(f"must be an integer, not {text!r}") from None
        if self.bounds is not None and not self.bounds[0] <= value <= self.bounds[1]:
            raise ValueError(f"must be in [{self.bounds[0]}, {self.bounds[1]}], not {value}")
        return value


@dataclass(frozen=True)
class RtlUnit:
    """A unit's declaration (``UNIT`` in its folder's ``__init__.py``).

    Attributes
    ----------
    name:
        The folder name; also the Verilog module name.
    summary:
        One line for help texts and docs.
    role:
        One of :data:`ROLES`.
    gateware:
        Class name of the component in the folder's ``gateware.py``.
    latency_law:
        The unit's latency law for given parameters (a callable of the parameter dict,
        defaults filled in), in the vocabulary of
        :class:`~specaccel.models.cost.rtl_latency.LatencyLaw`; the gateware takes its
        design latency from it and the characterisation checks the measured one.
    parameters:
        Unit-specific parameters (:class:`UnitParameter`).
    sweep_nodes:
        The tree sizes ``specaccel hdl characterise`` measures by default.
    """

    name: str
    summary: str
    role: str
    gateware: str
    latency_law: Callable[[dict[str, Any]], LatencyLaw]
    parameters: tuple[UnitParameter, ...] = ()
    sweep_nodes: tuple[int, ...] = (4, 8, 16, 32, 64)
    package: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {self.role!r}")

    # -- the folder's modules (imported on demand) -------------------------------------

    def _module(self, name: str) -> ModuleType:
        return importlib.import_module(f"{self.package}.{name}")

    @property
    def model(self) -> ModuleType:
        """The folder's ``model`` module."""
        return self._module("model")

    @property
    def bench(self) -> ModuleType:
        """The folder's ``bench`` module (imports cocotb)."""
        return self._module("bench")

    @property
    def component_class(self) -> type:
        return getattr(self._module("gateware"), self.gateware)

    # -- parameters --------------------------------------------------------------------

    def parameter(self, name: str) -> UnitParameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def with_defaults(self, params: dict[str, Any]) -> dict[str, Any]:
        """`params` with every unit-specific parameter's default filled in."""
        return {**{p.name: p.default for p in self.parameters}, **params}

    def law(self, **params: Any) -> LatencyLaw:
        """The latency law of the unit built with `params`."""
        return self.latency_law(self.with_defaults(params))

    def build(self, *, nodes: int, token_width: int = 16, prob_width: int = 12,
              **extra: Any):
        """The component, built with these parameters (validated by its constructor)."""
        return self.component_class(nodes=nodes, token_width=token_width,
                                    prob_width=prob_width, **extra)


@functools.cache
def registry() -> dict[str, RtlUnit]:
    """Every unit folder's declaration, by name (sorted)."""
    units: dict[str, RtlUnit] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        package = f"{__name__}.{info.name}"
        unit = getattr(importlib.import_module(package), "UNIT", None)
        if unit is None:
            continue
        if unit.name != info.name:
            raise ValueError(f"{package}: UNIT.name is {unit.name!r}, not the folder name")
        object.__setattr__(unit, "package", package)
        units[unit.name] = unit
    return units


def get_unit(name: str) -> RtlUnit:
    """The declaration of unit `name` (``ValueError`` naming the known units)."""
    units = registry()
    if name not in units:
        raise ValueError(f"unit name must be one of {', '.join(units)}, not {name!r}")
    return units[name]


def __getattr__(name: str):
    if name == "UNIT_NAMES":  # computed on first use: discovery imports every declaration
        return tuple(registry())
    raise AttributeError(name)


def build_unit(name: str, *, nodes: int, token_width: int = 16, prob_width: int = 12,
               **extra: Any):
    """Build the unit called `name` (one of :data:`UNIT_NAMES`).

    ``nodes``, ``token_width`` and ``prob_width`` are shared by every unit; `extra` holds
    the unit-specific parameters of its declaration (e.g. ``mode="stochastic"``).  The
    unit validates them (``TypeError``/``ValueError``); an unknown name is a
    ``ValueError``.
    """
    return get_unit(name).build(nodes=nodes, token_width=token_width, prob_width=prob_width,
                                **extra)


def generate_verilog(component, name: str) -> str:
    """Verilog text of `component` as module `name` (no source locations: byte-identical
    across runs and free of absolute paths)."""
    from amaranth.back import verilog

    return verilog.convert(component, name=name, emit_src=False)
