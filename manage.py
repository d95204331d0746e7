#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    # Unless named: development when DEBUG is true, else production (visualsearch/settings/__init__.py).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "visualsearch.settings")
    if sys.argv[1:2] in (["demo"], ["screenshot"]):
        # The demo (and the README's screenshot of it) is a development server on this machine:
        # DEBUG on unless the user says otherwise.
        os.environ.setdefault("DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
