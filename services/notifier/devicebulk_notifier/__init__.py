"""devicebulk notifier: one email per completed bulk change."""
