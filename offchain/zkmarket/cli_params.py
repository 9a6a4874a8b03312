"""Click parameter types and option helpers shared by every `zkmarket` subcommand."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import annotated_types
import click
from pydantic import FilePath, ValidationError
from pydantic_core import PydanticUndefined


def fail(message: str, code: int = 1) -> None:
    """Ends the command with one line on stderr: ``error: message`` (exit 1; 3 for a wait given up)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class FileNotFound(click.ClickException):
    """A file argument that does not exist: one line, exit 2 like other usage errors (click's own
    message would add the usage line and a help hint)."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class ExistingFile(click.Path):
    """An existing regular file, refused in one line when missing or a directory."""

    def __init__(self) -> None:
        super().__init__(exists=True, dir_okay=False)

    def convert(self, value, param, ctx):
        path = Path(value)
        name = param.human_readable_name if param is not None else "file"
        if path.is_dir():
            raise FileNotFound(f"{name}: {value} is a directory, expected a file")
        if not path.exists():
            raise FileNotFound(f"{name}: file {value} not found")
        return super().convert(value, param, ctx)


def option_group(*options):
    """One decorator for several click options, shown in the order given."""

    def apply(f):
        for opt in reversed(options):
            f = opt(f)
        return f

    return apply


def _click_type(field) -> Any:
    """The click type of a settings field: its int bounds (optional or not) become an IntRange, a
    FilePath an ExistingFile, a Path a file path."""
    kind = field.annotation
    args = getattr(kind, "__args__", ())
    if kind is FilePath or FilePath in args:
        return ExistingFile()
    if kind is Path or Path in args:
        return click.Path(dir_okay=False)
    if kind is int or set(args) == {int, type(None)}:
        lo = next((m.ge for m in field.metadata if isinstance(m, annotated_types.Ge)), None)
        hi = next((m.le for m in field.metadata if isinstance(m, annotated_types.Le)), None)
        return click.IntRange(lo, hi) if lo is not None or hi is not None else click.INT
    if kind is float:
        return click.FLOAT
    return click.STRING


def settings_options(settings_class, name: str = "settings"):
    """Click options for every field of a pydantic-settings class (``--rpc-url`` for
    ``rpc_url``; help from the field's description, its env var and default). The command gets
    ``name=settings_class(...)``: a flag given wins over the env var, which wins over the default."""
    prefix = settings_class.model_config.get("env_prefix", "")
    options = []
    for field_name, field in settings_class.model_fields.items():
        default = "" if field.default in (None, PydanticUndefined) else f"; default: {field.default}"
        help_text = f"{field.description} [env {prefix}{field_name.upper()}{default}]"
        flag = field_name.replace("_", "-")
        if field.annotation is bool:  # --x/--no-x; neither given: the env var or the default
            options.append(click.option(f"--{flag}/--no-{flag}", field_name, default=None, help=help_text))
        else:
            options.append(click.option("--" + flag, field_name, type=_click_type(field), default=None,
                                        help=help_text))

    def apply(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            given = {k: kwargs.pop(k) for k in settings_class.model_fields}
            try:
                settings = settings_class(**{k: v for k, v in given.items() if v is not None})
            except ValidationError as e:  # from the environment: click has checked the flags
                fail("; ".join(f"{prefix}{'.'.join(map(str, err['loc'])).upper()}: {err['msg']}" for err in e.errors()))
            return f(*args, **{name: settings}, **kwargs)

        return option_group(*options)(wrapper)

    return apply
