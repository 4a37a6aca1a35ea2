"""Method configs: dataclasses whose defaults are the paper's, each field with help text."""

import dataclasses
import typing

from tfhash.errors import TfhashError, require
from tfhash.layers.backbones import ALEXNET_FILTERS, BACKBONES
from tfhash.layers.precision import PRECISIONS

#: `--strategy` values (tfhash.training.distribute makes them; here so the CLI lists them before importing TF)
STRATEGIES = ("default", "mirrored", "multiworker")


def option(default, help, choices=None):
    """A config field with `help` text (shown by `tfhash train METHOD --help`)."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples for sequence defaults")
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


@dataclasses.dataclass
class HasherConfig:
    """Settings every method has."""

    bits: int = option(64, "Code length in bits (a multiple of 8 to pack codes).")
    epochs: int = option(50, "Training epochs.")
    batch_size: int = option(128, "Mini-batch size.")
    seed: int = option(0, "Seed for initialisation, sampling and data order.")
    mixed_precision: str = option(
        "none", "Compute dtype inside the networks: none (float32), float16 (with loss scaling) or bfloat16. "
        "Codes, losses, B, graphs and ITQ stay float32; for GPUs (on CPU only for testing).", choices=PRECISIONS)

    #: Settings that make a run of a few epochs on a tiny dataset take seconds: the contract test
    #: (tests/methods/test_contract.py) trains every registered method with them.
    test_settings: typing.ClassVar[dict] = {}

    def validate(self):
        """Raise TfhashError for impossible values; subclasses extend."""
        require(self.bits > 0, f"bits must be positive, got {self.bits}")
        require(self.epochs >= 0, f"epochs must be >= 0, got {self.epochs}")
        require(self.batch_size > 0, f"batch_size must be positive, got {self.batch_size}")
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if choices and value not in choices:
                raise TfhashError(f"{f.name} must be one of {', '.join(map(str, choices))}, got {value!r}")
        return self

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Build from a dict, rejecting unknown keys and coercing tuples."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        require(not unknown, f"unknown {cls.__name__} settings: {', '.join(unknown)}")
        kwargs = {}
        for key, value in values.items():
            if isinstance(value, list):
                value = tuple(value)
            kwargs[key] = value
        return cls(**kwargs).validate()

    def replace(self, **changes):
        return dataclasses.replace(self, **changes).validate()


#: Help of `standardize_sparse`, the same setting of every method that has it.
SPARSE_HELP = ("Also standardise sparse inputs (at least 90% zero entries, e.g. bags of tags) per dimension; off: "
               "fed raw, as the papers' bag-of-words (chosen on the MIRFlickr validation split).")


def field_type(cls, f):
    """The plain Python type of dataclass field `f` (resolving string annotations)."""
    hints = typing.get_type_hints(cls)
    return hints[f.name]


@dataclasses.dataclass
class ImageBackboneSettings:
    """Settings of a method whose image side reads raw pixels through a CNN (mixed into its config).

    Unused on feature-vector datasets. The network is built by
    `Hasher.image_backbone_network` from `tfhash.layers.backbones`.
    """

    image_backbone: str = option("alexnet-small", "CNN for raw-pixel images (tfhash.layers.backbones); unused on "
                                 "feature vectors.", choices=BACKBONES)
    backbone_weights: str = option("auto", "Weights of the image backbone: imagenet (Keras, or keras-hub for "
                                   "resnet18, downloads and caches them), none (random), a weights file, or auto = "
                                   "imagenet for the networks that have them (keras.applications, resnet18), none for "
                                   "the AlexNet kinds.")
    conv_filters: tuple[int, ...] = option(ALEXNET_FILTERS, "conv1-conv5 widths of the AlexNet kinds (AlexNet's).")
    backbone_learning_rate_multiplier: float = option(
        1.0, "Learning-rate multiplier of the backbone's layers when fine-tuning (SDCH's paper: 0.1 on its "
             "ImageNet AlexNet layers; keep 1 for a backbone trained from scratch).")

    def validate(self):
        super().validate()
        require(len(self.conv_filters) == 5, f"conv_filters needs 5 widths, got {self.conv_filters}")
        require(self.backbone_learning_rate_multiplier > 0, "backbone_learning_rate_multiplier must be positive")
        # A weights file is checked when the backbone is built (before a run writes anything), not here: a saved
        # model's config names the file it started from, and reloading the model must not need that file.
        require(str(self.backbone_weights).strip() != "", "backbone_weights must be auto, imagenet, none or a file")
        return self


def flag_name(field):
    """The CLI flag of a config field: `image_learning_rate` -> `--image-learning-rate`."""
    return "--" + field.name.replace("_", "-")


def settings_markdown(config_classes):
    """Markdown of every method's flags: a table of the shared ones, then per method its flags, defaults, sources.

    `config_classes` maps method name -> config dataclass. The help text of a
    field says where its default comes from (the paper's section, or the
    measurement behind a departure).
    """

    def default(value):
        if isinstance(value, tuple):
            return ",".join(map(str, value)) or "(none)"
        return "''" if value == "" else str(value)

    owners = {}
    for method, cls in config_classes.items():
        for f in dataclasses.fields(cls):
            owners.setdefault(f.name, []).append(method)
    lines = ["# Settings of every method", "",
             "Generated by `python scripts/settings_table.py` from the config dataclasses (the same text as "
             "`tfhash train METHOD --help`); a test fails when this file is stale.", "",
             "## Settings several methods share: one name, one flag", "", "| flag | methods |", "|---|---|"]
    modules = {method: cls.__module__ for method, cls in config_classes.items()}
    for name, methods in sorted(owners.items()):
        if len({modules[m] for m in methods}) > 1:  # in more than one method module (not just a variant)
            lines.append(f"| `--{name.replace('_', '-')}` | {', '.join(methods)} |")
    for method, cls in config_classes.items():
        lines += ["", f"## `tfhash train {method}`", "", "| flag | default | what, and where the default comes from |",
                  "|---|---|---|"]
        for f in dataclasses.fields(cls):
            help_text = f.metadata.get("help", "").replace("|", "\\|")
            lines.append(f"| `{flag_name(f)}` | `{default(f.default)}` | {help_text} |")
    return "\n".join(lines) + "\n"
