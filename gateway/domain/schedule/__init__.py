"""Time-driven work: meeting dates, the working-day calendar, reminders and notifications."""
