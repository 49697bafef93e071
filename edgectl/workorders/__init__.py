"""Work orders kept on site: lifecycle, deadlines and escalation, fault orders, reports."""
