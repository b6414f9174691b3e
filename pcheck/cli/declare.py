"""How an option is declared once, and everything derived from that one declaration.

An option is a field of `cli.options.Options` whose metadata holds a `Spec`
(its flags, help, the commands that take it, where it goes in `Config`, whether
pcheck.toml may set it). From those fields come the typer parameters of each
command (`signature`), the config file's key types (`file_types`,
`host_types`), the conversion into `Config` (`config_values`) and the README's
options table (`markdown_table`). Adding an option is one field, plus its use.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Callable, List, Optional

import typer

from pcheck.errors import ConfigError

CHECK, WATCH, DEMO, FIX, CRAWL = "check", "watch", "demo", "fix", "crawl"
#: The commands that check documents' links as `check` does (an option's default commands).
BOTH = frozenset({CHECK, WATCH, FIX, CRAWL})
#: The commands that read inputs from files and folders (crawl reads pages from the network instead).
FILES = frozenset({CHECK, WATCH, FIX})


@dataclass(frozen=True)
class Spec:
    """What the command line, the config file, Config and the README need to know of one option."""

    flags: tuple[str, ...]
    help: str  # Markdown-ish: backticks are kept in the README and dropped in --help
    metavar: str | None = None
    commands: frozenset[str] = BOTH
    #: A key of pcheck.toml / [tool.pcheck] (tokens and one-run switches are not).
    in_file: bool = True
    #: Also a key of a [hosts."name"] table.
    per_host: bool = False
    #: The Config field it sets (None: the CLI's own option), and how its value is turned into that field's.
    config: str | None = None
    convert: Callable[[Any], Any] | None = None
    #: A duration ("500ms", "2s"): the file may also give a number of seconds.
    duration: bool = False
    #: A comma-separated list: the file may also give a TOML list.
    joined: bool = False
    hidden: bool = False
    envvar: str | None = None
    #: What the README shows as the default, when the value itself would not say it.
    shown_default: str | None = None
    #: --help text for one command instead of `help` (watch's --format takes fewer formats).
    help_for: tuple[tuple[str, str], ...] = ()


def option(default: Any, *flags: str, help: str, **spec: Any) -> Any:  # noqa: A002 - click's word
    """A dataclass field declaring one option: `threads: int = option(128, "-t", "--threads", help=...)`."""
    return dataclasses.field(default=default, metadata={"spec": Spec(flags, help, **spec)})


@dataclass(frozen=True)
class Declared:
    """One declared option: its name (the long flag and the config-file key), type, default and spec."""

    name: str
    type: Any
    default: Any
    spec: Spec


@functools.cache
def declared(cls: type) -> tuple[Declared, ...]:
    """The options declared on `cls`, in declaration order (the order of --help)."""
    hints = typing.get_type_hints(cls)
    return tuple(Declared(f.name, hints[f.name], f.default, f.metadata["spec"])
                 for f in dataclasses.fields(cls) if "spec" in f.metadata)


def signature(cls: type, command: str, leading: list[inspect.Parameter]) -> inspect.Signature:
    """The typer signature of `command`: `leading` parameters, then every option the command takes."""
    params = list(leading)
    for d in declared(cls):
        if command not in d.spec.commands:
            continue
        help_text = dict(d.spec.help_for).get(command, d.spec.help).replace("`", "")
        info = typer.Option(*d.spec.flags, metavar=d.spec.metavar, help=help_text, hidden=d.spec.hidden,
                            envvar=d.spec.envvar, show_envvar=False)
        cli_type, default = _cli_type(d.type), d.default
        if default == ():
            default = []  # typer reads a repeatable option's default, and never mutates it
        params.append(inspect.Parameter(d.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                        annotation=Annotated[cli_type, info]))
    return inspect.Signature(params)


def command(cls: type, name: str, body: Callable[..., None], leading: list[inspect.Parameter]) -> Callable[..., None]:
    """`body(ctx, **options)` presented to typer with the parameters of every option `name` takes."""
    def run(**values: Any) -> None:
        body(**values)

    run.__name__, run.__qualname__, run.__doc__ = name, name, body.__doc__
    run.__signature__ = signature(cls, name, leading)  # type: ignore[attr-defined]
    return run


def _cli_type(tp: Any) -> Any:
    """The type typer reads: a repeatable option is a List, an optional one Optional (typer's spellings)."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is tuple:
        return List[args[0]]  # type: ignore[valid-type]
    if type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return Optional[inner]
    return tp


def file_types(cls: type, per_host: bool = False) -> dict[str, tuple[type, ...]]:
    """The TOML types each config-file key may have (per_host: the keys of a [hosts."x"] table)."""
    types = {}
    for d in declared(cls):
        if not d.spec.in_file or (per_host and not d.spec.per_host):
            continue
        types[d.name] = _file_types(d)
    return types


def _file_types(d: Declared) -> tuple[type, ...]:
    if d.spec.duration:
        return (str, int, float)
    if d.spec.joined:
        return (str, list)
    args = typing.get_args(d.type)
    base = [a for a in args if a is not type(None)][0] if type(None) in args else d.type
    if typing.get_origin(base) is tuple:
        return (list,)
    return (int, float) if base is float else (base,)


def from_file(d: Declared, value: Any) -> Any:
    """A config-file value (already type-checked) as the option's own value."""
    if d.spec.joined and isinstance(value, list):
        return ",".join(map(str, value))
    if d.spec.duration and not isinstance(value, str):
        return f"{value}s"
    if isinstance(value, list):
        return tuple(value)
    if typing.get_args(d.type) == () and d.type is float:
        return float(value)
    return value


def config_values(options: Any) -> dict[str, Any]:
    """The Config fields the options set, converted; a None left out lets Config choose (its default)."""
    values = {}
    for d in declared(type(options)):
        if d.spec.config is None:
            continue
        value = getattr(options, d.name)
        if d.spec.convert is not None:
            try:
                value = d.spec.convert(value)
            except ConfigError as exc:  # named as the user wrote it: "--host-interval: '1e400' is not a duration"
                flag = d.spec.flags[-1]
                raise ConfigError(str(exc) if str(exc).startswith(flag) else f"{flag}: {exc}") from None
        if value is not None or d.default is not None:
            values[d.spec.config] = value
    return values


def markdown_table(cls: type) -> str:
    """The README's options table: every option, what it does, its default, where it may be set."""
    rows = ["| option | meaning | default | commands | in pcheck.toml |", "|---|---|---|---|---|"]
    for d in declared(cls):
        if d.spec.hidden:
            continue
        flags = ", ".join(d.spec.flags) + (f" {d.spec.metavar}" if d.spec.metavar else "")
        key = f"`{d.name}`" + (" (also per host)" if d.spec.per_host else "") if d.spec.in_file else "no"
        cells = (f"`{flags}`", d.spec.help, _shown(d), ", ".join(sorted(d.spec.commands)), key)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def _shown(d: Declared) -> str:
    if d.spec.shown_default is not None:
        return d.spec.shown_default
    if d.default is None or d.default == () or d.default is False:
        return ""
    if isinstance(d.default, float) and d.default.is_integer():
        return str(int(d.default))
    return f"`{d.default}`" if isinstance(d.default, str) else str(d.default)


#: The lines around the README's generated options table.
TABLE_START = "<!-- options table: generated from pcheck/cli/options.py"
TABLE_END = "<!-- end of the options table -->"


def with_table(readme: str, table: str) -> str:
    """`readme` with the text between its table markers replaced by `table`; ValueError without markers."""
    start = readme.index("\n", readme.index(TABLE_START)) + 1
    end = readme.index(TABLE_END, start)
    return readme[:start] + table + readme[end:]

