"""Fingerprints of what a notebook's code has of its own, beyond the base code.

1. **Names.** A student who types the lesson's code with their own names (`X_train` for
   `train_data_1d`) has not written other code. Each variable is translated to the lesson's
   name it stands for, found by lining the student's statements up with the base's (the
   statements that agree once every variable is a blank say which name is which); a variable
   the base has no counterpart for becomes a blank. A renamed copy translates to the same
   statements as its original, and using `train_data` where the lesson has `test_data` stays
   visible.
2. **Novelty.** Each translated statement is compared with the nearest base statement: the
   tokens they share are the base's, the others are the student's own. A token weighs 1; an
   unusual literal or a misspelling put in place of the lesson's (a value nobody would pick twice
   by chance: `748` for `784`, `'categorical_crossentrophy'`), another Keras setting than the
   lesson's and its usual variants (`activation='softmax'` on the hidden layer), a lesson
   variable in another's place, and a function or attribute the lesson never uses weigh more.
   The lesson as printed, its usual variants and usual mistakes are all in the base
   (commonplace.py), so typing any of them weighs nothing.
3. **Fingerprints.** Each statement's tokens are cut into k-grams (k = K, the statement's ends
   padded, as MOSS does within a document); a k-gram weighs the weight of its tokens over k, so a
   statement's k-grams weigh what its own tokens weigh, and a statement changed in part still
   shares the k-grams of the rest. K-grams that weigh nothing (base code) are dropped; a notebook
   keeps at most MAX_GRAMS of them, chosen by hash (the same choice in every notebook).

Renamed variables, reordered or merged cells, comments and formatting change none of this.
"""
from __future__ import annotations

import functools
import hashlib
import keyword
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from .normalise import VARIABLE, Statement

K = 5
MAX_GRAMS = 4000
#: Extra weight of an unusual literal or a misspelling, of a lesson variable where the lesson has
#: another, of another Keras setting than the lesson's (and than its usual variants), and of a name
#: the lesson never uses.
UNUSUAL_LITERAL = 10.0
SWAPPED_VARIABLE = 2.0
SWAPPED_SETTING = 4.0
NEW_NAME = 1.0
#: Weights of a token the nearest base statement lacks: punctuation and operators; a keyword, a
#: variable, or a name or value the base uses elsewhere; anything else weighs 1 (+ NEW_NAME for a name).
PUNCTUATION, KNOWN_TOKEN = 0.25, 0.5
#: Most weight one statement can carry, so that one enormous line does not decide a pair.
MAX_STATEMENT_WEIGHT = 30.0
BLANK = VARIABLE  # a variable with no counterpart in the base
CANDIDATES = 5  # nearest base statements compared token by token
IDENTITY_VOTE, ALIKE_VOTE, CLEAR_VOTE, NEAR_VOTE = 0.5, 0.3, 0.15, 0.5
MIN_ANCHORS = 1  # names and values (not variables) a statement needs to vote for its variables
MIN_NEAR_SHARE = 0.75  # of a statement's shape that must agree with a base statement's to vote by it
MAX_NEAR_VOTES = 300  # statements of a notebook that vote by a nearby base statement: enough to decide

#: Keyword arguments whose string values are Keras' vocabulary: a value outside it is unusual.
CONFIG_KEYWORDS = frozenset({"loss", "optimizer", "activation", "metrics", "kernel_initializer",
                             "bias_initializer", "padding", "data_format", "monitor"})
KERAS_WORDS = frozenset("""
relu softmax sigmoid tanh linear elu selu softplus softsign swish gelu exponential leaky_relu relu6 silu
hard_sigmoid log_softmax mish
adam sgd rmsprop adagrad adadelta adamax nadam ftrl adamw lion
categorical_crossentropy sparse_categorical_crossentropy binary_crossentropy mse mae mape msle
mean_squared_error mean_absolute_error kl_divergence kullback_leibler_divergence hinge squared_hinge
categorical_hinge poisson cosine_similarity huber log_cosh logcosh
accuracy acc categorical_accuracy binary_accuracy sparse_categorical_accuracy top_k_categorical_accuracy
auc precision recall crossentropy
glorot_uniform glorot_normal he_normal he_uniform lecun_normal lecun_uniform zeros ones random_normal
random_uniform orthogonal truncated_normal same valid causal channels_last channels_first
val_loss val_accuracy loss
""".split())


