"""
The knowledge base: entries (YAML, one problem variant per file), the guidance they
were built from, code tables for SMTP reply codes, enhanced status codes and Outlook hex
codes, and the code that loads and searches them.

``KNOWLEDGE_ROOT`` is this folder, found the same way from a checkout and an installed
wheel.
"""

from pathlib import Path

# The package folder is the knowledge root: the wheel ships it whole, so an installed
# bot finds its entries from any working directory.
KNOWLEDGE_ROOT = Path(__file__).resolve().parent
