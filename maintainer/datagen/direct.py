"""Training examples answered directly, without a tool: Python questions about builtins, standard
library modules and concepts, each with a one-sentence answer."""

from __future__ import annotations

from typing import Any

Example = dict[str, Any]

DIRECT = [
    (
        "What does the yield keyword do in Python?",
        "yield turns a function into a generator: each yield hands a value "
        "to the caller and pauses the function until the next value is requested.",
    ),
    (
        "Explain the difference between a list and a tuple.",
        "A list is mutable and a tuple is immutable; tuples can be dictionary keys, lists cannot.",
    ),
    (
        "What is a context manager?",
        "An object with __enter__ and __exit__, used with the with statement to set up and tear down a resource.",
    ),
    (
        "When should I use a dataclass?",
        "Use a dataclass for a class that mainly holds data: it writes __init__, __repr__ and __eq__ for you.",
    ),
    (
        "What does the walrus operator do?",
        "The := operator assigns a value inside an expression, for example in a while condition.",
    ),
    ("How do I reverse a string in Python?", "Use slicing: text[::-1] returns the string reversed."),
    ("What is the GIL?", "The global interpreter lock lets only one thread run Python bytecode at a time in CPython."),
    ("Thanks, that is all for now.", "You are welcome. Ask again any time."),
    (
        "What is a decorator?",
        "A decorator is a function that takes a function and returns a new one, applied with the @name syntax.",
    ),
    ("Why use type hints?", "Type hints document intent and let a type checker find mistakes before the code runs."),
    ("What does __slots__ do?", "__slots__ fixes the attributes of a class, saving memory and preventing new ones."),
    (
        "How are f-strings different from t-strings?",
        "An f-string is evaluated to a str at once; a t-string builds a "
        "Template whose parts can be escaped before rendering.",
    ),
]


BUILTINS = {
    "len": "returns the number of items in a container",
    "zip": "pairs up items from several iterables, stopping at the shortest",
    "enumerate": "yields (index, item) pairs from an iterable",
    "sorted": "returns a new sorted list from any iterable",
    "isinstance": "checks whether an object is an instance of a class or a tuple of classes",
    "getattr": "reads an attribute by name, with an optional default",
    "any": "is True when at least one item of an iterable is true",
    "all": "is True when every item of an iterable is true",
    "range": "produces an immutable sequence of integers",
    "map": "applies a function to every item of an iterable lazily",
    "repr": "returns the developer-facing string of an object",
    "sum": "adds up the numbers of an iterable",
    "min": "returns the smallest item",
    "max": "returns the largest item",
    "reversed": "iterates over a sequence backwards",
    "hasattr": "tells whether an object has an attribute",
    "round": "rounds a number to a given precision",
    "abs": "returns the absolute value of a number",
    "filter": "keeps the items for which a function is true",
    "tuple": "builds an immutable sequence",
}
MODULES = {
    "pathlib": "object-oriented filesystem paths",
    "itertools": "fast building blocks for iterators",
    "functools": "higher-order functions such as lru_cache and partial",
    "collections": "container types such as deque, Counter and defaultdict",
    "dataclasses": "generating __init__ and friends for data classes",
    "typing": "type hint support",
    "logging": "configurable log output",
    "json": "encoding and decoding JSON",
    "re": "regular expressions",
    "subprocess": "running other programs",
    "argparse": "command-line parsing",
    "datetime": "dates, times and durations",
    "contextlib": "helpers for context managers",
    "enum": "enumerations",
    "heapq": "heap queues",
    "bisect": "binary search in sorted lists",
    "shutil": "high-level file operations",
    "tempfile": "temporary files and folders",
    "unittest": "the standard unit testing framework",
    "asyncio": "asynchronous I/O with async and await",
}
CONCEPTS = {
    "a generator": "a function that yields values lazily, one at a time",
    "a closure": "a function that keeps the variables of the scope it was defined in",
    "duck typing": "using an object by what it can do rather than by its class",
    "a list comprehension": "a compact expression that builds a list from an iterable",
    "a virtual environment": "an isolated folder of installed packages for one project",
    "the MRO": "the order in which Python searches base classes for an attribute",
    "a metaclass": "the class of a class, which controls how classes are created",
    "monkeypatching": "replacing an attribute at run time, mostly in tests",
    "a coroutine": "a function defined with async def that can pause at await",
    "a descriptor": "an object with __get__ that customises attribute access",
    "a frozen dataclass": "a dataclass whose instances cannot be changed after creation",
    "an abstract base class": "a class that declares methods subclasses must implement",
    "a Protocol": "a structural type: any object with the right methods matches",
    "a lambda": "a small anonymous function written as one expression",
    "unpacking": "assigning the items of an iterable to several names at once",
}
CONCEPT_FRAMES = ["What is {c} in Python?", "Explain {c} briefly.", "Could you describe {c}?"]
MODULE_FRAMES = [
    "What is the {m} module used for?",
    "Tell me in one sentence what {m} in the standard library does.",
    "Why would I import {m}?",
    "Describe the purpose of Python's {m} module.",
]
DIRECT_FRAMES = [
    "What does the {b}() builtin do?",
    "Briefly, what is {b}() for in Python?",
    "Can you remind me what Python's {b} function does?",
    "In plain words, explain {b}().",
]


def direct_pool() -> list[tuple[str, str]]:
    """Every (question, answer) a direct example may take: the fixed ones and the framed ones."""
    pool = list(DIRECT)
    for b, what in BUILTINS.items():
        for frame in DIRECT_FRAMES:
            pool.append((frame.format(b=b), f"{b}() {what}."))
    for m, what in MODULES.items():
        for frame in MODULE_FRAMES:
            pool.append((frame.format(m=m), f"The {m} module provides {what}."))
    for c, what in CONCEPTS.items():
        for frame in CONCEPT_FRAMES:
            pool.append((frame.format(c=c), f"{c[0].upper()}{c[1:]} is {what}."))
    return pool


def direct_example(system: str, q: str, a: str) -> Example:
    """One example answered without a tool."""
    return {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": q},
            {"role": "assistant", "content": a},
        ]
    }