#: Numbers besides the round ones that people often pick: seeds, sizes, thirds.
COMMON_NUMBERS = frozenset({15, 17, 21, 25, 28, 42, 69, 75, 99, 101, 123, 255, 314, 404, 420, 666, 777, 784, 888,
                            999, 1234, 1337, 1729, 2718, 3141, 4242, 12345, 31415, 123456, 1234567}
                           | set(range(1990, 2031)))
COMMON_FRACTIONS = (1 / 3, 2 / 3, 0.33, 0.333, 0.66, 0.67, 0.667, 0.125, 0.375, 0.875, 0.999, 0.9999)


def _ordinary_number(text: str) -> bool:
    """Numbers people pick: small ones, round ones, powers of two, the lesson's sizes and the
    usual rates. Anything else in a shared mistake is unlikely to be chosen twice by chance."""
    try:
        value = float(text)
    except ValueError:
        return True  # not a plain number (a complex or an odd literal): not judged
    value = abs(value)
    if value.is_integer():
        number = int(value)
        return (number <= 13 or number % 10 == 0 or number & (number - 1) == 0 or number in COMMON_NUMBERS)
    if any(abs(value - common) < 1e-9 for common in COMMON_FRACTIONS):
        return True
    hundredths = value * 100
    if abs(hundredths - round(hundredths)) < 1e-9 and round(hundredths) % 5 == 0:
        return True  # 0.05, 0.2, 0.25, 1.5 ...
    for exponent in range(1, 9):  # 0.01, 1e-3, 5e-4, 3e-4 ...
        scaled = value * 10 ** exponent
        if abs(scaled - round(scaled)) < 1e-9 and round(scaled) in (1, 2, 3, 5):
            return True
    return value == 255.0


def _setting(tokens: tuple[str, ...], position: int) -> bool:
    """Is this string the value of a Keras setting (`loss='...'`, inside `metrics=[...]`)?"""
    before = tokens[max(0, position - 4):position]
    return tokens[position][:1] in "'\"" and any(t in CONFIG_KEYWORDS for t in before) and "=" in before


def _typo(was: str, token: str) -> bool:
    """A string a letter or two from the lesson's: `'categorical_crossentrophy'`, `'fashon.npz'`,
    `'train_dat'` (not one that adds to it, such as a folder before the file name)."""
    if was[:1] not in "'\"" or token[:1] not in "'\"":
        return False
    lesson, written = was[1:-1].lower(), token[1:-1].lower()
    if min(len(lesson), len(written)) < 4 or written in KERAS_WORDS or lesson in written:
        return False
    return abs(len(lesson) - len(written)) <= 2 and SequenceMatcher(None, lesson, written).ratio() >= 0.8


def _unusual_literal(tokens: tuple[str, ...], position: int) -> bool:
    token = tokens[position]
    if token[:1].isdigit():
        return not _ordinary_number(token)
    if token[:1] in "'\"" and len(token) > 2:
        word = token[1:-1]
        if not word.replace("_", "").isalnum() or word.lower() in KERAS_WORDS:
            return False
        return _setting(tokens, position)  # a value Keras does not know, for one of its settings
    return False


