"""``python -m authserver.settings --markdown``: print the README's settings table."""

import sys

from authserver.settings import markdown_table

if sys.argv[1:] != ["--markdown"]:
    sys.exit("usage: python -m authserver.settings --markdown")
sys.stdout.write(markdown_table())
