"""
Entry point for ``python -m bot``.
"""

from bot.launch import main

main()