@dataclass
class Base:
    """The base code, indexed: exact statements, statements by their shape (variables blank),
    and by token pairs to find the nearest one."""

    statements: list[tuple[str, ...]] = field(default_factory=list)
    #: How much a statement's variables say what a student's are: the exercise's own code most,
    #: the lesson's usual variants and mistakes least (they overlap: fit on train or on test).
    priority: list[float] = field(default_factory=list)
    exact: set[tuple[str, ...]] = field(default_factory=set)
    by_shape: dict[tuple[str, ...], list[int]] = field(default_factory=lambda: defaultdict(list))
    by_pair: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    shapes: list[tuple[str, ...]] = field(default_factory=list)
    by_shape_pair: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    near_shapes: dict[tuple[str, ...], int | None] = field(default_factory=dict)  # remembered
    variables: set[str] = field(default_factory=set)  # the base's own variable names, marked
    vocabulary: set[str] = field(default_factory=set)  # every other token the base has: Keras' names, values

    def add(self, tokens: tuple[str, ...], priority: float = 1.0) -> None:
        if tokens in self.exact:
            return
        index = len(self.statements)
        self.statements.append(tokens)
        self.priority.append(priority)
        self.exact.add(tokens)
        form = shape(tokens)
        self.shapes.append(form)
        if form not in self.by_shape:
            for pair in set(zip(form, form[1:])):
                self.by_shape_pair[pair].append(index)
        self.by_shape[form].append(index)
        for pair in set(zip(tokens, tokens[1:])):
            self.by_pair[pair].append(index)
        self.variables.update(t for t in tokens if t.startswith(VARIABLE))
        self.vocabulary.update(t for t in tokens if not t.startswith(VARIABLE))

    def nearest_shape(self, form: tuple[str, ...]) -> int | None:
        """The base statement whose shape agrees most with this one's (most of it, or None)."""
        if form in self.near_shapes:
            return self.near_shapes[form]
        tally: Counter = Counter()
        for pair in set(zip(form, form[1:])):
            for index in self.by_shape_pair.get(pair, ()):
                tally[index] += 1
        best, best_matched = None, 0
        for index in _most_shared(tally):
            matcher = SequenceMatcher(None, self.shapes[index], form, autojunk=False)
            matched = sum(block.size for block in matcher.get_matching_blocks())
            if matched > best_matched:
                best, best_matched = index, matched
        found = best if best is not None and best_matched >= MIN_NEAR_SHARE * len(form) else None
        if len(self.near_shapes) < 100_000:
            self.near_shapes[form] = found
        return found

    @property
    def names(self) -> set[str]:
        """The base's variables as plain names."""
        return {name[len(VARIABLE):] for name in self.variables}


def _most_shared(tally: Counter) -> list[int]:
    """The CANDIDATES base statements sharing most token pairs, ties by their order in the base:
    the same whatever order the pairs were counted in (Python's string hashes vary by run)."""
    return [index for index, _ in sorted(tally.items(), key=lambda item: (-item[1], item[0]))[:CANDIDATES]]


