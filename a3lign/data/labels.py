"""The one label policy of every reader: a declared class set, and how a label as written maps to a class.

A class set is declared by the dataset's official list (DFEW, FERV39k, MAFW, synthetic), by `--classes`, or
else by the train split's labels. A label maps to the class of its name (case kept; a spelling that differs
only in case maps when it names one class), or, where the set says so, to the class of its number; anything
else is not a class, and the clip is a counted skip naming the file and line.
"""

import re

INTEGER = re.compile(r"[+-]?\d+")

# The official class lists (the datasets' own; the model's config holds none).
# DFEW's class order (labels 1..7 in its CSVs, minus one); FERV39k and the synthetic set use the same names and order.
DFEW_LABELS = ("Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear")
# MAFW's native order (its label 1..11).
MAFW_LABELS = (
    "anger",
    "disgust",
    "fear",
    "happiness",
    "neutral",
    "sadness",
    "surprise",
    "contempt",
    "anxiety",
    "helplessness",
    "disappointment",
)


class LabelError(ValueError):
    """A label that names no class of the set (the clip is skipped). `blank`: the label is empty."""

    def __init__(self, message: str, blank: bool = False):
        super().__init__(message)
        self.blank = blank


def is_integer(text: str) -> bool:
    return INTEGER.fullmatch(text) is not None


def natural_key(name: str) -> tuple:
    """Sort key: numbers inside names as numbers ("clip2" before "clip10"), then ignoring case, then as spelled."""
    parts = re.split(r"(\d+)", name.casefold())
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts), name


def check_case(labelled: list[tuple[str, str]]) -> None:
    """Raise `ValueError` when two labels of `[(label, source)]` differ only in case: one class written two ways
    (or two classes a reader could not tell apart)."""
    first: dict[str, tuple[str, str]] = {}
    for label, source in labelled:
        seen = first.setdefault(label.casefold(), (label, source))
        if seen[0] != label:
            raise ValueError(
                f"labels {seen[0]!r} ({seen[1]}) and {label!r} ({source}) differ only in case: "
                "write each class one way"
            )


class ClassSet:
    """Class names in class order, and how labels are written.

    Args:
        names: the classes, in class order (the model's `id2label`).
        first_number: labels written as numbers `n` name class `n - first_number` (DFEW and MAFW: 1; ids: 0);
            `None`: numbers are names only. A set whose names are all numbers maps numbers by value.
        origin: where the set was declared, for messages ("DFEW's official list", "--classes", "train.csv").
    """

    def __init__(self, names, first_number: int | None = 0, origin: str = ""):
        self.names = tuple(names)
        self.origin = origin
        if not self.names:
            raise ValueError(f"{origin or 'the class set'} declares no class: expected at least one name")
        for name in self.names:
            if not name.strip():
                raise ValueError(f"{origin} has a blank class: expected a name for every class")
        repeated = sorted({name for name in self.names if self.names.count(name) > 1})
        if repeated:
            raise ValueError(f"{origin} lists {repeated[0]!r} twice: expected each class once")
        folded = {}
        for name in self.names:
            other = folded.setdefault(name.casefold(), name)
            if other != name:
                raise ValueError(
                    f"{origin} lists {other!r} and {name!r}, which differ only in case: expected each class once"
                )
        self.numbered = all(is_integer(name) for name in self.names)
        # Numbers as ids only where no name is a number; otherwise "1" would be both a name and an id.
        self.first_number = None if any(is_integer(name) for name in self.names) else first_number
        self._exact = {name: i for i, name in enumerate(self.names)}
        self._folded = {name.casefold(): i for i, name in enumerate(self.names)}
        self._by_value = {int(name): i for i, name in enumerate(self.names)} if self.numbered else {}

    @classmethod
    def declared(cls, classes, origin: str = "--classes") -> "ClassSet":
        """`--classes`: a comma-separated string or a sequence of names, in class order; numbers are 0-based ids."""
        names = classes.split(",") if isinstance(classes, str) else list(classes)
        return cls([str(name).strip() for name in names], first_number=0, origin=origin)

    @classmethod
    def from_labels(cls, labelled: list[tuple[str, str]], origin: str) -> "ClassSet":
        """The classes a train split declares by its labels `[(label, source)]`; blank labels declare none.

        When every label is a number, the classes are numbered: the numbers from the smallest non-negative one
        up to the first number no label has, so one typo (99) or an "unlabelled" -1 is a skip, not a class;
        labels past a gap are skips too (declare them with --classes). Otherwise the names are the classes,
        sorted (ignoring case, numbers in them as numbers), and numbers are 0-based ids into them.
        """
        labels = [(str(label).strip(), source) for label, source in labelled if str(label).strip()]
        check_case(labels)
        distinct = {label for label, _ in labels}
        if not distinct or all(is_integer(label) and int(label) < 0 for label in distinct):
            raise ValueError(
                f"{origin} declare no class: {len(labelled)} listed clips, no label that is a name or a "
                "number >= 0; list labelled clips in the train split, or declare the classes with --classes"
            )
        if distinct and all(is_integer(label) for label in distinct):
            values = {int(label) for label in distinct}
            start = min((value for value in values if value >= 0), default=None)
            run = []
            while start is not None and start + len(run) in values:
                run.append(start + len(run))
            return cls([str(value) for value in run], origin=origin)
        names = sorted((label for label in distinct if not is_integer(label)), key=natural_key)
        return cls(names, first_number=0, origin=origin)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    def expected(self) -> str:
        """What a label may be, for messages: the names (at most 12), and the numbers where they are ids."""
        shown = ", ".join(self.names[:12]) + (f", ... ({len(self.names)} classes)" if len(self.names) > 12 else "")
        if self.first_number is not None:
            shown += f" (or a number {self.first_number}..{self.first_number + len(self.names) - 1})"
        return f"one of {shown}" + (f", from {self.origin}" if self.origin else "")

    def index(self, label, source: str = "") -> int:
        """The class index of a label as written at `source` ("file:line"); `LabelError` if it names no class."""
        text = str(label).strip()
        at = f" at {source}" if source else ""
        if not text:
            raise LabelError(f"blank label{at} is not a class: expected {self.expected()}", blank=True)
        if text in self._exact:
            return self._exact[text]
        if text.casefold() in self._folded:
            return self._folded[text.casefold()]
        if is_integer(text):
            if self.numbered and int(text) in self._by_value:
                return self._by_value[int(text)]
            if self.first_number is not None and 0 <= int(text) - self.first_number < len(self.names):
                return int(text) - self.first_number
        raise LabelError(f"label {text!r}{at} is not a class: expected {self.expected()}")
