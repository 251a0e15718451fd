"""The built-in commands, gathered for :func:`fgav.builtin.fgav_commands`."""

from __future__ import annotations

from fgav.cli.audit import audit
from fgav.cli.data import data
from fgav.cli.harden import harden
from fgav.cli.models import models
from fgav.cli.plugins import plugins
from fgav.cli.report import report
from fgav.cli.reproduce import reproduce
from fgav.cli.sfa import sfa
from fgav.cli.transfer import transfer
from fgav.cli.train import evaluate, train

BUILTIN_COMMANDS = [plugins, data, train, evaluate, sfa, audit, transfer, harden, reproduce, report, models]