def shape(tokens: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(BLANK if t.startswith(VARIABLE) else t for t in tokens)


def translation(statements: list[Statement], base: Base) -> dict[str, str]:
    """Each of the student's variables (marked) -> the base variable it stands for, or BLANK.

    Each statement with something to go by (MIN_ANCHORS names or values besides its variables)
    votes, position by position, for which base variable each of its variables is: fully where
    its shape (variables blank) is a base statement's, by halves where it is only near one. The
    lesson's own statements outvote its variants and mistakes (Base.priority). A name the base
    also uses votes a little for itself, and names alike (`X_train`, `train_data_1d`) a little
    for each other. A name whose votes do not clearly choose stays itself if it is one of the
    choices (`test_acc`, which the lesson's variants also use), else is a blank (a helper's
    argument that could be either array)."""
    votes: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    near_votes = MAX_NEAR_VOTES
    for statement in statements:
        if not any(t.startswith(VARIABLE) for t in statement.tokens):
            continue
        form = shape(statement.tokens)
        anchors = sum(1 for t in form if t != BLANK and (_name(t) or _literal(t)))
        if anchors < MIN_ANCHORS:
            continue  # `def f(a, b):`, `g(x)`: nothing around the names says which they are
        matches = base.by_shape.get(form)
        if matches:
            total = sum(base.priority[index] for index in matches)
            for index in matches:
                share = base.priority[index] / total
                for mine, theirs in zip(statement.tokens, base.statements[index]):
                    if mine.startswith(VARIABLE):
                        votes[mine][theirs] += share
            continue
        near_votes -= 1
        near = base.nearest_shape(form) if near_votes >= 0 else None
        if near is None:
            continue
        theirs_all = base.statements[near]
        matcher = SequenceMatcher(None, base.shapes[near], form, autojunk=False)
        for block in matcher.get_matching_blocks():
            for offset in range(block.size):
                mine, theirs = statement.tokens[block.b + offset], theirs_all[block.a + offset]
                if mine.startswith(VARIABLE) and theirs.startswith(VARIABLE):
                    votes[mine][theirs] += NEAR_VOTE * base.priority[near]
    names = {t for s in statements for t in s.tokens if t.startswith(VARIABLE)}
    mapping = {}
    for name in names:
        tally = votes.get(name, defaultdict(float))
        if name in base.variables:
            tally[name] += IDENTITY_VOTE
        if not tally:
            mapping[name] = BLANK
            continue
        for candidate in list(tally):
            tally[candidate] += ALIKE_VOTE * _alike(name, candidate)
        ranked = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
        near_top = [candidate for candidate, count in ranked if ranked[0][1] - count < CLEAR_VOTE]
        if len(near_top) == 1:
            mapping[name] = near_top[0]
        else:  # undecided: a lesson name that is itself a choice stays itself, anything else is a blank
            mapping[name] = name if name in near_top else BLANK
    return mapping


@functools.lru_cache(maxsize=65536)
def _alike(name: str, other: str) -> float:
    return SequenceMatcher(None, name.lower(), other.lower()).ratio()


def translated(tokens: tuple[str, ...], mapping: dict[str, str]) -> tuple[str, ...]:
    return tuple(mapping.get(t, BLANK) if t.startswith(VARIABLE) else t for t in tokens)


class Novelty:
    """Weights of a translated statement's tokens: 0 where the nearest base statement has them.
    Remembered by statement: a class repeats its statements."""

    def __init__(self, base: Base):
        self.base = base
        self.known: dict[tuple[str, ...], tuple[float, ...]] = {}

    def __call__(self, tokens: tuple[str, ...]) -> tuple[float, ...]:
        found = self.known.get(tokens)
        if found is None:
            found = self.known[tokens] = self._weigh(tokens)
        return found

    def nearest(self, tokens: tuple[str, ...]) -> tuple[str, ...] | None:
        """The base statement sharing most token pairs with these tokens' (None: nothing alike)."""
        tally: Counter = Counter()
        for pair in set(zip(tokens, tokens[1:])):
            for index in self.base.by_pair.get(pair, ()):
                tally[index] += 1
        best, best_matched = None, 0
        for index in _most_shared(tally):
            candidate = self.base.statements[index]
            matcher = SequenceMatcher(None, candidate, tokens, autojunk=False)
            matched = sum(block.size for block in matcher.get_matching_blocks())
            if matched > best_matched or (matched == best_matched and best is not None
                                          and len(candidate) < len(best)):
                best, best_matched = candidate, matched
        return best

    def _weigh(self, tokens: tuple[str, ...]) -> tuple[float, ...]:
        if tokens in self.base.exact or tokens[:1] in (("import",), ("from",)):
            return (0.0,) * len(tokens)  # importing is never one's own code
        weights = [self._own(token) for token in tokens]
        near = self.nearest(tokens)
        if near is not None:
            matcher = SequenceMatcher(None, near, tokens, autojunk=False)
            for tag, i1, i2, j1, j2 in matcher.get_opcodes():
                if tag == "equal":
                    weights[j1:j2] = [0.0] * (j2 - j1)
                elif tag == "replace" and i2 - i1 == j2 - j1:
                    for was, position in zip(range(i1, i2), range(j1, j2)):
                        weights[position] += self._changed(near[was], tokens, position)
        total = sum(weights)
        if total > MAX_STATEMENT_WEIGHT:
            weights = [w * MAX_STATEMENT_WEIGHT / total for w in weights]
        return tuple(weights)

    def _own(self, token: str) -> float:
        """What a token says when the nearest base statement does not have it there: little for
        punctuation, Python's keywords, the student's variables and whatever the base uses
        elsewhere (a student who writes the lesson's words in another order); more for a value or
        a name the base never uses, most for a function or attribute it never calls."""
        if token.startswith(VARIABLE) or keyword.iskeyword(token):
            return KNOWN_TOKEN
        if not (_name(token) or _literal(token) or token == "MAGIC"):
            return PUNCTUATION
        if token in self.base.vocabulary:
            return KNOWN_TOKEN
        return 1.0 + NEW_NAME if _name(token) else 1.0

    def _changed(self, was: str, tokens: tuple[str, ...], position: int) -> float:
        """Extra weight of a token put where the nearest base statement has another: an unusual
        value or a misspelling in place of the lesson's (`748` for `784`, `'fashon.npz'`), another
        setting than the lesson's (the usual other ones are base), or one lesson variable for
        another as an argument (`test_data.reshape((train_data.shape[0], -1))`)."""
        token = tokens[position]
        if _literal(was) and _literal(token):
            if _unusual_literal(tokens, position) or _typo(was, token):
                return UNUSUAL_LITERAL
            if _setting(tokens, position):
                return SWAPPED_SETTING  # Keras' word, in another place than the lesson's: `activation='softmax'`
        if was.startswith(VARIABLE) and token.startswith(VARIABLE) and BLANK not in (was, token) \
                and _inside_brackets(tokens, position):
            return SWAPPED_VARIABLE  # an argument: the statement binds nothing there
        return 0.0


def _inside_brackets(tokens: tuple[str, ...], position: int) -> bool:
    depth = 0
    for token in tokens[:position]:
        depth += token in ("(", "[", "{")
        depth -= token in (")", "]", "}")
    return depth > 0


def _literal(token: str) -> bool:
    return token[:1].isdigit() or _STRING.match(token) is not None


_STRING = re.compile(r"[rRbBuUfF]{0,2}['\"]")


def _name(token: str) -> bool:
    """A name in code (not a string with a prefix, a number or an operator)."""
    return token.isidentifier() and not keyword.iskeyword(token)


START, END = "\x02", "\x03"


def grams_of(tokens: tuple[str, ...]) -> list[tuple[str, ...]]:
    padded = (START,) * (K - 1) + tokens + (END,) * (K - 1)
    return [padded[i:i + K] for i in range(len(padded) - K + 1)]


def gram_hash(gram: tuple[str, ...]) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(gram).encode("utf-8", "surrogatepass"),
                                          digest_size=8).digest(), "big")


