"""Reusable click options, and click options generated from a config dataclass."""

import dataclasses
import typing

import click

from tfhash.eval.report import DEFAULT_R
from tfhash.methods.config import STRATEGIES, field_type, flag_name


def _parse_tuple(item_type):
    def convert(value):
        if isinstance(value, tuple):
            return value
        try:
            return tuple(item_type(v) for v in str(value).split(",") if v.strip())
        except ValueError:
            raise click.BadParameter(f"expected comma-separated {item_type.__name__} values, got {value!r}") from None

    return convert


def config_options(config_class):
    """Decorator adding one `--flag` per field of `config_class` (defaults = the paper's)."""

    def decorate(fn):
        for f in reversed(dataclasses.fields(config_class)):
            kind = field_type(config_class, f)
            flag = flag_name(f)
            help_text = f.metadata.get("help", "")
            if kind is bool:
                opt = click.option(f"{flag}/--no-{flag[2:]}", f.name, default=f.default, show_default=True, help=help_text)
            elif typing.get_origin(kind) is tuple:
                item = typing.get_args(kind)[0]
                opt = click.option(flag, f.name, default=",".join(map(str, f.default)), show_default=True,
                                   type=click.UNPROCESSED, callback=lambda c, p, v, item=item: _parse_tuple(item)(v),
                                   help=help_text + " (comma-separated)")
            else:
                choices = f.metadata.get("choices")
                click_type = click.Choice(choices) if choices else kind
                opt = click.option(flag, f.name, default=f.default, show_default=True, type=click_type, help=help_text)
            fn = opt(fn)
        return fn

    return decorate


strategy_option = click.option("--strategy", type=click.Choice(STRATEGIES), default="default", show_default=True,
                               help="tf.distribute strategy (mirrored: all local GPUs, or the logical CPUs).")
def _r_values(ctx, param, values):
    """--R values, each an int or a comma list ("50,500"), flattened in order; the default when none."""
    if not values:
        return DEFAULT_R
    out = []
    for value in values:
        for part in str(value).split(","):
            try:
                r = int(part)
            except ValueError:
                raise click.BadParameter(f"{part!r} is not an integer") from None
            if r < 1:
                raise click.BadParameter(f"{r} is not a positive integer")
            if r not in out:
                out.append(r)
    return tuple(out)


r_option = click.option("--R", "R", multiple=True, callback=_r_values,
                        help="R of MAP@R (top R retrieved items): repeat the flag or give a comma list, "
                             "e.g. --R 50,500.  [default: " + ",".join(map(str, DEFAULT_R)) + "]")
database_codes_option = click.option(
    "--database-codes", type=click.Choice(["out-of-sample", "unified"]), default="out-of-sample", show_default=True,
    help="Database codes from each item's own network (out-of-sample) or the learned training codes B (unified).")


def parse_settings(pairs, get_config_class):
    """{method: {setting: value}} from `METHOD.SETTING=VALUE` strings, each VALUE parsed with the field's type.

    `get_config_class(method)` returns the method's config dataclass (and
    raises TfhashError for an unknown method). Bad input raises TfhashError.
    """
    from tfhash.errors import TfhashError

    out = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        method, dot, name = key.strip().rpartition(".")
        if not (sep and dot and method and name):
            raise TfhashError(f"--set takes METHOD.SETTING=VALUE, got {pair!r}")
        config_class = get_config_class(method)
        fields = {f.name: f for f in dataclasses.fields(config_class)}
        name = name.replace("-", "_")
        if name not in fields:
            raise TfhashError(f"{method} has no setting '{name}' (known: {', '.join(sorted(fields))})")
        kind = field_type(config_class, fields[name])
        try:
            if kind is bool:
                lowered = text.strip().lower()
                if lowered not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                value = lowered in ("true", "1", "yes")
            elif typing.get_origin(kind) is tuple:
                value = _parse_tuple(typing.get_args(kind)[0])(text)
            else:
                value = kind(text)
        except (ValueError, click.BadParameter):
            type_name = "comma-separated values" if typing.get_origin(kind) is tuple else kind.__name__
            raise TfhashError(f"--set {method}.{name}: expected {type_name}, got {text!r}") from None
        out.setdefault(method, {})[name] = value
    return out
