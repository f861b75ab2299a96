"""The hardware options shared by ``cost``, ``simulate`` and ``run``: a preset by name, or
the parameterised accelerator from a TOML design file and ``--accel KEY=VALUE`` items
(every field of :class:`~specaccel.models.cost.AcceleratorConfig`)."""

from __future__ import annotations

import argparse
from typing import Any

from specaccel.schema.errors import InputError

ACCELERATOR = "specaccel-default"
"""The preset that the accelerator options configure."""


def add_accelerator_options(parser: Any) -> None:
    """Add ``--accel KEY=VALUE`` (repeatable) and ``--accel-file TOML``."""
    parser.add_argument("--accel", action="append", default=[], metavar="KEY=VALUE",
                        help="set a parameter of the accelerator design (e.g. array_cores=4, "
                             "sram_mib=64, dataflow=ws; docs/config-format.md); implies the "
                             f"parameterised accelerator ({ACCELERATOR}); repeatable")
    parser.add_argument("--accel-file", metavar="TOML",
                        help="accelerator design file: top-level keys are the parameters of "
                             "--accel (and an optional name); --accel items override it")


def wants_accelerator(args: argparse.Namespace) -> bool:
    """Whether the accelerator options were given."""
    return bool(args.accel or args.accel_file)


def accelerator_from_args(args: argparse.Namespace, hw: str | None) -> Any:
    """The :class:`HardwareSpec` of the design given by ``--accel-file``/``--accel``.

    `hw` is the ``--hw`` the user gave (``None`` if none): the options configure
    ``specaccel-default``, so any other preset with them is an error, never silently
    replaced.
    """
    from specaccel.models.cost import AcceleratorConfig, accelerator_design
    from specaccel.schema.config_fields import parse_assignments

    if hw is not None and hw != ACCELERATOR:
        flag = "--accel" if args.accel else "--accel-file"
        raise InputError(f"configures the parameterised accelerator ({ACCELERATOR}), not "
                         f"--hw {hw}", field=flag)
    overrides = parse_assignments(AcceleratorConfig, args.accel, flag="--accel")
    return accelerator_design(args.accel_file, overrides).build()