@dataclass
class CodePrint:
    """A notebook's code fingerprints: k-gram hash -> weight, and where each came from."""

    grams: dict[int, float] = field(default_factory=dict)
    places: dict[int, list[int]] = field(default_factory=dict)  # hash -> indices into `statements`
    statements: list[Statement] = field(default_factory=list)  # translated tokens
    weights: list[tuple[float, ...]] = field(default_factory=list)
    own_names: set[str] = field(default_factory=set)  # the student's variables with no base counterpart
    sampled: int = 1  # 1 in `sampled` fingerprints kept (MAX_GRAMS)


def translate(statements: list[Statement], base: Base) -> tuple[list[Statement], set[str]]:
    """The statements with the student's variables translated to the base's (`translation`),
    less those the base has as they are and imports (never one's own code); and the names of
    the student's variables that have no counterpart in the base."""
    mapping = translation(statements, base)
    kept = []
    for statement in statements:
        tokens = translated(statement.tokens, mapping)
        if tokens not in base.exact and tokens[:1] not in (("import",), ("from",)):
            kept.append(Statement(tokens, statement.cell, statement.first, statement.last))
    return kept, {name[len(VARIABLE):] for name, to in mapping.items() if to == BLANK}


def hashes(tokens: tuple[str, ...]) -> list[int]:
    return [gram_hash(gram) for gram in grams_of(tokens)]


def code_print(statements: list[Statement], novelty: Novelty, shared: Callable[[int], bool] = lambda _: True,
               own_names: set[str] | None = None) -> CodePrint:
    """The weighted fingerprints of translated statements. Only statements with a k-gram that
    `shared` says another notebook also has are weighed: the others cannot be shared, and
    weighing (finding the nearest base statement) is the comparison's dearest step."""
    result = CodePrint(own_names=own_names or set())
    weighed: list[tuple[int, list[tuple[int, float]]]] = []
    for statement in statements:
        values = hashes(statement.tokens)
        if not any(shared(value) for value in values):
            continue
        weights = novelty(statement.tokens)
        if not any(weights):
            continue
        index = len(result.statements)
        result.statements.append(statement)
        result.weights.append(weights)
        padded = (0.0,) * (K - 1) + weights + (0.0,) * (K - 1)
        grams = []
        for offset, value in enumerate(values):
            weight = sum(padded[offset:offset + K]) / K
            if weight > 0:
                grams.append((value, weight))
        weighed.append((index, grams))
    total = sum(len(grams) for _, grams in weighed)
    while total // result.sampled > MAX_GRAMS:
        result.sampled *= 2
    for index, grams in weighed:
        for value, weight in grams:
            if value % result.sampled:
                continue
            result.grams[value] = max(result.grams.get(value, 0.0), weight * result.sampled)
            result.places.setdefault(value, []).append(index)
    return result
