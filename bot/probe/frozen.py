"""
Frozen records for the probe, without ``dataclasses``.

``dataclasses`` imports ``inspect`` (and through it ``ast``, ``dis``, ``tokenize``) and
compiles five methods per class with ``exec``: together a third of what
``smtpbot check`` spends starting up. ``Frozen`` gives the same behaviour for the
probe's records (keyword or positional construction with defaults, immutability,
equality, hashing, a readable repr, ``replace``) with generic methods and no code
generation; type checkers see a frozen dataclass (PEP 681).
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar, dataclass_transform

R = TypeVar("R", bound="Frozen")


@dataclass_transform(frozen_default=True)
class Frozen:
    """
    Base of a frozen record: annotate the fields (defaults allowed) and subclass.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """
        Collect the fields, in order, from the annotations of the class and its bases.
        """
        super().__init_subclass__(**kwargs)
        fields: dict[str, None] = dict.fromkeys(cls._fields)
        defaults = dict(cls._defaults)
        annotations: dict[str, Any] = cls.__dict__.get("__annotations__", {})
        for name, annotation in annotations.items():
            if "ClassVar" in str(annotation):
                continue
            fields[name] = None
            if name in cls.__dict__:
                defaults[name] = cls.__dict__[name]
        cls._fields = tuple(fields)
        cls._defaults = defaults

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """
        Set every field from the arguments, or its default.
        """
        fields = self._fields
        name = type(self).__name__
        if len(args) > len(fields):
            raise TypeError(f"{name}() takes {len(fields)} fields, got {len(args)}")
        values = dict(zip(fields, args, strict=False))
        for key, value in kwargs.items():
            if key not in fields or key in values:
                raise TypeError(f"{name}() got an unexpected or repeated {key!r}")
            values[key] = value
        for field in fields:
            if field in values:
                value = values[field]
            elif field in self._defaults:
                value = self._defaults[field]
            else:
                raise TypeError(f"{name}() missing field {field!r}")
            object.__setattr__(self, field, value)

    def _values(self) -> tuple[Any, ...]:
        """
        The field values, in field order.
        """
        return tuple(getattr(self, field) for field in self._fields)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a frozen record")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a frozen record")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Frozen)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((self.__class__, self._values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__qualname__}({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self._values()))


def _rebuild(cls: type[R], values: tuple[Any, ...]) -> R:
    """
    Unpickle a record.
    """
    return cls(*values)


def replace(record: R, **changes: Any) -> R:
    """
    A copy of ``record`` with some fields changed (like ``dataclasses.replace``).
    """
    values = dict(zip(record._fields, record._values(), strict=True))
    values.update(changes)
    return type(record)(**values)
