"""devicebulk notifier: one email per completed bulk change (DESIGN.md §2, §5)."""
