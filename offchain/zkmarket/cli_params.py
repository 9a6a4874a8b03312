"""Click parameter types shared by every `zkmarket` subcommand."""

from __future__ import annotations

from pathlib import Path

import click


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
