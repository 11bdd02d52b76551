"""Background jobs of the deals module: milestone reminders, the daily digest, the weekly report."""
