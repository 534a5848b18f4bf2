"""The vocabulary the tiny model's training examples are filled from: paths, symbols, commands,
texts (none of them an eval suite's), and one random draw of them per example."""

from __future__ import annotations

import random
from typing import Any

Fill = dict[str, Any]

DIRS = ["lib/", "app/", "pkg/core/", "services/", "api/", "tools/", "backend/", "worker/"]
FILES = [
    f"{d}{m}.py"
    for d in [
        "lib/billing/",
        "app/models/",
        "pkg/core/",
        "services/",
        "api/handlers/",
        "tools/cli/",
        "backend/db/",
        "worker/queue/",
    ]
    for m in ["invoice", "user", "cache", "mailer", "orders", "main", "session", "jobs", "signup", "strings"]
]
VIEWS = [
    "app/views/profile.py",
    "app/views/cart.py",
    "web/views/landing.py",
    "web/views/settings.py",
    "ui/pages/login.py",
]
SERVICES = [
    "app/services/payment_service.py",
    "app/services/audit_service.py",
    "core/services/search_service.py",
    "core/services/email_service.py",
]
MIDDLEWARE = ["app/middleware/rate_limit.py", "app/middleware/auth_guard.py", "core/middleware/request_log.py"]
ROUTES = ["app/routes/admin.py", "web/routes/public.py", "core/routes/v2.py"]
SYMBOLS = [
    "OrderQueue",
    "InvoiceBuilder",
    "SessionStore",
    "UserProfile",
    "CacheEntry",
    "RetryPolicy",
    "MailTemplate",
    "JobRunner",
    "PriceTable",
    "TokenBucket",
    "EventBus",
    "RateLimiter",
    "ReportWriter",
    "CartItem",
    "AuthToken",
    "FeatureFlag",
    "ShipmentTracker",
    "AuditTrail",
    "TaskGraph",
    "BlobStore",
]
TEST_DIRS = ["tests/unit/", "tests/api/", "tests/", "test/integration/"]
COMMANDS = [
    ("find", ["lib/", "-name", "*.py"]),
    ("wc", ["-l", "setup.cfg"]),
    ("du", ["-sh", "app/"]),
    ("cat", ["requirements.txt"]),
]
IMPORTS = [
    "import json",
    "from pathlib import Path",
    "from typing import Any",
    "import logging",
    "from dataclasses import dataclass",
]
TEXTS = ["build finished", "release 2.1 ready", "migration done", "draft notes"]


def fill(rng: random.Random) -> Fill:
    """One example's names: a file, a symbol, a command, ... drawn from the vocabulary."""
    cmd, args = rng.choice(COMMANDS)
    old, new = rng.sample(SYMBOLS, 2)
    return {
        "dir": rng.choice(DIRS),
        "file": rng.choice(FILES),
        "view": rng.choice(VIEWS),
        "svc": rng.choice(SERVICES),
        "mw": rng.choice(MIDDLEWARE),
        "route": rng.choice(ROUTES),
        "sym": rng.choice(SYMBOLS),
        "old": old,
        "new": new,
        "tests": rng.choice(TEST_DIRS),
        "cmd": cmd,
        "args": args,
        "imp": rng.choice(IMPORTS),
        "text": rng.choice(TEXTS),
        "n": rng.choice([3, 4, 7, 10]),
        "line": rng.randint(5, 120),
        "k": rng.randint(0, 4),
    }
